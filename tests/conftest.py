"""Shared fixtures: tiny images and VGG networks with seeded random weights.

No test needs the network or real weights: the VGGs here have torchvision's architecture
with random initialisation, saved through the same file formats users give the package, and
every test runs with downloads disabled (``NST_OFFLINE=1``, ``HF_HUB_OFFLINE=1``) and an empty
torch hub cache.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision
from PIL import Image
from safetensors.torch import save_file

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
SHARED = Path(__file__).resolve().parents[2] / "shared"


@pytest.fixture(autouse=True)
def _offline(monkeypatch, tmp_path_factory):
    """Every test: no downloads, an empty torch hub cache, no weights from the environment."""
    monkeypatch.setenv("NST_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path_factory.mktemp("torch_home")))
    monkeypatch.delenv("NST_VGG19_WEIGHTS", raising=False)
    monkeypatch.delenv("NST_VGG16_WEIGHTS", raising=False)


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


def make_picture(width: int, height: int, seed: int) -> Image.Image:
    """A small deterministic picture with smooth gradients, edges and texture."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width] / max(width, height)
    base = np.stack([xx, yy, 1 - xx * yy], axis=-1)
    stripes = 0.5 + 0.5 * np.sin(2 * np.pi * (xx * rng.uniform(2, 6) + yy * rng.uniform(2, 6)))[..., None]
    arr = 0.6 * base + 0.3 * stripes * rng.uniform(0.2, 1, size=3) + 0.1 * rng.random((height, width, 3))
    return Image.fromarray((np.clip(arr, 0, 1) * 255).astype(np.uint8), "RGB")


@pytest.fixture
def content_path(tmp_path) -> Path:
    path = tmp_path / "content.png"
    make_picture(40, 32, seed=1).save(path)
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
        for name in ("NST_BACKBONE", "NST_DEVICE", "NST_MAX_SIZE", "NST_MAX_STEPS", "NST_CONCURRENCY", "NST_CACHE_SECONDS"):
            mp.delenv(name, raising=False)
        mp.syspath_prepend(str(Path(__file__).resolve().parents[1]))
        import app

        yield app
