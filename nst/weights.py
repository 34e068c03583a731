"""Finding and reading pretrained VGG weights.

Where the weights come from, in order:

1. an explicit file (``vgg_weights=`` in Python, ``--vgg-weights`` on the CLI);
2. the file named by ``NST_VGG19_WEIGHTS`` / ``NST_VGG16_WEIGHTS``;
3. torchvision's ``VGG19_Weights.IMAGENET1K_V1`` / ``VGG16_Weights.IMAGENET1K_V1`` through the
   torch hub cache (``$TORCH_HOME/hub/checkpoints``), downloaded on first use unless
   ``NST_OFFLINE=1`` or ``HF_HUB_OFFLINE=1`` is set.

A file may be a full torchvision state dict (``features.*`` and ``classifier.*``), a
features-only state dict (``0.weight`` ... or ``features.0.weight`` ...), ``.pth``/``.pt``
read with ``torch.load(weights_only=True)`` (never arbitrary pickles), or ``.safetensors``.
Nothing is downloaded at import time.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import torch

from .checkpoints import check_file, check_finite, read_state_dict
from .downloads import offline
from .errors import WeightsError
from .layers import BACKBONES, conv_indices
from .model_cache import ModelCache
from .vgg import VGGFeatures, build_features

_TORCHVISION_URLS = {
    "vgg16": "https://download.pytorch.org/models/vgg16-397923af.pth",
    "vgg19": "https://download.pytorch.org/models/vgg19-dcbb9e9d.pth",
}
ENV_VARS = {b: f"NST_{b.upper()}_WEIGHTS" for b in BACKBONES}

#: Loaded networks, keyed by where their weights came from, their pooling and device.
_CACHE: ModelCache[VGGFeatures] = ModelCache(limit=4)


def _person(backbone: str) -> str:
    return (
        f"this server has no {backbone} network weights yet, so the optimization methods cannot run here; "
        "its operator can set them up (the server's log says how)"
    )


def torchvision_cache_file(backbone: str) -> Path:
    """Where torchvision keeps (or would keep) the official weights for ``backbone``."""
    return Path(torch.hub.get_dir()) / "checkpoints" / _TORCHVISION_URLS[backbone].rsplit("/", 1)[1]


def how_to_fix(backbone: str) -> str:
    return (
        f"Either point {ENV_VARS[backbone]} (or --vgg-weights) at a local {backbone} weights file "
        f"(.pth or .safetensors), or put torchvision's {torchvision_cache_file(backbone).name} into "
        f"the torch hub cache at {torchvision_cache_file(backbone).parent} (set TORCH_HOME to use another cache; "
        f"on a machine with internet, running once without NST_OFFLINE downloads it there)"
    )


def features_state_dict(
    state: Mapping[str, torch.Tensor], backbone: str, source: str
) -> dict[str, torch.Tensor]:
    """Reduce any accepted layout to the keys of ``<backbone>().features`` (``0.weight`` ...)."""
    cleaned: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        key = key.removeprefix("module.")
        if key.startswith("classifier."):
            continue
        key = key.removeprefix("features.")
        cleaned[key] = value
    expected = {f"{i}.{p}" for i in conv_indices(backbone) for p in ("weight", "bias")}
    missing, unexpected = expected - cleaned.keys(), cleaned.keys() - expected
    if missing or unexpected:
        other = [
            b
            for b in BACKBONES
            if b != backbone
            and {f"{i}.{p}" for i in conv_indices(b) for p in ("weight", "bias")} == set(cleaned)
        ]
        hint = f" It looks like {other[0]} weights: set backbone to {other[0]!r}." if other else ""
        raise WeightsError(
            f"{source} does not match {backbone}'s convolutional layers: "
            f"{len(missing)} missing keys (e.g. {sorted(missing)[:3]}), "
            f"{len(unexpected)} unexpected keys (e.g. {sorted(unexpected)[:3]}).{hint}"
        )
    shapes = {k: v.shape for k, v in build_features(backbone).state_dict().items()}
    for key, value in cleaned.items():
        want = shapes[key]
        if value.shape != want:
            raise WeightsError(
                f"{source}: tensor {key} has shape {tuple(value.shape)}, expected {tuple(want)} for {backbone}"
            )
    check_finite(cleaned, source)
    return {k: v.float() for k, v in cleaned.items()}


def local_vgg_weights(backbone: str) -> Path | None:
    """The weights file already on this machine (``NST_VGG*_WEIGHTS`` or torchvision's cache), or None.

    Never downloads: a server uses it to load the network at startup only when that costs no network."""
    env = os.environ.get(ENV_VARS[backbone], "").strip()
    path = Path(env) if env else torchvision_cache_file(backbone)
    return path if path.is_file() else None


def locate_vgg_weights(backbone: str, vgg_weights: str | os.PathLike | None = None) -> Path:
    """The file the weights will be read from, downloading torchvision's into its cache if allowed."""
    if backbone not in BACKBONES:
        raise WeightsError(f"no weights for unknown backbone {backbone!r}")
    if vgg_weights:
        return check_file(vgg_weights, "weights file")
    env = os.environ.get(ENV_VARS[backbone], "").strip()
    if env:
        try:
            return check_file(env, f"{ENV_VARS[backbone]} points at a file that cannot be used:")
        except WeightsError as exc:
            raise WeightsError(f"{exc}. {how_to_fix(backbone)}", person=_person(backbone)) from None
    cached = torchvision_cache_file(backbone)
    if cached.is_file():
        return cached
    if offline():
        raise WeightsError(
            f"The pretrained {backbone} weights are not here and this machine is offline "
            f"(NST_OFFLINE, HF_HUB_OFFLINE, or no network). {how_to_fix(backbone)}",
            person=_person(backbone),
        )
    try:
        torch.hub.load_state_dict_from_url(
            _TORCHVISION_URLS[backbone], progress=True, check_hash=True, map_location="cpu"
        )
    except Exception as exc:  # no network, HTTP errors, hash mismatch
        raise WeightsError(
            f"The pretrained {backbone} weights could not be downloaded ({type(exc).__name__}: "
            f"{str(exc)[:200]}). {how_to_fix(backbone)}",
            person=_person(backbone),
        ) from exc
    return cached


def load_vgg(
    backbone: str = "vgg19",
    pooling: str = "max",
    vgg_weights: str | os.PathLike | None = None,
    device: torch.device | str = "cpu",
) -> VGGFeatures:
    """A frozen, pretrained VGG on ``device``; loaded once per (file, pooling, device) and cached."""
    path = locate_vgg_weights(backbone, vgg_weights)
    stat = path.stat()
    key = (backbone, pooling, str(path.resolve()), stat.st_mtime_ns, stat.st_size, str(device))

    def load() -> VGGFeatures:
        state = features_state_dict(read_state_dict(path), backbone, f"weights file '{path}'")
        return VGGFeatures(backbone, state, pooling=pooling).to(device)

    return _CACHE.get(key, load)


def clear_cache() -> None:
    """Forget loaded networks (tests, or to free memory)."""
    _CACHE.clear()
