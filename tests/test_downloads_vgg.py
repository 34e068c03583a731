"""Weight downloads that fail half-way leave nothing behind, and the next call tries again.

The network is simulated at the lowest level torch.hub uses (``urlopen``), so the real
download code, with its temporary file, hash check and final move, is what is tested.
"""

import hashlib
import io

import pytest
import torch

from nst import downloads
from nst import weights as W
from nst.errors import WeightsError


class FakeResponse(io.BytesIO):
    """A urlopen() answer that may break after ``fail_after`` bytes, like a dropped connection."""

    def __init__(self, data: bytes, fail_after: int | None = None) -> None:
        super().__init__(data)
        self.fail_after, self.length = fail_after, len(data)

    def info(self):
        import email.message

        msg = email.message.Message()
        msg["Content-Length"] = str(self.length)
        return msg

    def read(self, n: int = -1) -> bytes:
        if self.fail_after is not None and self.tell() >= self.fail_after:
            raise ConnectionResetError("connection reset by peer")
        return super().read(min(n, 4096) if n and n > 0 else 4096)


def test_partial_download_leaves_no_file_and_is_retried(monkeypatch, tmp_path, vgg19_state):
    buf = io.BytesIO()
    torch.save({f"features.{k}": v for k, v in vgg19_state.items()}, buf)
    data = buf.getvalue()
    digest = hashlib.sha256(data).hexdigest()
    # torchvision names files <name>-<first 8 hex of sha256>.pth and checks that prefix.
    monkeypatch.setitem(W._TORCHVISION_URLS, "vgg19", f"https://download.example/vgg19-{digest[:8]}.pth")
    monkeypatch.delenv("NST_OFFLINE")
    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.setattr(downloads, "_reachable", lambda: True)  # the download is faked below
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    calls = []

    def urlopen(request, *a, **k):
        calls.append(request.full_url)
        return FakeResponse(data, fail_after=len(data) // 3 if len(calls) == 1 else None)

    monkeypatch.setattr("torch.hub.urlopen", urlopen)
    with pytest.raises(
        WeightsError, match="could not be downloaded.*ConnectionResetError.*NST_VGG19_WEIGHTS"
    ):
        W.load_vgg("vgg19", "avg")
    cache = W.torchvision_cache_file("vgg19").parent
    assert not cache.exists() or list(cache.iterdir()) == [], "a broken download left files in the cache"

    net = W.load_vgg("vgg19", "avg")  # second call: downloads again, completely this time
    assert len(calls) == 2
    assert [p.name for p in cache.iterdir()] == [f"vgg19-{digest[:8]}.pth"]
    assert torch.equal(net.features[0].weight, vgg19_state["0.weight"])


def test_corrupted_download_fails_the_hash_check_and_is_not_kept(monkeypatch, tmp_path, vgg19_state):
    monkeypatch.setitem(W._TORCHVISION_URLS, "vgg19", "https://download.example/vgg19-00000000.pth")
    monkeypatch.delenv("NST_OFFLINE")
    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.setattr(downloads, "_reachable", lambda: True)  # the download is faked below
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setattr("torch.hub.urlopen", lambda *a, **k: FakeResponse(b"garbage" * 100))
    with pytest.raises(WeightsError, match="could not be downloaded"):
        W.load_vgg("vgg19", "avg")
    cache = W.torchvision_cache_file("vgg19").parent
    assert not cache.exists() or list(cache.iterdir()) == []


def test_a_server_loads_the_network_at_startup_only_from_this_machine(monkeypatch, vgg19_file, tmp_path):
    """Warm-up loads what is on disk (so the first run does not wait for it) and never downloads."""
    from nst.ui.runner import Runner

    def no_download(*args, **kwargs):
        raise AssertionError("warm-up must never download")

    monkeypatch.setattr(W.torch.hub, "load_state_dict_from_url", no_download)
    W.clear_cache()
    assert Runner("cpu", tmp_path).warm_up("vgg19") is None, "no weights here: nothing to warm"
    assert len(W._CACHE) == 0
    monkeypatch.setenv("NST_VGG19_WEIGHTS", str(vgg19_file))
    thread = Runner("cpu", tmp_path).warm_up("vgg19")
    thread.join(timeout=60)
    loaded = len(W._CACHE)
    W.clear_cache()
    assert loaded == 1, "the network from NST_VGG19_WEIGHTS is held for the first run"
