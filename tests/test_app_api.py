"""The API through gradio_client: one endpoint per method, named and defaulted like the package, streaming and
cancellable. The server runs in-process on tiny models (conftest): a random-weight VGG19 at 48 px for a few steps,
a tiny CycleGAN painter in a fake Hugging Face cache."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from nst.settings import Settings
from support.http import worker_threads
from support.pictures import pixels, texture

gradio_client = pytest.importorskip("gradio_client")
from gradio_client import handle_file  # noqa: E402

ENDPOINTS = {"/gatys", "/histogram", "/mmd", "/photorealistic", "/texture", "/cyclegan", "/video", "/stop"}


FAST = dict(size=48, steps=3, scales=1)


def differs(result_path: str, source_path: Path) -> float:
    """Mean absolute difference (0-255) between the result and the source resized to its size."""
    with Image.open(result_path) as out, Image.open(source_path) as src:
        ref = src.convert("RGB").resize(out.size, Image.Resampling.LANCZOS)
    return float(np.abs(pixels(result_path) - np.asarray(ref, dtype=np.float64)).mean())


def test_view_api_lists_one_endpoint_per_method_with_package_names_and_defaults(client, app_module):
    api = client.view_api(print_info=False, return_format="dict")
    named = api["named_endpoints"]
    assert set(named) == ENDPOINTS, "the page's own events stay private"
    assert not api["unnamed_endpoints"]
    gatys = {p["parameter_name"]: p for p in named["/gatys"]["parameters"]}
    assert list(gatys)[:2] == ["content", "style"]
    assert (
        not gatys["content"]["parameter_has_default"]
        and gatys["content"]["python_type"]["type"] == "filepath"
    )
    defaults, device = Settings(), app_module.CONFIG.defaults
    for name in ("content_weight", "style_weight", "tv_weight", "seed", "style_scale"):
        assert gatys[name]["parameter_default"] == getattr(defaults, name), name
    for name in ("size", "steps", "scales"):  # the page's starting values on this device, exactly
        assert (
            gatys[name]["parameter_default"]
            == getattr(device, name)
            == app_module.demo.config["components"][
                [c["props"].get("elem_id") for c in app_module.demo.config["components"]].index(name)
            ]["props"]["value"]
        )
    assert gatys["size"]["python_type"]["type"] == "int"
    assert gatys["style_weight"]["python_type"]["type"] == "float"
    assert gatys["backbone"]["python_type"]["type"] == "Literal['vgg16', 'vgg19']"
    assert gatys["style_layers"]["parameter_default"] == ",".join(defaults.style_layers)
    assert (
        gatys["learning_rate"]["parameter_has_default"]
        and gatys["learning_rate"]["parameter_default"] is None
    )
    cyclegan = {p["parameter_name"]: p for p in named["/cyclegan"]["parameters"]}
    assert list(cyclegan) == ["content", "painter", "strength", "brush_scale", "max_size"]
    assert cyclegan["painter"]["parameter_default"] == "monet"
    assert cyclegan["painter"]["python_type"]["type"] == "Literal['monet', 'vangogh']", (
        "painters with a source"
    )
    texture = [p["parameter_name"] for p in named["/texture"]["parameters"]]
    assert texture[:3] == ["style", "width", "height"] and "content_weight" not in texture
    video = {p["parameter_name"]: p for p in named["/video"]["parameters"]}
    assert list(video)[:3] == ["video", "method", "style"] and not video["video"]["parameter_has_default"]
    assert list(video)[-4:] == ["temporal_weight", "frame_steps", "max_frames", "flow"]
    assert "content" not in video and "content_segmentation" not in video
    assert (
        video["painter"]["parameter_default"] == "monet" and video["size"]["parameter_default"] == device.size
    )
    # a default the frame methods do not share is the chosen method's own: None here
    assert video["init"]["parameter_default"] is None and video["style_weight"]["parameter_default"] == 10


def test_gatys_returns_a_stylized_image_of_the_requested_size(client, vgg19_env, content_path, style_path):
    image, info = client.predict(
        handle_file(content_path), handle_file(style_path), **FAST, api_name="/gatys"
    )
    assert Image.open(image).size == (48, 38)  # 40x32 scaled so the longer side is 48
    assert differs(image, content_path) > 1.0
    assert info["done"] and info["steps"] == 3 and info["device"] == "cpu" and not info["stopped"]
    assert info["state"] == "done" and info["total_steps"] == 3
    assert set(info["losses"]) >= {"content", "style", "total"}
    assert info["faces"] == 0


def test_the_run_info_counts_the_faces_kept(client, vgg19_env, style_path):
    portrait = Path(__file__).resolve().parents[1] / "examples" / "content" / "astronaut.jpg"
    run = dict(size=128, steps=1, api_name="/gatys")
    _, info = client.predict(handle_file(portrait), handle_file(style_path), **run)
    assert info["faces"] == 1
    _, info = client.predict(handle_file(portrait), handle_file(style_path), keep_faces="off", **run)
    assert info["faces"] is None, "not looked for"


@pytest.mark.parametrize("method", ["histogram", "mmd", "photorealistic"])
def test_extension_methods_return_a_stylized_image(client, vgg19_env, content_path, style_path, method):
    image, info = client.predict(
        handle_file(content_path), handle_file(style_path), **FAST, api_name=f"/{method}"
    )
    assert Image.open(image).size == (48, 38)
    assert differs(image, content_path) > 1.0
    assert info["method"] == method and info["done"]


def test_texture_has_the_requested_width_and_height(client, vgg19_env, style_path):
    image, info = client.predict(handle_file(style_path), width=40, height=32, steps=3, api_name="/texture")
    assert Image.open(image).size == (40, 32)
    assert differs(image, style_path) > 1.0


def test_several_styles_with_weights(client, vgg19_env, content_path, style_path, tmp_path):
    second = tmp_path / "second.png"
    Image.fromarray(np.full((30, 30, 3), (200, 40, 40), np.uint8)).save(second)
    reds = []
    for blend in ("0.95,0.05", "0.05,0.95"):
        image, _ = client.predict(
            handle_file(content_path),
            handle_file(style_path),
            size=48,
            steps=8,
            extra_styles=[handle_file(second)],
            style_blend=blend,
            api_name="/gatys",
        )
        assert Image.open(image).size == (48, 38)
        arr = pixels(image)
        reds.append(arr[..., 0].mean() - arr[..., 1:].mean())
    assert reds[1] > reds[0] + 1, f"more weight on the red style gives a redder picture: {reds}"


def test_cyclegan_paints_at_the_input_size(client, painter, tmp_path):
    photo = tmp_path / "photo.png"
    texture(52, 40, seed=4).save(photo)
    image, info = client.predict(handle_file(photo), painter=painter, api_name="/cyclegan")
    assert Image.open(image).size == (52, 40)
    assert differs(image, photo) > 1.0
    assert info["done"] and info["method"] == "cyclegan"
    half, _ = client.predict(
        handle_file(photo), painter=painter, strength=0.5, brush_scale=2, max_size=26, api_name="/cyclegan"
    )
    assert Image.open(half).size == (26, 20), "max_size shrinks the photo first"
    kept, _ = client.predict(handle_file(photo), painter=painter, max_size=None, api_name="/cyclegan")
    assert Image.open(kept).size == (52, 40), "no max_size: the server's limit, which this photo is under"


def test_submit_streams_intermediate_images_then_the_result(client, vgg19_env, content_path, style_path):
    job = client.submit(
        handle_file(content_path), handle_file(style_path), size=48, steps=4, scales=2, api_name="/gatys"
    )
    image, info = job.result(timeout=120)
    outputs = job.outputs()
    assert len(outputs) >= 3, "a picture per step at 4 steps, then the result"
    steps = [o[1]["step"] for o in outputs]
    assert steps == sorted(steps) and not outputs[0][1]["done"] and info["done"]
    for preview, _ in outputs:  # coarse to fine: the first steps at half the size
        assert preview is None or Image.open(preview).size in ((24, 19), (48, 38)), "a picture or nothing"
    assert Image.open(image).size == (48, 38)


def test_stop_ends_a_run_with_its_best_picture_at_full_size(client, vgg19_env, content_path, style_path):
    """/stop from the same client: the run ends after its step at the coarse scale, and the answer is its best
    picture at the size asked for (48 px, not the coarse 24 px), marked stopped."""
    job = client.submit(
        handle_file(content_path), handle_file(style_path), size=48, steps=1500, scales=2, api_name="/gatys"
    )
    deadline = time.monotonic() + 60
    while not any(o[1]["state"] == "running" for o in job.outputs()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert client.predict(api_name="/stop") is True, "the client's run was found"
    image, info = job.result(timeout=60)
    assert info["state"] == "stopped" and info["stopped"] and info["scale"] == 1 and info["scales"] == 2
    assert 1 <= info["steps"] < 1500 and Image.open(image).size == (48, 38) == (info["width"], info["height"])
    assert client.predict(api_name="/stop") is False, "nothing left to stop"


def test_a_run_in_line_knows_its_place(client, vgg19_env, content_path, style_path, app_module):
    """Behind a long run, a second one reports its place (queued, position 1), then runs; /stop takes the
    client's runs out of the line too."""
    from gradio_client import Client

    other = Client(client.src, verbose=False, analytics_enabled=False)
    long = other.submit(
        handle_file(content_path), handle_file(style_path), size=48, steps=1500, api_name="/gatys"
    )
    deadline = time.monotonic() + 60
    while not any(o[1]["state"] == "running" for o in long.outputs()) and time.monotonic() < deadline:
        time.sleep(0.05)
    waiting = client.submit(handle_file(content_path), handle_file(style_path), **FAST, api_name="/gatys")
    while not waiting.outputs() and time.monotonic() < deadline:
        time.sleep(0.05)
    first = waiting.outputs()[0][1]
    assert first["state"] == "queued" and first["position"] == 1 and not first["done"], first
    assert other.predict(api_name="/stop") is True
    image, info = waiting.result(timeout=60)
    assert info["state"] == "done" and Image.open(image).size == (48, 38)
    assert long.result(timeout=60)[1]["state"] == "stopped"


def test_cancelling_a_job_stops_the_optimizer(client, vgg19_env, content_path, style_path):
    job = client.submit(
        handle_file(content_path), handle_file(style_path), size=48, steps=1500, api_name="/gatys"
    )
    deadline = time.monotonic() + 60
    while not job.outputs() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert job.outputs(), "the run started"
    assert worker_threads()
    job.cancel()
    deadline = time.monotonic() + 30
    while worker_threads() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not worker_threads(), "the optimizer thread ended after the cancel"


def test_api_takes_catalogue_names_not_weights_paths(client):
    """No endpoint has a parameter through which a client could name a weights file or a device."""
    named = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    for endpoint, info in named.items():
        names = {p["parameter_name"] for p in info["parameters"]}
        assert not names & {"weights", "vgg_weights", "device", "path"}, (endpoint, names)
    styles = named["/cyclegan"]["parameters"][1]["python_type"]["type"]
    assert styles.startswith("Literal[") and "monet" in styles and "/" not in styles
