"""Shared fixtures: tiny images, VGG networks and CycleGAN generators with seeded random weights, and
the app on a local port.

No test needs the network or real weights: the VGGs here have torchvision's architecture with
random initialisation, saved through the same file formats users give the package; the painters
are tiny generators in a fake Hugging Face cache. Every test runs with downloads disabled
(``NST_OFFLINE=1``, ``HF_HUB_OFFLINE=1``) and an empty torch hub cache. Helpers that are not
fixtures live in ``tests/support`` (``from support.<module> import ...``).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
import torchvision
from safetensors.torch import save_file

from nst import cyclegan
from support.painters import fill_hub_cache, save_weights, tiny_state
from support.pictures import make_picture

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")


@pytest.fixture(autouse=True)
def _offline(monkeypatch, tmp_path_factory):
    """Every test: no downloads, an empty torch hub cache, no weights from the environment."""
    monkeypatch.setenv("NST_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path_factory.mktemp("torch_home")))
    monkeypatch.delenv("NST_VGG19_WEIGHTS", raising=False)
    monkeypatch.delenv("NST_VGG16_WEIGHTS", raising=False)
    for key in [k for k in os.environ if k.startswith("NST_CYCLEGAN_")]:  # no catalogue overrides either
        monkeypatch.delenv(key)
    cyclegan.clear_cache()  # nor a generator another test loaded under the same name
    yield
    cyclegan.clear_cache()


def random_vgg_features(backbone: str, seed: int = 0) -> dict[str, torch.Tensor]:
    """torchvision's ``<backbone>().features`` state dict with seeded random weights."""
    torch.manual_seed(seed)
    model = getattr(torchvision.models, backbone)(weights=None)
    return {k: v.clone() for k, v in model.features.state_dict().items()}


@pytest.fixture(scope="session")
def vgg19_state() -> dict[str, torch.Tensor]:
    return random_vgg_features("vgg19")


@pytest.fixture(scope="session")
def vgg19_file(tmp_path_factory, vgg19_state) -> Path:
    """Features-only VGG19 state dict as safetensors (keys ``0.weight`` ...)."""
    path = tmp_path_factory.mktemp("weights") / "vgg19-features.safetensors"
    save_file({k: v.contiguous() for k, v in vgg19_state.items()}, str(path))
    return path


@pytest.fixture(scope="session")
def vgg16_file(tmp_path_factory) -> Path:
    """A VGG16 in torchvision's full layout (``features.*`` plus a small stand-in classifier)."""
    state = {f"features.{k}": v for k, v in random_vgg_features("vgg16", seed=1).items()}
    state["classifier.0.weight"] = torch.zeros(4, 4)
    path = tmp_path_factory.mktemp("weights") / "vgg16-full.pth"
    torch.save(state, path)
    return path


@pytest.fixture
def vgg19_env(monkeypatch, vgg19_file) -> Path:
    """Point the package at the random VGG19 through the documented environment variable."""
    monkeypatch.setenv("NST_VGG19_WEIGHTS", str(vgg19_file))
    return vgg19_file


@pytest.fixture
def content_path(tmp_path) -> Path:
    path = tmp_path / "content.png"
    make_picture(40, 32, seed=1).save(path)
    return path


@pytest.fixture
def style_b(tmp_path) -> Path:
    """A second style, unlike the first."""
    path = tmp_path / "style_b.png"
    make_picture(30, 40, seed=3).save(path)
    return path


@pytest.fixture
def style_path(tmp_path) -> Path:
    path = tmp_path / "style.png"
    make_picture(36, 36, seed=2).save(path)
    return path


# ----------------------------------------------------------------------------- the Gradio app


@pytest.fixture(scope="session")
def app_module(tmp_path_factory):
    """``app.py`` imported for the app tests: Gradio's files in a temporary folder, no analytics,
    no backbone or device chosen by the environment (the tests' tiny VGG19 is used)."""
    pytest.importorskip("gradio")
    pytest.importorskip("gradio_client")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("NST_CACHE_DIR", str(tmp_path_factory.mktemp("nst-cache")))
        mp.setenv("GRADIO_ANALYTICS_ENABLED", "False")
        mp.setenv("NST_MAX_FILE_SIZE", "2mb")
        for name in (
            "NST_BACKBONE",
            "NST_DEVICE",
            "NST_MAX_SIZE",
            "NST_MAX_STEPS",
            "NST_CONCURRENCY",
            "NST_CACHE_SECONDS",
            "NST_MAX_REQUEST_SIZE",
        ):
            mp.delenv(name, raising=False)
        mp.syspath_prepend(str(Path(__file__).resolve().parents[1]))
        import app

        yield app


@pytest.fixture(scope="module")
def server(app_module):
    """The app's page and API on a local port, launched as app.py does (uploads limited to 2 MB, request
    bodies to 3.7 MB), for one test module."""
    from nst.ui.assets import PAGE_ASSETS
    from nst.ui.server import launch

    demo = app_module.build_demo()
    _, url, _ = launch(
        demo,
        app_module.CACHE,
        app_module.CONFIG,
        prevent_thread_lock=True,
        quiet=True,
        **PAGE_ASSETS,
    )
    try:
        yield url
    finally:
        demo.close()


@pytest.fixture(scope="module")
def client(server):
    from gradio_client import Client

    return Client(server, verbose=False, analytics_enabled=False)


@pytest.fixture
def hub_cache(tmp_path, monkeypatch) -> Path:
    """An empty Hugging Face cache with offline mode on (both read by huggingface_hub at import)."""
    from huggingface_hub import constants

    from nst import cyclegan

    cache = tmp_path / "hf-cache"
    cache.mkdir()
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    cyclegan.clear_cache()
    yield cache
    cyclegan.clear_cache()


@pytest.fixture
def painter(hub_cache) -> str:
    """The 'monet' catalogue painter, as a tiny generator in the offline fake Hub cache."""
    from nst import catalogue

    fill_hub_cache(hub_cache, catalogue.get_entry("monet"), tiny_state(3))
    return "monet"


@pytest.fixture
def tiny_file(tmp_path) -> Path:
    """A tiny generator as a local .safetensors file."""
    return save_weights(tiny_state(3), tmp_path / "tiny.safetensors")
