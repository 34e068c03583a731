"""A hostile client against the server: every attack found on the app stays here as a test.

Raw HTTP where gradio_client cannot express the attack (payloads without ``meta``, server paths,
links, data: URLs, 400-digit numbers, hanging up); the page's own Run event is attacked by index
too. The server runs in-process on tiny random-weight models (see conftest).
"""

from __future__ import annotations

import base64
import io
import json
import os
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image

from nst import cyclegan, requests
from nst.ui.cache import MARKER, STOPS
from support.http import (
    GENERIC,
    body_for,
    error_text,
    event_inputs,
    fn_index,
    gallery_selects,
    hang_up_at_first_picture,
    join_queue,
    page_run_index,
    parameters,
    raw_call,
    upload,
    wait_until,
    worker_threads,
)

pytest.importorskip("gradio_client")

FAST = dict(size=48, steps=1)


@pytest.fixture
def uploads(server, content_path, style_path):
    return upload(server, content_path), upload(server, style_path)


class Recorder:
    """Wraps the app's image loader and remembers every source it was asked to open."""

    def __init__(self, load):
        self.load, self.seen = load, []

    def __call__(self, source, *args, **kwargs):
        self.seen.append(str(source))
        return self.load(source, *args, **kwargs)


def refused(event: object, data: object) -> str:
    assert event == "error", (event, data)
    text = error_text(data)
    assert text and GENERIC not in text and "Traceback" not in text and "validation error" not in text, text
    return text


def cyclegan_photo(server: str, payload: dict, **values) -> tuple[object, object]:
    return raw_call(server, "cyclegan", {"content": payload, "strength": 0, **values})


# ----------------------------------------------------------------------------- files named by the client


def test_server_files_are_refused_with_one_sentence_whatever_the_path(
    server, app_module, monkeypatch, tmp_path, uploads
):
    """A file payload naming a path on the server, with or without ``meta``, gets the same sentence whether
    the path is an image, unreadable, missing, empty, a symlink out of the upload folder, a ``..`` escape,
    a name with a NUL byte or too long to look up, or one of the server's own files in the upload folder
    (its marker, a stop signal); on every endpoint and on the page's own Run event by index. The package
    never opens any of them."""
    secret = tmp_path / "secret.png"
    Image.new("RGB", (32, 32), "red").save(secret)
    inside = Path(uploads[0]["path"]).parent
    link = inside / "link.png"
    link.symlink_to(secret)
    cache = app_module.CACHE.path
    stop = cache / STOPS / "signal-of-a-run"
    stop.parent.mkdir(exist_ok=True)
    stop.touch()
    recorder = Recorder(requests.load_image)
    monkeypatch.setattr(requests, "load_image", recorder)
    monkeypatch.setattr(cyclegan, "load_image", recorder)
    paths = [
        str(secret),
        "/etc/shadow",
        "/nonexistent/photo.png",
        "",
        str(link),
        f"{inside}/{os.path.relpath(secret, inside)}",
        str(tmp_path),
        "/dev/zero",
        f"{inside}/photo\0.png",
        f"{inside}/{'a' * 5000}.png",
        str(cache / MARKER),
        str(stop),
    ]
    messages = set()
    for path in paths:
        for payload in ({"path": path}, {"path": path, "meta": {"_type": "gradio.FileData"}}):
            messages.add(refused(*cyclegan_photo(server, payload)).replace("content image", "X"))
            messages.add(
                refused(
                    *raw_call(server, "gatys", {"content": uploads[0], "style": payload, **FAST})
                ).replace("style image", "X")
            )
            messages.add(
                refused(
                    *raw_call(server, "texture", {"style": payload, "width": 32, "height": 32, "steps": 1})
                ).replace("style image", "X")
            )
    assert len(messages) == 1, messages
    assert "not uploaded to this server" in messages.pop()
    run, names = page_run_index(server)
    data = event_inputs(server, run)
    data[names.index("content")] = {"path": str(secret)}
    data[names.index("style")] = uploads[1]
    session = join_queue(server, run, data)
    with httpx.stream(
        "GET", f"{server}gradio_api/queue/data", params={"session_hash": session}, timeout=60
    ) as s:
        text = "".join(line for line in s.iter_lines() if "process_completed" in line)
    assert "not uploaded to this server" in text and "secret" not in text, text
    assert not any("secret" in s or "shadow" in s or "nonexistent" in s for s in recorder.seen), recorder.seen


def test_links_are_never_fetched(server, monkeypatch, uploads):
    """No payload makes the server download anything: http paths, url fields, with or without meta."""
    from gradio import processing_utils

    hits: list[str] = []

    class Local(BaseHTTPRequestHandler):
        def do_GET(self):
            hits.append(self.path)
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    local = ThreadingHTTPServer(("127.0.0.1", 0), Local)
    threading.Thread(target=local.serve_forever, daemon=True).start()
    fetched: list[str] = []

    async def record(url, *args, **kwargs):
        fetched.append(url)
        raise RuntimeError("fetched")

    monkeypatch.setattr(processing_utils, "async_ssrf_protected_download", record)
    try:
        for link in (f"http://127.0.0.1:{local.server_port}/photo.png", "https://example.com/photo.png"):
            for payload in (
                {"path": link, "meta": {"_type": "gradio.FileData"}},
                {"path": link},
                {"url": link, "path": None, "meta": {"_type": "gradio.FileData"}},
            ):
                text = refused(*cyclegan_photo(server, payload))
                assert text.startswith("content image: this server does not download images from links"), text
            payload = {"url": link, "path": link, "meta": {"_type": "gradio.FileData"}}
            for api, values, what in (
                ("photorealistic", {"content": payload, "style": uploads[1]}, "content image"),
                ("photorealistic", {"content": uploads[0], "style": payload}, "style image"),
                ("texture", {"style": payload, "width": 32, "height": 32}, "style image"),
                (
                    "gatys",
                    {**dict(zip(("content", "style"), uploads)), "extra_styles": [payload]},
                    "extra style image 1",
                ),
                ("gatys", {**dict(zip(("content", "style"), uploads)), "masks": [payload]}, "mask 1"),
            ):
                text = refused(*raw_call(server, api, {**values, **FAST}))
                assert text.startswith(f"{what}: this server does not download images from links"), (
                    api,
                    text,
                )
            run, names = page_run_index(server)
            data = event_inputs(server, run)
            data[names.index("content")], data[names.index("style")] = payload, uploads[1]
            assert "does not download images from links" in page_events(server, run, data)
    finally:
        local.shutdown()
        local.server_close()
    assert hits == [] and fetched == []


def page_events(server: str, index: int, data: list) -> str:
    """Join the queue with the page's event ``index`` and ``data``; the completion message, as text."""
    session = join_queue(server, index, data)
    with httpx.stream(
        "GET", f"{server}gradio_api/queue/data", params={"session_hash": session}, timeout=60
    ) as s:
        return "".join(line for line in s.iter_lines() if "process_completed" in line)


def test_text_lists_and_numbers_where_a_file_belongs_get_a_sentence(server):
    for payload, said in (("/etc/passwd", "got text"), (5, "got a int"), (["a"], "expected one file")):
        text = refused(*cyclegan_photo(server, payload))
        assert text.startswith("content image: ") and said in text, text


def _png_data_url(image: Image.Image, **save) -> str:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", **save)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def test_data_urls_are_bounded_by_the_upload_limit_and_checked_before_decoding(server, app_module):
    noise = Image.fromarray(np.random.default_rng(0).integers(0, 255, (850, 850, 3), dtype=np.uint8))
    big = _png_data_url(noise, compress_level=0)  # 2.1 MB of pixels: above the 2 MB limit of this server
    text = refused(*cyclegan_photo(server, {"url": big, "path": None, "meta": {"_type": "gradio.FileData"}}))
    assert text == (
        "content image: 2.1 MB is above this server's upload limit of 2 MB; send a smaller image"
    ), text
    bomb = _png_data_url(Image.new("L", (10_000, 10_000)))  # 100 megapixels in a few kilobytes
    cache = app_module.CACHE.path
    webp_before = set(cache.rglob("*.webp"))
    started = time.perf_counter()
    text = refused(*cyclegan_photo(server, {"url": bomb, "path": None, "meta": {"_type": "gradio.FileData"}}))
    assert "too large (100 megapixels)" in text and "refused before decoding" in text, text
    assert time.perf_counter() - started < 5
    assert set(cache.rglob("*.webp")) == webp_before, "Gradio decoded and re-encoded the data: URL"
    small = Image.fromarray(np.random.default_rng(1).integers(0, 255, (20, 24, 3), dtype=np.uint8))
    event, data = cyclegan_photo(
        server, {"url": _png_data_url(small), "path": None, "meta": {"_type": "gradio.FileData"}}
    )
    assert event == "complete", data
    with Image.open(data[0]["path"]) as im:
        assert np.array_equal(np.asarray(im.convert("RGB")), np.asarray(small)), (
            "the photo itself (strength 0)"
        )


def test_data_urls_are_taken_in_file_lists_as_for_single_files(server, app_module, uploads, vgg19_env):
    """A data: URL is a file wherever a file goes: the same image as a second style or as masks gives the
    same picture as its upload; one data: URL above the limit in a list is refused before any is decoded;
    a data: URL that names no image type is refused by name."""
    small = Image.fromarray(np.random.default_rng(2).integers(0, 255, (24, 32, 3), dtype=np.uint8))
    inline = {"url": _png_data_url(small), "path": None, "meta": {"_type": "gradio.FileData"}}
    path = Path(app_module.CACHE.path) / "test-small.png"
    small.save(path)
    uploaded = upload(server, path)
    base = {"content": uploads[0], "style": uploads[1], **FAST, "steps": 2}
    pictures = {}
    for label, extra in (("inline", inline), ("upload", uploaded)):
        for field in ("extra_styles", "masks"):
            values = {**base, "extra_styles": [extra]}
            if field == "masks":
                values["masks"] = [extra, extra]
            event, data = raw_call(server, "gatys", values)
            assert event == "complete", (label, field, data)
            with Image.open(data[0]["path"]) as im:
                pictures[label, field] = np.asarray(im.convert("RGB"))
    for field in ("extra_styles", "masks"):
        assert np.array_equal(pictures["inline", field], pictures["upload", field]), field
    noise = Image.fromarray(np.random.default_rng(0).integers(0, 255, (850, 850, 3), dtype=np.uint8))
    big = {"url": _png_data_url(noise, compress_level=0), "path": None, "meta": {"_type": "gradio.FileData"}}
    folder = Path(app_module.CACHE.path) / "data-urls"
    before = set(folder.rglob("*")) if folder.exists() else set()
    text = refused(*raw_call(server, "gatys", {**base, "extra_styles": [inline, inline, big]}))
    assert (
        text
        == "extra style image 3: 2.1 MB is above this server's upload limit of 2 MB; send a smaller image"
    )
    assert (set(folder.rglob("*")) if folder.exists() else set()) == before, "a data: URL was decoded first"
    text_url = {"url": "data:text/plain;base64,aGVsbG8=", "path": None, "meta": {"_type": "gradio.FileData"}}
    text = refused(*raw_call(server, "gatys", {**base, "masks": [text_url, inline]}))
    assert text == (
        "mask 1: a data: URL must name an image type, as in data:image/png;base64,...; got 'text/plain'"
    ), text


def test_too_few_or_too_many_values_are_told_what_the_endpoint_takes(server, uploads):
    full = body_for(server, "gatys", {"content": uploads[0], "style": uploads[1], **FAST})
    names = [p["parameter_name"] for p in parameters(server, "gatys")]
    for data in (full[:3], full + [1, 2, 3], []):
        text = refused(*raw_call(server, "gatys", body=json.dumps({"data": data})))
        assert text == (
            f"/gatys takes {len(names)} values, in this order: {', '.join(names)}; this request sent "
            f"{len(data)}. gradio_client's Client.predict sends them all, with the defaults for those not given"
        ), text


def test_choices_are_matched_as_documented_and_long_ones_cut(server, uploads, vgg19_env):
    """Painter and setting names in any case, with spaces around (README); a wrong one names the parameter
    and is not echoed back whole."""
    for painter in ("MONET", "Monet  ", " vanGogh"):
        event, data = cyclegan_photo(server, uploads[0], painter=painter)
        assert event == "complete", (painter, data)
    for optimizer in ("ADAM", " Adam "):
        event, data = raw_call(
            server, "gatys", {"content": uploads[0], "style": uploads[1], **FAST, "optimizer": optimizer}
        )
        assert event == "complete", (optimizer, data)
    text = refused(*cyclegan_photo(server, uploads[0], painter="m" * 5000))
    assert text.startswith("painter: 'mmm") and "(5002 characters)" in text and len(text) < 260, text


def test_a_click_on_an_example_without_a_value_is_answered(server, caplog):
    """The page's example click sent with its index alone picks that example (it raised KeyError: 'value')."""
    config = httpx.get(f"{server}config", timeout=30).json()
    select = gallery_selects(config)[0]
    session = os.urandom(8).hex()
    r = httpx.post(
        f"{server}gradio_api/queue/join",
        timeout=30,
        json={"data": [], "fn_index": select, "session_hash": session, "event_data": {"index": 0}},
    )
    r.raise_for_status()
    with httpx.stream(
        "GET", f"{server}gradio_api/queue/data", params={"session_hash": session}, timeout=30
    ) as s:
        done = "".join(line for line in s.iter_lines() if "process_completed" in line)
    assert '"success":true' in done and "astronaut" in done, done
    assert "KeyError" not in caplog.text


def test_file_lists_are_capped(server, uploads):
    style = uploads[1]
    text = refused(
        *raw_call(
            server, "gatys", {"content": uploads[0], "style": style, **FAST, "extra_styles": [style] * 4}
        )
    )
    assert text == "extra style image: 4 files given; at most 3", text
    text = refused(
        *raw_call(
            server,
            "gatys",
            {
                "content": uploads[0],
                "style": style,
                **FAST,
                "extra_styles": [style] * 3,
                "masks": [style] * 5,
            },
        )
    )
    assert text == "mask: 5 files given; at most 4", text


def test_a_forged_click_on_an_example_never_names_a_file(server):
    """The example galleries' click handler takes the index only; the click's value, which a client writes,
    is never used as a path (a value naming a file outside the cache is refused before that)."""
    config = httpx.get(f"{server}config", timeout=30).json()
    selects = gallery_selects(config)
    galleries = [c["props"]["value"] for c in config["components"] if c["type"] == "gallery"]
    assert selects and galleries, "the galleries have a select event"
    other = galleries[0][-1]["image"]  # another example's copy in the cache: passes Gradio's own check

    def click(index, value) -> str:
        session = os.urandom(8).hex()
        r = httpx.post(
            f"{server}gradio_api/queue/join",
            timeout=30,
            json={
                "data": [],
                "fn_index": selects[0],
                "session_hash": session,
                "trigger_id": None,
                "event_data": {"index": index, "value": {"image": value, "caption": "x"}},
            },
        )
        r.raise_for_status()
        with httpx.stream(
            "GET", f"{server}gradio_api/queue/data", params={"session_hash": session}, timeout=30
        ) as stream:
            return "".join(line for line in stream.iter_lines() if "process_completed" in line)

    assert "astronaut" in click(0, other) and other["orig_name"] not in click(0, other)
    assert '"success":true' not in click(0, {"path": "/etc/passwd"})
    for index in (999, -1, "0", None):
        answer = click(index, other)
        assert other["orig_name"] not in answer and "astronaut" not in answer, (index, answer)


# ----------------------------------------------------------------------------- bounded work


def test_repeated_layers_are_refused_before_any_work(server, uploads, monkeypatch):
    from nst import vgg

    calls: list[int] = []
    forward = vgg.VGGFeatures.forward
    monkeypatch.setattr(vgg.VGGFeatures, "forward", lambda *a, **k: calls.append(1) or forward(*a, **k))
    content, style = uploads
    started = time.perf_counter()
    text = refused(
        *raw_call(
            server,
            "gatys",
            {"content": content, "style": style, **FAST, "style_layers": ",".join(["conv1_1"] * 200_000)},
        )
    )
    assert text.startswith("style_layers: ") and "far too long" in text and len(text) < 200, text
    assert time.perf_counter() - started < 10
    text = refused(
        *raw_call(
            server,
            "gatys",
            {
                "content": content,
                "style": style,
                **FAST,
                "style_layers": "conv1_1,conv1_1,conv5_1",
                "style_layer_weights": "1,1,0",
            },
        )
    )
    assert text == "style_layers: 'conv1_1' is listed more than once; give each layer once", text
    text = refused(
        *raw_call(
            server, "histogram", {"content": content, "style": style, **FAST, "hist_layers": "relu1_1," * 20}
        )
    )
    assert text == "hist_layers: 'relu1_1' is listed more than once; give each layer once", text
    assert calls == []


def test_a_run_beyond_the_devices_memory_is_refused_before_any_work(server, uploads, app_module, monkeypatch):
    recorder = Recorder(requests.load_image)
    monkeypatch.setattr(requests, "load_image", recorder)
    monkeypatch.setenv("NST_MEMORY_GB", "0.5")  # a small machine: 1024 px runs only in tiles, some not at all
    content, style = uploads
    text = refused(
        *raw_call(server, "photorealistic", {"content": content, "style": style, "size": 1024, "steps": 1})
    )
    assert re.fullmatch(
        r"a 1024x1024 px picture with these settings needs about [\d.]+ GB for the image, its gradient, the "
        r"optimizer's history, the matting Laplacian alone, leaving no room for a tile in the 0.5 GB a run may "
        r"use on this device; lower the size",
        text,
    ), text
    extra = {"style_scale": 2, "extra_styles": [style] * 3}
    text = refused(
        *raw_call(server, "mmd", {"content": content, "style": style, "size": 1024, "steps": 1, **extra})
    )
    assert "the style features alone, leaving no room for a tile" in text, text
    assert recorder.seen == [], "no image was decoded for a run that cannot fit"


def test_hanging_up_frees_the_worker_after_its_step_and_never_blocks_the_server(
    server, uploads, vgg19_env, monkeypatch
):
    """A client that leaves mid-run frees the worker once the step in hand ends, and the server keeps
    answering while that step goes on: stopping is never waited for on its event loop. The step is held
    open by the test (not timed), so a server that waits for it would not answer at all until released."""
    from nst import vgg

    forward = vgg.VGGFeatures.forward
    step_held = threading.Event()
    release = threading.Event()

    def held(self, image, taps):
        if image.shape[-1] == 128:
            step_held.set()
            release.wait(timeout=60)
        return forward(self, image, taps)

    monkeypatch.setattr(vgg.VGGFeatures, "forward", held)
    content, style = uploads
    values = {"content": content, "style": style, "size": 128, "steps": 2000, "scales": 1}
    try:
        hang_up_at_first_picture(server, "gatys", values)
        assert step_held.wait(timeout=30), "the run never reached a step"
        hung_up = time.perf_counter()
        latencies = []
        while time.perf_counter() - hung_up < 3:  # the server notices a hang-up within about a second
            t = time.perf_counter()
            try:
                httpx.get(f"{server}gradio_api/info", timeout=5)
            except httpx.TimeoutException:
                pass
            latencies.append(time.perf_counter() - t)
            time.sleep(0.05)
        assert max(latencies) < 2, f"the server stalled for {max(latencies):.2f} s while a run was stopping"
    finally:
        release.set()
    released = time.perf_counter()
    event, data = raw_call(server, "gatys", {"content": content, "style": style, "size": 32, "steps": 1})
    assert event == "complete", data
    assert time.perf_counter() - released < 15, "the next run waited for more than the step in hand"


def test_hanging_up_while_targets_are_built_frees_the_worker_within_seconds(
    server, uploads, vgg19_env, monkeypatch, style_path, tmp_path
):
    """Four styles whose targets take 2 s each: a client that leaves while they are built frees the worker
    after the style in hand, not after all of them. The styles differ (the painting turned), or the
    network's Gram cache would hand out the last three at once whatever the stop did."""
    from nst import vgg

    forward = vgg.VGGFeatures.forward
    styles_seen: list[float] = []

    def slow_styles(self, image, taps):
        if tuple(image.shape[-2:]) == (128, 128):  # the square style at 128 px; the photo is 128x102
            styles_seen.append(time.perf_counter())
            time.sleep(2.0)
        return forward(self, image, taps)

    monkeypatch.setattr(vgg.VGGFeatures, "forward", slow_styles)
    content, style = uploads
    turned = []
    for quarter in (1, 2, 3):
        path = tmp_path / f"style-{quarter}.png"
        Image.open(style_path).convert("RGB").rotate(90 * quarter).save(path)
        turned.append(upload(server, path))
    values = {
        "content": content,
        "style": style,
        "extra_styles": turned,
        "size": 128,
        "steps": 5,
        "scales": 1,
    }
    session = join_queue(server, fn_index(server, "gatys"), body_for(server, "gatys", values))
    with httpx.stream(
        "GET", f"{server}gradio_api/queue/data", params={"session_hash": session}, timeout=60
    ) as s:
        for line in s.iter_lines():
            if '"process_starts"' in line:
                break
    assert wait_until(lambda: styles_seen, 30), "the targets are being built"
    hung_up = time.perf_counter()  # leave during the first style
    event, data = raw_call(server, "gatys", {"content": content, "style": style, "size": 32, "steps": 1})
    assert event == "complete", data
    assert len(styles_seen) <= 2, f"{len(styles_seen)} of 4 styles' targets were built for a client who left"
    assert time.perf_counter() - hung_up < 6.0, "the next run waited for every style's targets"


def test_a_client_that_disconnects_mid_run_frees_the_worker(server, uploads, vgg19_env):
    """The page closed, the script killed: the run stops after its current step, and the next one starts."""
    content, style = uploads
    hang_up_at_first_picture(server, "gatys", {"content": content, "style": style, "size": 48, "steps": 2000})
    assert worker_threads(), "the run was still going when the client left"
    assert wait_until(lambda: not worker_threads(), 10, 0.1), (
        "the optimizer thread ended after the disconnect"
    )
    event, data = raw_call(server, "gatys", {"content": content, "style": style, **FAST})
    assert event == "complete", data


# ----------------------------------------------------------------------------- numbers and names


def test_huge_numbers_in_raw_json_are_named(server, uploads):
    content, style = uploads
    digits = "9" * 400
    cases = [
        ("gatys", "size", "size: must be between 32 and 1024 on this server, got a 400-digit number"),
        ("gatys", "style_weight", "style_weight: must be at most 1e+09"),
        ("gatys", "seed", "seed: must be between 0 and 9223372036854775807, got a 400-digit number"),
        ("texture", "width", "width: must be between 16 and 1024 on this server, got a 400-digit number"),
        (
            "cyclegan",
            "max_size",
            "max_size: must be between 16 and 1024 on this server, got a 400-digit number",
        ),
    ]
    for api, name, start in cases:
        values = (
            {"content": content, "strength": 0}
            if api == "cyclegan"
            else {"content": content, "style": style, **FAST}
        )
        params = [p["parameter_name"] for p in parameters(server, api)]
        data = body_for(server, api, values)
        data[params.index(name)] = "__BIG__"
        body = json.dumps({"data": data}).replace('"__BIG__"', digits)
        text = refused(*raw_call(server, api, body=body))
        assert text.startswith(start) and "Overflow" not in text and len(text) < 300, (api, name, text)


def test_blend_weights_that_overflow_their_sum_are_refused(server, uploads):
    content, style = uploads
    text = refused(
        *raw_call(
            server,
            "gatys",
            {
                "content": content,
                "style": style,
                **FAST,
                "extra_styles": [style],
                "style_blend": "1e308,1e308",
            },
        )
    )
    assert text == "style_blend: must be at most 1e+06, got 1e+308", text


def test_a_small_max_size_names_max_size_not_the_upload(server, uploads):
    text = refused(*cyclegan_photo(server, uploads[0], max_size=16))
    assert text.startswith("max_size: 16 px shrinks this photo to 16x13 px") and "at least 20" in text, text


def test_panoramas_and_small_scales_run_or_are_refused_by_name(server, tmp_path, uploads, vgg19_env):
    pano = tmp_path / "pano.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (40, 480, 3), dtype=np.uint8)).save(pano)
    pano_up = upload(server, pano)
    style = uploads[1]
    text = refused(*raw_call(server, "gatys", {"content": pano_up, "style": style, "size": 128, "steps": 1}))
    assert text == (
        "size: at 128 px this 12:1 picture would be 128x11 px, under 16 px on its short side; "
        "use a size of at least 187"
    ), text
    for values in (
        {"content": pano_up, "size": 256, "scales": 2, "steps": 2},
        {"content": uploads[0], "size": 64, "scales": 3, "steps": 3},
        {"content": uploads[0], "size": 64, "steps": 1, "style_scale": 0.05},
    ):
        event, data = raw_call(server, "gatys", {"style": style, **values})
        assert event == "complete", (values, data)
    event, data = raw_call(
        server,
        "gatys",
        {"content": uploads[0], "style": pano_up, "size": 64, "steps": 1, "style_scale": 0.05},
    )
    assert event == "complete", data


# ----------------------------------------------------------------------------- a flood


def test_the_runner_refuses_a_flood_before_gradios_queue_does(app_module):
    """Gradio's queue holds each event a moment before the runner sees it: with the same bound as the
    runner's line, one client of a flood got Gradio's raw "Queue is full" JSON (a full test run, once)."""
    limit = app_module.demo._queue.max_size
    assert limit >= 2 * app_module.RUNNER.capacity, (limit, app_module.RUNNER.capacity)


def test_a_flood_of_sixty_sessions_is_bounded_and_every_admitted_run_finishes(
    server, app_module, uploads, monkeypatch, vgg19_env
):
    """Sixty clients at once while the machine is held: one runs, the line fills to its bound
    (NST_QUEUE_SIZE) and the rest are told the server is busy; once the machine is free, every run
    that was let in ends with its picture."""
    runner = app_module.RUNNER
    release = threading.Event()
    original = runner.compute

    def held(request, signal):
        release.wait(120)
        yield from original(request, signal)

    monkeypatch.setattr(runner, "compute", held)
    values = {"content": uploads[0], "style": uploads[1], "size": 32, "steps": 1}
    answers: list[tuple[str | None, object]] = []

    def client() -> None:
        answers.append(raw_call(server, "gatys", values, timeout=300))

    threads = [threading.Thread(target=client) for _ in range(60)]
    for t in threads:
        t.start()
    try:
        assert wait_until(lambda: len(answers) >= 60 - 1 - runner.capacity, 120), len(answers)
        assert wait_until(lambda: len(runner._waiting) == runner.capacity, 60), len(runner._waiting)
        refusals = [error_text(data) for event, data in answers]
        assert all(r.startswith("the server is busy: 32 runs are waiting") for r in refusals), set(refusals)
        assert len(answers) == 60 - 1 - runner.capacity
    finally:
        release.set()
        for t in threads:
            t.join(300)
    done = [data for event, data in answers if event == "complete"]
    assert len(done) == 1 + runner.capacity, [a for a in answers if a[0] != "complete"][:3]
    for data in done:
        with Image.open(data[0]["path"]) as im:
            assert max(im.size) == 32 and data[1]["done"]
    assert runner._waiting == [] and runner._running == 0
