"""The Gradio app through its client API: launched in-process on localhost, no network.

Optimization methods run a random-weight VGG19 (``vgg19_env``) at 48 px for 2-3 steps;
CycleGAN runs a tiny generator from a fake Hugging Face cache (see ``cyclegan_fixtures``).
Each call checks what a client sees: the image's size, that it is not the input, and, for bad
uploads, the package's message, after which the server must still answer.
"""

from __future__ import annotations

import asyncio
import threading
import time
import types
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from nst import presets
from nst.settings import Settings

gradio_client = pytest.importorskip("gradio_client")
from gradio_client import Client, handle_file  # noqa: E402
from gradio_client.exceptions import AppError  # noqa: E402

ENDPOINTS = {"/gatys", "/histogram", "/mmd", "/photorealistic", "/texture", "/cyclegan"}
FAST = dict(size=48, steps=3)


@pytest.fixture(scope="module")
def server(app_module):
    demo = app_module.build_demo()
    _, url, _ = demo.launch(prevent_thread_lock=True, quiet=True, max_file_size="2mb")
    try:
        yield url
    finally:
        demo.close()


@pytest.fixture(scope="module")
def client(server) -> Client:
    return Client(server, verbose=False, analytics_enabled=False)


def pixels(path: str | Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"), dtype=np.float64)


def differs(result_path: str, source_path: Path) -> float:
    """Mean absolute difference (0-255) between the result and the source resized to its size."""
    with Image.open(result_path) as out, Image.open(source_path) as src:
        ref = src.convert("RGB").resize(out.size, Image.Resampling.LANCZOS)
    return float(np.abs(pixels(result_path) - np.asarray(ref, dtype=np.float64)).mean())


def skip_unless_available(name: str) -> None:
    why = presets.METHODS[name].missing()
    if why:
        print(f"skipped: {why}")
        pytest.skip(why)


# ----------------------------------------------------------------------------- the API's shape


def test_view_api_lists_one_endpoint_per_method_with_package_names_and_defaults(client):
    api = client.view_api(print_info=False, return_format="dict")
    named = api["named_endpoints"]
    assert set(named) == ENDPOINTS, "the page's own events stay private"
    assert not api["unnamed_endpoints"]
    gatys = {p["parameter_name"]: p for p in named["/gatys"]["parameters"]}
    assert list(gatys)[:2] == ["content", "style"]
    assert not gatys["content"]["parameter_has_default"] and gatys["content"]["python_type"]["type"] == "filepath"
    defaults = Settings()
    for name in ("size", "steps", "content_weight", "style_weight", "tv_weight", "seed", "scales", "style_scale"):
        assert gatys[name]["parameter_default"] == getattr(defaults, name), name
    assert gatys["size"]["python_type"]["type"] == "int"
    assert gatys["style_weight"]["python_type"]["type"] == "float"
    assert gatys["backbone"]["python_type"]["type"] == "Literal['vgg16', 'vgg19']"
    assert gatys["style_layers"]["parameter_default"] == ",".join(defaults.style_layers)
    assert gatys["learning_rate"]["parameter_has_default"] and gatys["learning_rate"]["parameter_default"] is None
    cyclegan = {p["parameter_name"]: p for p in named["/cyclegan"]["parameters"]}
    assert list(cyclegan) == ["content", "style", "strength", "brush_scale", "max_size"]
    assert cyclegan["style"]["parameter_default"] == "monet" and "vangogh" in cyclegan["style"]["python_type"]["type"]
    texture = [p["parameter_name"] for p in named["/texture"]["parameters"]]
    assert texture[:3] == ["style", "width", "height"] and "content_weight" not in texture


# ----------------------------------------------------------------------------- every method


def test_gatys_returns_a_stylized_image_of_the_requested_size(client, vgg19_env, content_path, style_path):
    image, info = client.predict(handle_file(content_path), handle_file(style_path), **FAST, api_name="/gatys")
    assert Image.open(image).size == (48, 38)  # 40x32 scaled so the longer side is 48
    assert differs(image, content_path) > 1.0
    assert info["done"] and info["steps"] == 3 and info["device"] == "cpu" and not info["stopped"]
    assert set(info["losses"]) >= {"content", "style", "total"}


@pytest.mark.parametrize("method", ["histogram", "mmd", "photorealistic"])
def test_extension_methods_return_a_stylized_image(client, vgg19_env, content_path, style_path, method):
    skip_unless_available(method)
    image, info = client.predict(handle_file(content_path), handle_file(style_path), **FAST, api_name=f"/{method}")
    assert Image.open(image).size == (48, 38)
    assert differs(image, content_path) > 1.0
    assert info["method"] == method and info["done"]


def test_texture_has_the_requested_width_and_height(client, vgg19_env, style_path):
    skip_unless_available("texture")
    image, info = client.predict(handle_file(style_path), width=40, height=32, steps=3, api_name="/texture")
    assert Image.open(image).size == (40, 32)
    assert differs(image, style_path) > 1.0


def test_several_styles_with_weights(client, vgg19_env, content_path, style_path, tmp_path):
    second = tmp_path / "second.png"
    Image.fromarray(np.full((30, 30, 3), (200, 40, 40), np.uint8)).save(second)
    extra = {"style_blend": "0.7,0.3"} if presets.has_field("style_blend") else {}
    image, _ = client.predict(handle_file(content_path), handle_file(style_path), **FAST,
                              extra_styles=[handle_file(second)], **extra, api_name="/gatys")
    assert Image.open(image).size == (48, 38)


@pytest.fixture
def painter(tmp_path, monkeypatch):
    """A tiny generator for the 'monet' catalogue entry in an offline fake Hub cache."""
    from huggingface_hub import constants

    from cyclegan_fixtures import fill_hub_cache, tiny_state
    from nst import catalogue, cyclegan

    cache = tmp_path / "hf-cache"
    cache.mkdir()
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    cyclegan.clear_cache()
    fill_hub_cache(cache, catalogue.get_entry("monet"), tiny_state(3))
    yield "monet"
    cyclegan.clear_cache()


def test_cyclegan_paints_at_the_input_size(client, painter, tmp_path):
    from cyclegan_fixtures import texture

    photo = tmp_path / "photo.png"
    texture(52, 40, seed=4).save(photo)
    image, info = client.predict(handle_file(photo), style=painter, api_name="/cyclegan")
    assert Image.open(image).size == (52, 40)
    assert differs(image, photo) > 1.0
    assert info["done"] and info["method"] == "cyclegan"
    half, _ = client.predict(handle_file(photo), style=painter, strength=0.5, brush_scale=2, max_size=26,
                             api_name="/cyclegan")
    assert Image.open(half).size == (26, 20), "max_size shrinks the photo first"


def test_cyclegan_missing_weights_give_the_packages_message(client, tmp_path, monkeypatch, content_path):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(AppError, match="CycleGAN weights for style 'vangogh' are missing"):
        client.predict(handle_file(content_path), style="vangogh", api_name="/cyclegan")
    with pytest.raises(AppError, match="has no confirmed Hugging Face Hub source"):
        client.predict(handle_file(content_path), style="cezanne", api_name="/cyclegan")


# ----------------------------------------------------------------------------- streaming and stopping


def test_submit_streams_intermediate_images_then_the_result(client, vgg19_env, content_path, style_path):
    job = client.submit(handle_file(content_path), handle_file(style_path), size=48, steps=4, api_name="/gatys")
    image, info = job.result(timeout=120)
    outputs = job.outputs()
    assert len(outputs) >= 3, "a picture per step at 4 steps, then the result"
    steps = [o[1]["step"] for o in outputs]
    assert steps == sorted(steps) and not outputs[0][1]["done"] and info["done"]
    for preview, _ in outputs:
        assert preview is None or Image.open(preview).size == (48, 38), "a picture or nothing, never an update"
    assert Image.open(image).size == (48, 38)


def _worker_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("nst-")]


def test_cancelling_a_job_stops_the_optimizer(client, vgg19_env, content_path, style_path):
    job = client.submit(handle_file(content_path), handle_file(style_path), size=48, steps=1500, api_name="/gatys")
    deadline = time.monotonic() + 60
    while not job.outputs() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert job.outputs(), "the run started"
    assert _worker_threads()
    job.cancel()
    deadline = time.monotonic() + 30
    while _worker_threads() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _worker_threads(), "the optimizer thread ended after the cancel"


def test_the_pages_stop_button_ends_with_the_picture_so_far(app_module, vgg19_env, content_path, style_path):
    """The page's handler, driven directly: Stop after the first picture still gives before/after and a PNG."""
    request = types.SimpleNamespace(session_hash="stop-test")
    choice = "gatys"
    app_module._method_choices()
    run = app_module.run_ui(choice, str(content_path), str(style_path), 5, 5, 3, "Painting's colours", 64, 500, 5,
                            "bn", 8, 1, 1, "vgg19", "conv4_2", "conv1_1,conv2_1,conv3_1,conv4_1,conv5_1", "", "avg",
                            "lbfgs", "content", 0, 1, 1.0, None, "", None, request=request, progress=lambda *a, **k: None)

    async def drive() -> list:
        updates = []
        async for update in run:
            updates.append(update)
            if isinstance(update[0], Image.Image):
                app_module.request_stop(request)
        return updates

    updates = asyncio.run(drive())
    assert updates[0][4].startswith("Loading")
    final = updates[-1]
    assert final[4].startswith("Stopped"), final[4]
    before, after = final[2]
    assert before.size == after.size == final[0].size == (64, 51)
    assert Path(final[3]).suffix == ".png" and Image.open(final[3]).size == (64, 51)
    assert len(updates) < 100, "stopped long before 500 steps"
    deadline = time.monotonic() + 10
    while _worker_threads() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _worker_threads()


# ----------------------------------------------------------------------------- bad input


def test_bad_uploads_get_clear_messages_and_the_server_keeps_answering(client, vgg19_env, style_path, tmp_path):
    text = tmp_path / "notes.png"
    text.write_text("this is a shopping list, not a picture\n")
    dot = tmp_path / "dot.png"
    Image.new("RGB", (1, 1), "red").save(dot)
    huge = tmp_path / "huge.png"
    Image.new("L", (10_000, 6_000)).save(huge)  # 60 megapixels of black: a small file, a big image
    cases = [
        (text, "content image is not an image file that can be read"),
        (dot, "content image is 1x1 pixels; images must be at least 16 pixels on each side"),
        (huge, r"content image is 10000x6000 pixels \(60 megapixels\); the limit is 50 megapixels"),
    ]
    for path, message in cases:
        with pytest.raises(AppError, match=message):
            client.predict(handle_file(path), handle_file(style_path), **FAST, api_name="/gatys")
    with pytest.raises(AppError, match="size: 4000 px is above this app's limit"):
        client.predict(handle_file(style_path), handle_file(style_path), size=4000, steps=1, api_name="/gatys")
    with pytest.raises(AppError, match="style_weight: must not be negative"):
        client.predict(handle_file(style_path), handle_file(style_path), size=48, steps=1, style_weight=-1,
                       api_name="/gatys")
    image, _ = client.predict(handle_file(style_path), handle_file(style_path), **FAST, api_name="/gatys")
    assert Image.open(image).size == (48, 48), "the server still answers"


def test_upload_over_the_file_size_limit_is_refused(client, tmp_path, style_path):
    big = tmp_path / "big.png"
    big.write_bytes(np.random.default_rng(0).bytes(3 * 1024 * 1024))
    with pytest.raises(Exception, match="(?i)too large|size|413"):
        client.predict(handle_file(big), handle_file(style_path), **FAST, api_name="/gatys")


def test_missing_vgg_weights_show_the_packages_message(client, content_path, style_path):
    """No NST_VGG19_WEIGHTS, empty torch cache, offline: the app started anyway and says what to do."""
    with pytest.raises(AppError, match="pretrained vgg19 weights are not available offline.*NST_VGG19_WEIGHTS"):
        client.predict(handle_file(content_path), handle_file(style_path), **FAST, api_name="/gatys")


def test_loss_curve_keeps_every_series_from_the_first_table(app_module):
    """Gradio's plot draws only the series of the first table it receives and nothing after an empty one."""
    assert app_module._loss_frame([]) is None
    assert app_module._loss_frame([(1, {"content": 0.0, "style": 2.0, "total": 2.0})]) is None
    frame = app_module._loss_frame([(1, {"content": 0.0, "style": 2.0, "total": 2.0}),
                                    (2, {"content": 0.1, "style": 1.0, "total": 1.1})])
    assert set(frame["term"]) == {"content", "style", "total"} and list(frame["step"].unique()) == [2]
    assert frame.loc[frame["term"] == "content", "loss"].item() == pytest.approx(-1.0)
