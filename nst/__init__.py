"""nst: neural style transfer (Gatys optimization and its extensions, CycleGAN painters).

The public API in one place; see README for a tour. Names are imported when first used, so
``import nst`` (and ``python -m nst --help``) does not load torch.
"""

from __future__ import annotations

import importlib
from typing import Any

#: Each public name and the module it lives in.
_PUBLIC = {
    "ImageError": "errors",
    "NSTError": "errors",
    "ResourceError": "errors",
    "SettingsError": "errors",
    "Stopped": "errors",
    "WeightsError": "errors",
    "Settings": "settings",
    "Canvas": "geometry",
    "StepInfo": "engine",
    "StyleResult": "engine",
    "load_image": "images",
    "save_image": "images",
    "Limits": "requests",
    "PaintRequest": "requests",
    "StylizeRequest": "requests",
    "TextureRequest": "requests",
    "stylize": "requests",
    "synthesize_texture": "requests",
    "VideoRequest": "video",
    "VideoResult": "video",
    "stylize_video": "video",
}

__all__ = sorted(_PUBLIC)
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    if name not in _PUBLIC:
        raise AttributeError(f"module 'nst' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_PUBLIC[name]}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_PUBLIC))
