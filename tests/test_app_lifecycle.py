"""A run's life on the server around its picture: the uploads it reads are held while it waits and works and
age from their last use; a burst of runs queued behind a long one each gets its own picture; what can run
on this server is said at start-up, in the log and in the page's banner; the painter menu offers what can
run first; a prepared request crosses into another process (as into ZeroGPU's GPU worker) and a stop
reaches it there."""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import pickle
import threading
import time
import types
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from PIL import Image

from nst import catalogue, readiness
from nst.methods import METHODS
from nst.requests import Limits, PaintRequest, StylizeRequest, TextureRequest
from nst.ui.cache import CacheFolder
from support.http import AppProcess
from support.painters import fill_hub_cache, tiny_state
from support.zerogpu import compute_in_child

pytest.importorskip("gradio")


# ----------------------------------------------------------------------------- uploads held while used


def test_a_held_file_is_never_swept_and_its_age_counts_from_its_last_use(tmp_path):
    cache = CacheFolder.open(tmp_path / "cache", max_age=1.0)
    used, unused = cache.path / "used.png", cache.path / "unused.png"
    used.write_bytes(b"a photo")
    unused.write_bytes(b"another")
    with cache.holding([str(used)]):
        time.sleep(1.2)
        assert cache.sweep() == 1 and used.exists() and not unused.exists(), "held: kept past its age"
    time.sleep(0.6)
    assert cache.sweep() == 0 and used.exists(), "1.8 s old, but 0.6 s since the run let go of it"
    time.sleep(0.6)
    assert cache.sweep() == 1 and not used.exists(), "unused for longer than its age: gone"
    outside = tmp_path / "not-the-cache.txt"
    outside.write_text("the server's own file")
    before = outside.stat().st_ctime_ns
    time.sleep(0.05)
    with cache.holding([str(outside), "/etc/hostname"]):  # paths a client wrote into text fields
        pass
    assert outside.stat().st_ctime_ns == before, "a file outside the cache is never touched"


def test_a_burst_queued_behind_a_long_run_gets_its_pictures(tmp_path, vgg19_file):
    """A cache time of 2 s and three runs waiting behind one of about 10 s: each gets its own picture (under
    the old queue they were checked only when their turn came, after the sweep had taken their uploads)."""
    from gradio_client import Client, handle_file

    app = AppProcess(
        {
            "NST_CACHE_DIR": str(tmp_path / "cache"),
            "NST_CACHE_SECONDS": "2",
            "NST_VGG19_WEIGHTS": str(vgg19_file),
            "NST_OFFLINE": "1",
            "HF_HUB_OFFLINE": "1",
        }
    )
    try:
        colours = [(200, 40, 40), (40, 200, 40), (40, 40, 200), (200, 200, 40)]
        photos = []
        for k, colour in enumerate(colours):
            rng = np.random.default_rng(k)
            arr = np.clip(np.array(colour) + rng.normal(0, 6, (40, 48, 3)), 0, 255).astype(np.uint8)
            photos.append(tmp_path / f"photo{k}.png")
            Image.fromarray(arr).save(photos[-1])
        client = Client(app.url, verbose=False, analytics_enabled=False)
        long = client.submit(
            handle_file(photos[0]), handle_file(photos[0]), size=256, steps=2000, scales=1, api_name="/gatys"
        )
        deadline = time.monotonic() + 120
        while not any(o[1]["state"] == "running" for o in long.outputs()) and time.monotonic() < deadline:
            time.sleep(0.05)

        def one(k: int) -> tuple[np.ndarray, dict]:
            own = Client(app.url, verbose=False, analytics_enabled=False)
            job = own.submit(
                handle_file(photos[k]), handle_file(photos[k]), size=48, steps=2, api_name="/gatys"
            )
            while not job.outputs() and time.monotonic() < deadline:
                time.sleep(0.05)
            first = job.outputs()[0][1]
            time.sleep(3)  # waiting longer than the cache keeps an unused file
            return first, job

        with ThreadPoolExecutor(3) as pool:
            waiting = list(pool.map(one, [1, 2, 3]))
        assert all(first["state"] == "queued" for first, _ in waiting), [f for f, _ in waiting]
        assert sorted(first["position"] for first, _ in waiting) == [1, 2, 3]
        client.predict(api_name="/stop")  # the long run makes way
        for k, (_, job) in zip([1, 2, 3], waiting):
            image, info = job.result(timeout=120)
            assert info["state"] == "done", info
            mean = np.asarray(Image.open(image).convert("RGB"), float).reshape(-1, 3).mean(0)
            nearest = int(np.argmin(np.abs(np.array(colours, float) - mean).sum(1)))
            assert nearest == k, f"run {k} got the picture of photo {nearest}"
        assert long.result(timeout=60)[1]["state"] == "stopped"
    finally:
        app.stop(15)
        print(app.output()[-5000:])


# ----------------------------------------------------------------------------- an honest start


def test_readiness_says_what_is_here_what_could_be_downloaded_and_what_is_missing(
    monkeypatch, hub_cache, vgg19_file
):
    fill_hub_cache(hub_cache, catalogue.get_entry("vangogh"), tiny_state(2))
    monkeypatch.setenv("NST_VGG19_WEIGHTS", str(vgg19_file))
    networks = {m.name: m for m in readiness.networks()}
    assert networks["vgg19"].state == "ready" and networks["vgg16"].state == "missing"  # offline (conftest)
    assert "NST_VGG16_WEIGHTS" in networks["vgg16"].hint and "vgg16-397923af.pth" in networks["vgg16"].hint
    painters = readiness.painters()
    assert [(m.name, m.state) for m in painters] == [("vangogh", "ready"), ("monet", "missing")], (
        "ready first"
    )
    assert "hf download davidpiscasio/unpaired-img2img" in painters[1].hint
    assert "NST_CYCLEGAN_MONET_FILE" in painters[1].hint
    monkeypatch.delenv("NST_OFFLINE")
    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.setattr(readiness, "offline", lambda: False)
    assert {m.name: m.state for m in readiness.painters()}["monet"] == "download", (
        "online: fetched on first use"
    )


def test_the_banner_the_log_and_the_painter_menu_say_what_can_run(
    app_module, monkeypatch, hub_cache, vgg19_file, caplog
):
    """A server with VGG19 and only the Van Gogh painter: the log names each model with how to provide the
    missing ones (paths included, for the operator), the banner says the same in words fit for a public page
    (no paths), and the painter menu lists Van Gogh first, chosen, and marks Monet."""
    fill_hub_cache(hub_cache, catalogue.get_entry("vangogh"), tiny_state(2))
    monkeypatch.setenv("NST_VGG19_WEIGHTS", str(vgg19_file))
    with caplog.at_level(logging.INFO, logger="nst.server"):
        demo = app_module.build_demo()
    log = {r.getMessage().split(":")[0]: r for r in caplog.records if r.name == "nst.server"}
    assert log["VGG19 network (vgg19)"].levelno == logging.INFO
    missing = log["VGG16 network (vgg16)"]
    assert missing.levelno == logging.WARNING and "MISSING" in missing.getMessage()
    assert os.environ["TORCH_HOME"] in missing.getMessage(), "the operator gets this machine's paths"
    assert log["Claude Monet painter (monet)"].levelno == logging.WARNING
    props = {c["props"].get("elem_id"): c["props"] for c in demo.config["components"]}
    banner = props["banner"]["value"]
    assert banner.startswith(
        "**Ready here:** VGG19 network, Vincent van Gogh painter. "
        "**Not available on this server:** VGG16 network, Claude Monet painter.\n"
    ), banner
    assert "NST_VGG16_WEIGHTS" in banner and "NST_CYCLEGAN_MONET_FILE" in banner, "how, folded below"
    assert "cannot run here" not in banner, "VGG19 is here"
    assert os.environ["TORCH_HOME"] not in banner and str(hub_cache) not in banner, (
        "no server paths in public"
    )
    menu = props["painter"]
    assert menu["value"] == "vangogh"
    assert [label for label, _ in menu["choices"]] == [
        "Vincent van Gogh",
        "Claude Monet (not installed here)",
    ]
    endpoint = demo.get_api_info()["named_endpoints"]["/cyclegan"]["parameters"]
    assert {p["parameter_name"]: p for p in endpoint}["painter"]["parameter_default"] == "vangogh"
    demo.close()


def test_without_networks_the_banner_says_the_optimization_methods_cannot_run(app_module):
    props = {c["props"].get("elem_id"): c["props"] for c in app_module.demo.config["components"]}
    banner = props["banner"]["value"]
    assert "VGG19 network" in banner.split("Not available on this server:")[1]
    assert "The optimization methods cannot run here until a network is added." in banner


# ----------------------------------------------------------------------------- across a process boundary


def test_prepared_requests_are_small_and_picklable(vgg19_env, content_path, style_path, tmp_path, tiny_file):
    """What crosses into ZeroGPU's GPU worker: decoded pictures and settings, no paths, no open files."""
    big = tmp_path / "big.png"
    Image.new("RGB", (2000, 1500), (90, 120, 150)).save(big)
    stylize = METHODS["gatys"].request_from({"content": str(big), "style": str(style_path), "size": 64})
    texture = TextureRequest(str(style_path), 48, 32)
    paint = PaintRequest(str(big), weights=str(tiny_file), max_size=80)
    for request in (stylize, texture, paint):
        prepared = request.prepare(Limits(max_size=1024))
        assert prepared.prepare() is prepared, "prepared once"
        data = pickle.dumps(prepared)
        assert len(data) < 100_000, f"{type(request).__name__}: {len(data)} bytes"
        again = pickle.loads(data)
        assert again.plan == prepared.plan and again.prepared and isinstance(again.compare_with, Image.Image)


def test_a_stop_reaches_a_run_in_another_process(vgg19_env, content_path, style_path, tmp_path):
    """The runner's compute, in a spawned process as ZeroGPU runs it, stopped by the signal set here: the run
    ends after a step with its best picture, at full size (the stop is a file, so it crosses)."""
    from nst.ui.runner import StopSignal

    request = StylizeRequest(
        str(content_path), str(style_path), METHODS["gatys"].settings({"size": 64, "steps": 500, "scales": 2})
    ).prepare()
    signal = StopSignal(tmp_path / "stops")
    context = multiprocessing.get_context("spawn")
    items = context.Queue()
    child = context.Process(target=compute_in_child, args=(request, signal, items))
    child.start()
    try:
        kinds = []
        while True:
            kind, item = items.get(timeout=120)
            kinds.append(kind)
            if kind == "step" and item.step == 2:
                signal.set()
            if kind in ("done", "error"):
                break
        assert kind == "done", item
        assert item.stopped and 2 <= item.steps < 10 and item.image.size == (64, 51)
        assert kinds[:2] == ["phase", "phase"], "the network, then the targets"
    finally:
        child.join(timeout=60)
        if child.is_alive():
            child.kill()


class Held:
    """A request whose run waits for ``release``: something to keep the machine busy with."""

    steps = 1

    def __init__(self, release: threading.Event) -> None:
        self.release = release

    def gpu_seconds(self) -> int:
        return 30

    def run(self, on_step, stop, *, on_phase=None, image_every=1):
        from nst.engine import Preparing, StyleResult

        on_phase(Preparing("network"))
        self.release.wait(30)
        return StyleResult(Image.new("RGB", (32, 32)), None, steps=1)


def test_a_full_line_refuses_a_new_run_in_words_before_decoding_it(tmp_path):
    """One run at work and one waiting, with room for one: a third is told the server is busy, at once, both
    when it asks to be checked (its pictures not yet decoded) and when it asks for its place."""
    from nst.errors import ResourceError
    from nst.ui.runner import Runner

    runner = Runner("cpu", tmp_path, concurrency=1, capacity=1)
    release = threading.Event()

    async def scenario() -> list[str]:
        first, second = runner.stream(Held(release)), runner.stream(Held(release))
        while (await anext(first)).state.phase != "preparing":
            pass
        assert (await anext(second)).state.position == 1, "in line, next"
        with pytest.raises(ResourceError, match="the server is busy: 1 runs are waiting"):
            await anext(runner.stream(Held(release)))
        never = types.SimpleNamespace(prepare=lambda limits: pytest.fail("a refused run is not decoded"))
        with pytest.raises(ResourceError, match="the server is busy"):
            await runner.prepare(never, Limits())
        release.set()
        phases = [update.state.phase async for update in first][-1:] + [u.state.phase async for u in second][
            -1:
        ]
        return phases

    assert asyncio.run(scenario()) == ["done", "done"]
