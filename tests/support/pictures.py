"""Small deterministic pictures for tests, and reading results back as arrays."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image


def make_picture(width: int, height: int, seed: int) -> Image.Image:
    """A small deterministic picture with smooth gradients, edges and texture."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width] / max(width, height)
    base = np.stack([xx, yy, 1 - xx * yy], axis=-1)
    stripes = 0.5 + 0.5 * np.sin(2 * np.pi * (xx * rng.uniform(2, 6) + yy * rng.uniform(2, 6)))[..., None]
    arr = 0.6 * base + 0.3 * stripes * rng.uniform(0.2, 1, size=3) + 0.1 * rng.random((height, width, 3))
    return Image.fromarray((np.clip(arr, 0, 1) * 255).astype(np.uint8), "RGB")


def texture(width: int, height: int, seed: int = 0) -> Image.Image:
    """A photo-like test image: smooth colour gradients plus fine noise (stationary statistics)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    base = np.stack([0.5 + 0.3 * np.sin(xx / 9.0 + c) * np.cos(yy / 13.0 - c) for c in range(3)], axis=-1)
    arr = np.clip(base + rng.normal(0, 0.08, size=base.shape), 0, 1)
    return Image.fromarray((arr * 255).round().astype(np.uint8), mode="RGB")


def rgb(path: str | Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


def pixels(path: str | Path) -> np.ndarray:
    """An image file as a float64 RGB array (0-255), for differences."""
    return rgb(path).astype(np.float64)


def as_array(im: Image.Image) -> np.ndarray:
    """A PIL image as an int16 array: differences of 8-bit levels without wrapping around."""
    return np.asarray(im, dtype=np.int16)
