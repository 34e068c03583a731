"""The app under hostile and unlucky clients: odd files, wrong parameters, forged file paths,
out-of-memory runs, abandoned requests, temporary files, and same-seed determinism.

A server runs in-process on 127.0.0.1 (like tests/test_app.py): optimization methods use a
random-weight VGG19 at 48 px for 1-2 steps, CycleGAN a tiny generator in a fake offline Hub
cache; CycleGAN with strength 0 returns the loaded photo itself, so the PNG a client gets back
shows what the app made of its upload. Every refusal must reach the client as the package's
message (an ``AppError`` naming the image or parameter), never as Gradio's "the upstream app
raised an exception" without a reason, and the server must keep answering.

Some clients are simulated below gradio_client, with plain HTTP: NaN and infinity (which
gradio_client cannot put into JSON), forged server paths in file payloads, and a client that
closes its connection in the middle of a run.
"""

from __future__ import annotations

import json
import math
import re
import threading
import time
import uuid
from pathlib import Path

import httpx
import numpy as np
import pytest
import torch
from PIL import Image

from odd_images import CONVERTED, REFUSED, Odd, animated, cmyk, palette_with_transparency, rgb

gradio_client = pytest.importorskip("gradio_client")
from gradio_client import Client, handle_file  # noqa: E402
from gradio_client.exceptions import AppError  # noqa: E402

GENERIC = "has not enabled verbose error reporting"  # Gradio's words for an exception it may not show
FAST = dict(size=48, steps=1)


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


@pytest.fixture
def painter(tmp_path, monkeypatch):
    """The 'monet' catalogue entry as a tiny generator in an offline fake Hub cache."""
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


def refusal(call, *args, **kwargs) -> str:
    """The message of the AppError a call must end with; never Gradio's message-less one."""
    with pytest.raises(AppError) as err:
        call(*args, **kwargs)
    message = str(err.value)
    assert message and GENERIC not in message and "Traceback" not in message, message
    return message


def still_answers(client: Client, photo: Path) -> None:
    image, info = client.predict(handle_file(photo), style="monet", strength=0.0, api_name="/cyclegan")
    assert info["done"] and Image.open(image).size == Image.open(photo).size


def _worker_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("nst-")]


def wait_until(condition, seconds: float, step: float = 0.05) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(step)
    return True


# ----------------------------------------------------------------------------- odd files


@pytest.mark.parametrize("odd", CONVERTED, ids=lambda o: o.name)
def test_odd_uploads_are_converted_as_documented(client, odd: Odd, tmp_path):
    """What the package documents (16-bit scaled, transparency on white, EXIF upright, first
    frame...) is what a client of the app gets: Gradio hands the upload over unconverted."""
    src = odd.write(tmp_path)
    image, info = client.predict(handle_file(src), style="monet", strength=0.0, api_name="/cyclegan")
    arr = rgb(image)
    assert (arr.shape[1], arr.shape[0]) == odd.size == (info["width"], info["height"])
    odd.check(arr)


@pytest.mark.parametrize("odd", REFUSED, ids=lambda o: o.name)
def test_odd_uploads_are_refused_with_the_packages_message(client, odd: Odd, tmp_path, style_path, content_path):
    src = odd.write(tmp_path)
    calls = [
        ("content image", dict(api_name="/cyclegan"), [handle_file(src)]),
        ("content image", dict(api_name="/gatys", **FAST), [handle_file(src), handle_file(style_path)]),
        ("style image", dict(api_name="/texture", width=32, height=32, steps=1), [handle_file(src)]),
        ("extra style image 1", dict(api_name="/mmd", extra_styles=[handle_file(src)], **FAST),
         [handle_file(content_path), handle_file(style_path)]),
    ]
    for what, kwargs, args in calls:
        message = refusal(client.predict, *args, **kwargs)
        assert message.startswith(what) and re.search(odd.refused, message), (kwargs["api_name"], message)
    still_answers(client, content_path)


def test_optimization_runs_on_converted_uploads(client, vgg19_env, tmp_path):
    """CMYK photo, palette style with transparency, an animated GIF as a second style: all converted, a result."""
    photo, style, extra = tmp_path / "photo.jpg", tmp_path / "style.png", tmp_path / "extra.gif"
    photo.write_bytes(cmyk("JPEG"))
    style.write_bytes(palette_with_transparency())
    extra.write_bytes(animated("GIF"))
    image, info = client.predict(handle_file(photo), handle_file(style), size=48, steps=2,
                                 extra_styles=[handle_file(extra)], api_name="/gatys")
    assert Image.open(image).size == (48, 29) and info["done"]


# ----------------------------------------------------------------------------- parameters


#: (endpoint, parameter, value, the message must match) -- every endpoint, every kind of field.
PARAMETER_CASES = [
    ("/gatys", "size", 0, r"^size: must be between 32 and 4096, got 0"),
    ("/gatys", "size", -5, r"^size: must be between 32 and 4096"),
    ("/gatys", "size", 10**30, r"^size: must be between 32 and 4096"),
    ("/gatys", "size", 4000, r"^size: 4000 px is above this app's limit"),
    ("/gatys", "size", "abc", r"^size: expected a whole number, got 'abc'"),
    ("/gatys", "size", [1], r"^size: expected a whole number"),
    ("/gatys", "size", None, r"^size: expected a whole number, got None"),
    ("/gatys", "steps", 10**9, r"^steps: must be between 1 and 10000"),
    ("/gatys", "steps", 5000, r"^steps: 5000 is above this app's limit"),
    ("/gatys", "seed", -1, r"^seed: must be between 0 and"),
    ("/gatys", "seed", 2**80, r"^seed: must be between 0 and"),
    ("/gatys", "scales", 99, r"^scales: must be between 1 and 6"),
    ("/gatys", "style_weight", -1, r"^style_weight: must not be negative"),
    ("/gatys", "style_weight", "abc", r"^style_weight: expected a number, got 'abc'"),
    ("/gatys", "style_weight", {"a": 1}, r"^style_weight: expected a number"),
    ("/gatys", "content_weight", None, r"^content_weight: expected a number, got None"),
    ("/gatys", "tv_weight", True, r"^tv_weight: expected a number, got True"),
    ("/gatys", "learning_rate", "fast", r"^learning_rate: expected a number"),
    ("/gatys", "learning_rate", 1e9, r"^learning_rate: must be at most"),
    ("/gatys", "style_scale", 0, r"^style_scale: must be at least"),
    ("/gatys", "backbone", "resnet50", r"resnet50.*(not in the list of choices|not one of)"),
    ("/gatys", "backbone", None, r"^backbone: None is not one of"),
    ("/gatys", "optimizer", "sgd", r"sgd.*(not in the list of choices|not one of)"),
    ("/gatys", "style_layers", "conv9_9", r"^style_layers: 'conv9_9' is not a layer of vgg19"),
    ("/gatys", "style_layers", 5, r"^style_layers: '5' is not a layer"),
    ("/gatys", "content_layers", "", r"^content_layers: at least one layer is needed"),
    ("/gatys", "style_layer_weights", "1,2", r"^style_layer_weights: 2 weights given for 5 style layers"),
    ("/gatys", "style_layer_weights", "nan,1,1,1,1", r"^style_layer_weights: must be a finite number"),
    ("/gatys", "style_blend", "-1", r"^style_blend: must not be negative"),
    ("/histogram", "hist_weight", -3, r"^hist_weight: must not be negative"),
    ("/histogram", "hist_layers", "relu9_1", r"^hist_layers: 'relu9_1' is not a layer"),
    ("/mmd", "style_loss", "gram2", r"gram2.*(not in the list of choices|not one of)"),
    ("/mmd", "mmd_poly_c", -1, r"^mmd_poly_c: must not be negative"),
    ("/photorealistic", "photo_weight", "lots", r"^photo_weight: expected a number"),
    ("/texture", "width", 0, r"^width: must be between 16 and \d+, got 0$"),
    ("/texture", "height", 10**12, r"^height: must be between 16 and \d+, got 1000000000000$"),
    ("/texture", "width", "wide", r"^width: expected a whole number, got 'wide'"),
    ("/texture", "height", None, r"^height: expected a whole number, got None"),
    ("/texture", "steps", 0, r"^steps: must be between 1 and"),
    ("/cyclegan", "strength", -1, r"^strength: -1(\.0)? must be a number from 0"),
    ("/cyclegan", "strength", "full", r"^strength: expected a number, got 'full'"),
    ("/cyclegan", "strength", None, r"^strength: expected a number, got None"),
    ("/cyclegan", "brush_scale", 1e9, r"^brush scale: .* must be from 1"),
    ("/cyclegan", "brush_scale", [2], r"^brush_scale: expected a number"),
    ("/cyclegan", "max_size", -3, r"^max_size: must be between 16 and \d+, got -3$"),
    ("/cyclegan", "max_size", "big", r"^max_size: expected a whole number, got 'big'"),
    ("/cyclegan", "max_size", None, r"^max_size: expected a whole number, got None"),
    ("/cyclegan", "style", "../../etc/passwd", r"\.\./\.\./etc/passwd.*(not in the list of choices|not in the CycleGAN catalogue)"),
    ("/cyclegan", "style", "/etc/passwd", r"/etc/passwd.*(not in the list of choices|not in the CycleGAN catalogue)"),
    ("/cyclegan", "style", None, r"^style: None is not in the CycleGAN catalogue"),
]


def _images_for(endpoint: str, content: Path, style: Path) -> list:
    if endpoint in ("/cyclegan",):
        return [handle_file(content)]
    if endpoint == "/texture":
        return [handle_file(style)]
    return [handle_file(content), handle_file(style)]


def test_wrong_parameters_get_a_message_naming_them_on_every_endpoint(client, content_path, style_path, painter):
    failures = []
    for endpoint, name, value, pattern in PARAMETER_CASES:
        base = {"/cyclegan": dict(strength=0.0), "/texture": dict(width=32, height=32, steps=1)}.get(endpoint, dict(FAST))
        try:
            message = refusal(client.predict, *_images_for(endpoint, content_path, style_path),
                              **{**base, name: value}, api_name=endpoint)
        except BaseException as exc:  # collect every mismatch, then report them together
            failures.append(f"{endpoint} {name}={value!r}: {type(exc).__name__}: {exc}")
            continue
        if not re.search(pattern, message):
            failures.append(f"{endpoint} {name}={value!r}: {message!r} does not match {pattern!r}")
    assert not failures, "\n".join(failures)
    still_answers(client, content_path)


# ----------------------------------------------------------------------------- below gradio_client


def upload(server: str, path: Path) -> dict:
    """Upload a file the way clients do; the FileData of its copy in Gradio's upload folder."""
    with path.open("rb") as f:
        r = httpx.post(f"{server}gradio_api/upload", files={"files": (path.name, f)}, timeout=30)
    r.raise_for_status()
    return {"path": r.json()[0], "orig_name": path.name, "meta": {"_type": "gradio.FileData"}}


def raw_call(server: str, client: Client, api_name: str, values: dict, *, first_event_only: bool = False):
    """POST /gradio_api/call/<api> with every parameter in order (defaults for the rest), as raw JSON
    (Python's json writes NaN and Infinity, which gradio_client refuses to send); then read the
    event stream. Returns (event, data) of the last event: 'complete' or 'error'."""
    params = client.view_api(print_info=False, return_format="dict")["named_endpoints"][f"/{api_name}"]["parameters"]
    data = [values.get(p["parameter_name"], p.get("parameter_default")) for p in params]
    body = json.dumps({"data": data})  # allow_nan=True: NaN / Infinity as bare words
    r = httpx.post(f"{server}gradio_api/call/{api_name}", content=body,
                   headers={"Content-Type": "application/json"}, timeout=30)
    r.raise_for_status()
    event_id = r.json()["event_id"]
    event = None
    with httpx.stream("GET", f"{server}gradio_api/call/{api_name}/{event_id}", timeout=120) as stream:
        for line in stream.iter_lines():
            if line.startswith("event: "):
                event = line[len("event: "):]
            elif line.startswith("data: ") and event in ("complete", "error"):
                return event, json.loads(line[len("data: "):])
    return event, None


def _error_text(data) -> str:
    return json.dumps(data)


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf], ids=["nan", "inf", "-inf"])
def test_nan_and_infinity_sent_as_raw_json_are_refused_by_name(server, client, value, content_path, style_path):
    content, style = upload(server, content_path), upload(server, style_path)
    cases = [
        ("gatys", {"content": content, "style": style, "size": value}, r"size: expected a whole number"),
        ("gatys", {"content": content, "style": style, "size": 48, "steps": 1, "style_weight": value},
         r"style_weight: must be a finite number"),
        ("gatys", {"content": content, "style": style, "size": 48, "steps": 1, "seed": value}, r"seed: expected a whole number"),
        ("texture", {"style": style, "width": value, "steps": 1}, r"width: expected a whole number"),
        ("cyclegan", {"content": content, "strength": value}, r"strength: (must be a finite number|.*must be a number from 0)"),
        ("cyclegan", {"content": content, "strength": 0, "max_size": value}, r"max_size: expected a whole number"),
    ]
    for api, values, pattern in cases:
        event, data = raw_call(server, client, api, values)
        text = _error_text(data)
        assert event == "error" and re.search(pattern, text) and GENERIC not in text, (api, values, event, text)
    still_answers(client, content_path)


def test_api_takes_catalogue_names_not_weights_paths(client):
    """No endpoint has a parameter through which a client could name a weights file or a device."""
    named = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    for endpoint, info in named.items():
        names = {p["parameter_name"] for p in info["parameters"]}
        assert not names & {"weights", "vgg_weights", "device", "path", "tile_size"}, (endpoint, names)
    styles = named["/cyclegan"]["parameters"][1]["python_type"]["type"]
    assert styles.startswith("Literal[") and "monet" in styles and "/" not in styles


# ----------------------------------------------------------------------------- resources


def test_gpu_out_of_memory_is_a_clear_message_and_the_next_run_works(client, vgg19_env, monkeypatch,
                                                                      content_path, style_path, painter):
    from nst import generator, vgg

    def oom(*args, **kwargs):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")

    with monkeypatch.context() as m:
        m.setattr(vgg.VGGFeatures, "forward", oom)
        message = refusal(client.predict, handle_file(content_path), handle_file(style_path), **FAST, api_name="/gatys")
        assert re.search(r"out of (GPU )?memory.*smaller size", message), message
    with monkeypatch.context() as m:
        m.setattr(generator.ResnetGenerator, "forward", oom)
        message = refusal(client.predict, handle_file(content_path), style=painter, api_name="/cyclegan")
        assert re.search(r"out of memory painting 40x32 px", message), message
    assert wait_until(lambda: not _worker_threads(), 10), "the worker thread ended"
    image, info = client.predict(handle_file(content_path), handle_file(style_path), **FAST, api_name="/gatys")
    assert info["done"] and Image.open(image).size == (48, 38)
    image, info = client.predict(handle_file(content_path), style=painter, api_name="/cyclegan")
    assert info["done"] and Image.open(image).size == (40, 32)


def test_cpu_allocation_failure_and_bugs_still_get_a_sentence(client, vgg19_env, monkeypatch, content_path, style_path):
    """Whatever escapes the package (a CPU allocator failure, a bug) reaches the person as a sentence."""
    from nst import vgg

    def cpu_oom(*args, **kwargs):
        raise RuntimeError("[enforce fail at alloc_cpu.cpp:127] DefaultCPUAllocator: can't allocate memory: "
                           "you tried to allocate 99999999999 bytes")

    def bug(*args, **kwargs):
        raise KeyError("conv4_2")

    with monkeypatch.context() as m:
        m.setattr(vgg.VGGFeatures, "forward", cpu_oom)
        message = refusal(client.predict, handle_file(content_path), handle_file(style_path), **FAST, api_name="/gatys")
        assert re.search(r"out of memory.*smaller", message), message
        m.setattr(vgg.VGGFeatures, "forward", bug)
        message = refusal(client.predict, handle_file(content_path), handle_file(style_path), **FAST, api_name="/gatys")
        assert re.search(r"went wrong on the server \(KeyError\)", message), message
    image, info = client.predict(handle_file(content_path), handle_file(style_path), **FAST, api_name="/gatys")
    assert info["done"]


def test_a_client_that_disconnects_mid_run_frees_the_worker(server, client, vgg19_env, content_path, style_path):
    """The page closed, the script killed: the run stops after its current step, and the next one starts."""
    content, style = upload(server, content_path), upload(server, style_path)
    params = client.view_api(print_info=False, return_format="dict")["named_endpoints"]["/gatys"]["parameters"]
    values = {"content": content, "style": style, "size": 48, "steps": 2000}
    data = [values.get(p["parameter_name"], p.get("parameter_default")) for p in params]
    fn_index = next(d["id"] for d in client.config["dependencies"] if d.get("api_name") == "gatys")
    session = uuid.uuid4().hex
    r = httpx.post(f"{server}gradio_api/queue/join", timeout=30,
                   json={"data": data, "fn_index": fn_index, "session_hash": session, "event_data": None, "trigger_id": None})
    r.raise_for_status()
    with httpx.stream("GET", f"{server}gradio_api/queue/data", params={"session_hash": session}, timeout=60) as stream:
        for line in stream.iter_lines():
            if '"process_generating"' in line:
                break  # the run is streaming its pictures: hang up now
    assert _worker_threads(), "the run was still going when the client left"
    assert wait_until(lambda: not _worker_threads(), 30, 0.1), "the optimizer thread ended after the disconnect"
    started = time.monotonic()
    image, info = client.predict(handle_file(content_path), handle_file(style_path), **FAST, api_name="/gatys")
    assert info["done"] and time.monotonic() - started < 30


# ----------------------------------------------------------------------------- determinism


def test_same_inputs_and_seed_give_identical_pictures_through_the_api(client, vgg19_env, painter, content_path,
                                                                       style_path):
    def gatys(seed: int) -> np.ndarray:
        image, _ = client.predict(handle_file(content_path), handle_file(style_path), size=48, steps=3, init="noise",
                                  seed=seed, api_name="/gatys")
        return rgb(image)

    def cyclegan() -> np.ndarray:
        image, _ = client.predict(handle_file(content_path), style=painter, strength=0.8, brush_scale=1.5,
                                  api_name="/cyclegan")
        return rgb(image)

    first = gatys(5)
    assert np.array_equal(first, gatys(5)), "same seed, same picture"
    assert not np.array_equal(first, gatys(6)), "the seed matters"
    painted = cyclegan()
    from nst import cyclegan as cg

    cg.clear_cache()  # a freshly loaded generator paints the same picture
    assert np.array_equal(painted, cyclegan())
