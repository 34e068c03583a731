"""CycleGAN weights through the real ``huggingface_hub.hf_hub_download`` against a fake Hub on 127.0.0.1.

The fake Hub answers what ``hf_hub_download`` asks for: the metadata HEAD of
``/spaces/{repo}/resolve/{revision}/{file}`` (``X-Repo-Commit``, ``ETag``/``X-Linked-Etag`` =
the file's sha256, ``X-Linked-Size``) and the GET of the same URL; then it misbehaves on
purpose: drops the connection half-way, sends a short body, or keeps dropping. The checks:
a failed download leaves nothing in the cache that a later call could take for the weights,
the next call downloads again and loads the generator, a filled cache works offline without a
single request, and a checkpoint that would run code when unpickled is refused, not executed,
whether it comes from the Hub or from a local file.

huggingface_hub reads ``HF_ENDPOINT``/``HF_HUB_OFFLINE``/``HF_HUB_CACHE`` at import, so the
fixture patches ``huggingface_hub.constants``; its back-off sleeps are patched out to keep the
tests fast (the retry logic itself runs).
"""

from __future__ import annotations

import hashlib
import os
import socket
import threading
import types
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import torch

from nst import catalogue, cyclegan, downloads
from nst import weights as vgg_weights
from nst.errors import WeightsError
from nst.generator import read_state_dict
from support.painters import TINY, save_weights, tiny_state
from support.pictures import texture

ENTRY = catalogue.get_entry("monet")


class FakeHub:
    """A tiny HTTP server with one file, serving it the way the Hub does, or failing on purpose.

    ``mode``: ``ok``; ``drop-then-503`` (the first GET sends half the file and drops the
    connection, later GETs answer 503, as a server in trouble); ``drop-always`` (every GET drops
    half-way: the network is gone); ``short`` (a clean response with half the bytes).
    """

    def __init__(self, path: str, data: bytes, commit: str) -> None:
        self.path, self.data, self.commit = path, data, commit
        self.sha = hashlib.sha256(data).hexdigest()
        self.mode = "ok"
        self.requests: list[tuple[str, str]] = []
        hub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def _headers(self, code: int = 200, length: int | None = None) -> None:
                self.send_response(code)
                self.send_header("X-Repo-Commit", hub.commit)
                self.send_header("ETag", f'"{hub.sha}"')
                self.send_header("X-Linked-Etag", f'"{hub.sha}"')
                self.send_header("X-Linked-Size", str(len(hub.data)))
                self.send_header("Content-Length", str(len(hub.data) if length is None else length))
                self.end_headers()

            def _not_found(self) -> None:
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_HEAD(self) -> None:
                hub.requests.append(("HEAD", self.path))
                self._headers() if self.path == hub.path else self._not_found()

            def do_GET(self) -> None:
                hub.requests.append(("GET", self.path))
                if self.path != hub.path:
                    return self._not_found()
                half = hub.data[: len(hub.data) // 2]
                gets = sum(1 for method, p in hub.requests if method == "GET" and p == hub.path)
                if hub.mode == "drop-always" or (hub.mode == "drop-then-503" and gets == 1):
                    self._headers()
                    self.wfile.write(half)
                    self.wfile.flush()
                    self.connection.shutdown(socket.SHUT_RDWR)
                    self.close_connection = True
                elif hub.mode == "drop-then-503":
                    self.send_response(503)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                elif hub.mode == "short":
                    self._headers(length=len(half))
                    self.wfile.write(half)
                else:
                    self._headers()
                    self.wfile.write(hub.data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def file_requests(self) -> list[str]:
        return [method for method, p in self.requests if p == self.path]


def _without_sleep(module) -> types.SimpleNamespace:
    """The ``time`` module as seen by ``module``, with ``sleep`` a no-op (retry back-off)."""
    names = {k: getattr(module.time, k) for k in dir(module.time) if not k.startswith("__")}
    return types.SimpleNamespace(**{**names, "sleep": lambda seconds: None})


def _online(monkeypatch, endpoint: str, cache: Path) -> None:
    from huggingface_hub import constants, file_download
    from huggingface_hub.utils import _http

    monkeypatch.setattr(constants, "ENDPOINT", endpoint)
    monkeypatch.setattr(
        constants, "HUGGINGFACE_CO_URL_TEMPLATE", endpoint + "/{repo_id}/resolve/{revision}/{filename}"
    )
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("NST_OFFLINE", raising=False)
    monkeypatch.setattr(downloads, "_reachable", lambda: True)  # the fake Hub is on this machine
    monkeypatch.setattr(file_download, "time", _without_sleep(file_download))
    monkeypatch.setattr(_http, "time", _without_sleep(_http))


@pytest.fixture
def weights_bytes(tmp_path) -> bytes:
    return save_weights(tiny_state(3), tmp_path / "staging" / "latest_net_G.pth").read_bytes()


@pytest.fixture
def hub(tmp_path, monkeypatch, weights_bytes):
    """The fake Hub serving the 'monet' entry's file, an empty cache, online mode, no generator loaded."""
    for key in list(os.environ):
        if key.startswith("NST_CYCLEGAN_"):
            monkeypatch.delenv(key)
    path = f"/spaces/{ENTRY.repo_id}/resolve/{ENTRY.revision}/{ENTRY.filename}"
    fake = FakeHub(path, weights_bytes, ENTRY.revision)
    fake.thread.start()
    cache = tmp_path / "hf-cache"
    _online(monkeypatch, fake.url, cache)
    fake.cache = cache
    cyclegan.clear_cache()
    try:
        yield fake
    finally:
        cyclegan.clear_cache()
        fake.server.shutdown()
        fake.server.server_close()


def cached_files(cache: Path) -> list[str]:
    """Every file (or link) in the cache except huggingface_hub's lock files and cache tag."""
    if not cache.exists():
        return []
    return sorted(
        str(p.relative_to(cache))
        for p in cache.rglob("*")
        if (p.is_file() or p.is_symlink()) and ".locks" not in p.parts and p.name != "CACHEDIR.TAG"
    )


def assert_nothing_usable_cached(cache: Path) -> None:
    from huggingface_hub import try_to_load_from_cache

    assert cached_files(cache) == [], "a failed download left files in the cache"
    found = try_to_load_from_cache(
        ENTRY.repo_id,
        ENTRY.filename,
        revision=ENTRY.revision,
        repo_type=ENTRY.repo_type,
        cache_dir=str(cache),
    )
    assert not isinstance(found, str), f"the cache offers {found} as the weights"


def assert_loads_and_paints(hub: FakeHub) -> None:
    net = cyclegan.load_generator("monet", device="cpu", precision="float32")
    assert net.options == TINY
    for key, value in tiny_state(3).items():
        assert torch.equal(net.state_dict()[key], value), key
    assert cyclegan.paint(texture(24, 20), painter="monet", device="cpu", precision="float32").size == (
        24,
        20,
    )
    blob = hub.cache / f"spaces--{ENTRY.repo_id.replace('/', '--')}" / "blobs" / hub.sha
    assert hashlib.sha256(blob.read_bytes()).hexdigest() == hub.sha, "the cached file is the whole file"


def test_healthy_download_fills_the_cache_once(hub):
    assert_loads_and_paints(hub)
    assert hub.file_requests() == ["HEAD", "GET"]
    cyclegan.clear_cache()
    cyclegan.load_generator("monet", device="cpu", precision="float32")
    assert hub.file_requests() == ["HEAD", "GET"], "a pinned revision in the cache needs no request at all"


def test_connection_dropped_half_way_leaves_no_partial_file_and_the_next_call_downloads(hub):
    hub.mode = "drop-then-503"
    with pytest.raises(WeightsError, match="(?s)could not be downloaded.*503.*hf download"):
        cyclegan.load_generator("monet", device="cpu")
    assert hub.file_requests() == ["HEAD", "GET", "GET"], "dropped half-way, one resume attempt, then 503"
    assert_nothing_usable_cached(hub.cache)
    assert len(cyclegan._CACHE) == 0, "no broken generator is kept in memory"

    hub.mode = "ok"
    assert_loads_and_paints(hub)
    assert hub.file_requests()[-2:] == ["HEAD", "GET"], "the second call downloaded again"


def test_short_download_fails_the_size_check_and_is_retried(hub):
    hub.mode = "short"
    with pytest.raises(WeightsError, match="(?s)could not be downloaded.*Consistency check failed"):
        cyclegan.weights_file("monet")
    assert_nothing_usable_cached(hub.cache)
    hub.mode = "ok"
    assert_loads_and_paints(hub)


def test_network_lost_during_download_leaves_no_partial_file(hub):
    hub.mode = "drop-always"
    with pytest.raises(WeightsError):
        cyclegan.weights_file("monet")
    assert hub.file_requests().count("GET") >= 2, "huggingface_hub tried to resume, then gave up"
    assert_nothing_usable_cached(hub.cache)
    hub.mode = "ok"
    assert_loads_and_paints(hub)


def test_network_lost_during_download_is_a_weights_error(hub):
    hub.mode = "drop-always"
    with pytest.raises(WeightsError, match="could not be downloaded"):
        cyclegan.weights_file("monet")


def test_unreachable_hub_with_an_empty_cache_says_how_to_fill_it(hub):
    hub.server.shutdown()
    hub.server.server_close()  # connection refused from now on
    with pytest.raises(
        WeightsError, match="(?s)is not in the cache and the Hub cannot be reached.*hf download"
    ):
        cyclegan.load_generator("monet", device="cpu")
    assert_nothing_usable_cached(hub.cache)


def test_offline_mode_uses_a_filled_cache_without_any_request(hub, monkeypatch):
    from huggingface_hub import constants

    assert_loads_and_paints(hub)  # fill the cache through a real download
    before = list(hub.requests)
    cyclegan.clear_cache()
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert_loads_and_paints(hub)
    assert hub.requests == before, "offline: not a single request"
    with pytest.raises(WeightsError, match="'vangogh' are missing.*not in the cache"):
        cyclegan.load_generator("vangogh", device="cpu")
    assert hub.requests == before


class _RunsCode:
    """Unpickling this calls os.mkdir(marker): what a malicious checkpoint would do."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (str(self.marker),))


#: torch 2.14 words a refused global of a blocked module ("unsupported GLOBAL posix.mkdir whose module
#: posix is blocked") differently from a class outside the allow-list, and nst.generator then calls
#: the file "damaged or not a checkpoint": refused either way, never executed (see the report).
REFUSED_PICKLE = r"loading it would run code \(posix\.mkdir\), which is refused for safety"


def _malicious_checkpoint(path: Path, marker: Path) -> Path:
    state = dict(tiny_state(3))
    torch.save({"state_dict": state, "extra": _RunsCode(marker)}, path)
    return path


def test_a_malicious_checkpoint_from_the_hub_is_refused_not_executed(hub, tmp_path):
    marker = tmp_path / "code-ran"
    hub.data = _malicious_checkpoint(tmp_path / "evil.pth", marker).read_bytes()
    hub.sha = hashlib.sha256(hub.data).hexdigest()
    with pytest.raises(WeightsError, match=REFUSED_PICKLE):
        cyclegan.load_generator("monet", device="cpu")
    assert not marker.exists(), "the pickle's code ran"
    assert len(cyclegan._CACHE) == 0


def test_malicious_local_checkpoints_are_refused_for_generator_and_vgg(tmp_path):
    marker = tmp_path / "code-ran"
    evil = _malicious_checkpoint(tmp_path / "evil.pth", marker)
    with pytest.raises(WeightsError, match=REFUSED_PICKLE):
        read_state_dict(evil)
    with pytest.raises(WeightsError, match=REFUSED_PICKLE):
        vgg_weights.load_vgg("vgg19", "avg", evil)
    with pytest.raises(WeightsError):
        cyclegan.paint(texture(24, 20), weights=evil, device="cpu")
    assert not marker.exists(), "the pickle's code ran"


def test_without_network_a_painter_fails_at_once_and_the_network_is_probed_once(hub_cache, monkeypatch):
    """No NST_OFFLINE, no network: the first download finds out (one probe), and no painter waits on retries."""
    import time

    monkeypatch.delenv("NST_OFFLINE")
    monkeypatch.delenv("HF_HUB_OFFLINE")
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    probes = []

    def no_network(*args, **kwargs):
        probes.append(args[0])
        raise OSError("Network is unreachable")

    monkeypatch.setattr(downloads.socket, "create_connection", no_network)
    downloads._reachable.cache_clear()
    try:
        for painter in ("monet", "vangogh"):
            started = time.perf_counter()
            with pytest.raises(WeightsError, match="this machine is offline"):
                cyclegan.load_generator(painter, device="cpu")
            assert time.perf_counter() - started < 1.0
        assert len(probes) == len(downloads._HOSTS), "decided once for the process"
    finally:
        downloads._reachable.cache_clear()
