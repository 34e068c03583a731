"""Where the faces of a photo are, and the soft mask that keeps them (``keep_faces``).

Gatys' method treats a face like any other texture: at the page's defaults a style's strokes cross
eyes and mouths. Selim, Elgharib and Doyle ("Painting style transfer for head portraits", 2016) keep a
portrait's structure with spatially varying gains; here the gains are the mask's, on both terms (see
:func:`nst.targets.build_terms`): inside a soft mask around each face the style's statistics weigh its
positions ``1 - face_strength`` as much, and the content loss weighs ``1 + CONTENT_GAIN * face_strength``
times as much; the rest of the picture is painted as before.

Detection is MTCNN (Zhang et al. 2016) from ``facenet-pytorch``, whose three small networks (2 MB)
come inside its PyPI package, so nothing is downloaded at run time. On the benchmark's 9 faces (a group
photo with three-quarter and near-profile faces, and three portraits) it found all 9 at 256, 384 and 512
px with no false positive on 13 face-free pictures, where OpenCV's Haar cascades (169 MB installed against
2 MB) found 5 of 9 at 256 px and boxed a fist and a sky (``benchmarks/results/face-detector-cpu.md``). It
runs on the CPU, where a request is prepared: 0.05 to 0.25 s at the app's sizes on two cores.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from PIL import Image

from .geometry import Canvas
from .images import resize_to
from .model_cache import ModelCache

#: Smallest face looked for, in pixels of the photo as the run uses it: MTCNN's first network reads 12 px
#: cells, and a face this small at 256 px is still one that a painting's stroke can wipe out.
MIN_FACE = 12
#: Longest side a photo is looked at: a larger one is shrunk to it first and the boxes scaled back. MTCNN's
#: pyramid starts at the photo's own size, so a 4096 px photo took 4.8 s and 1.7 GB more memory (1024 px:
#: 0.4 s); at 1024 px a face still counts from 1.2 % of the picture's side, 48 px of a 4096 px poster.
DETECT_SIDE = 1024
#: MTCNN's final confidence needed to count a face, a margin over its own last-stage 0.7: on the detector
#: benchmark every true face scored at least 0.984 and no box on a face-free picture reached 0.7.
MIN_SCORE = 0.95
#: The mask around a face box (MTCNN's box runs from the eyebrows to the chin): an ellipse this many
#: times the box's half-width and half-height, centred this share of the box's height above its centre,
#: fading to 0 over ``FEATHER`` of its radius (a raised cosine). Chosen on the portraits of
#: ``benchmarks/bench_faces.py`` (results/faces-cpu.md, "How the defaults were chosen"): larger masks left
#: hats and hair unpainted and raised the whole picture's style distance far more than the face gained.
WIDEN, HEIGHTEN, RAISE, FEATHER = 0.9, 1.0, 0.05, 0.35
#: How much more the content weighs on a face at face_strength 1 (1 + CONTENT_GAIN times). A content gain
#: alone (10, style untouched) lowered the astronaut's face distance by 21 % at most (and raised it by 3 %
#: with Starry Night); with the style lifted, a gain of 2 kept faces as well as 4 and lost less of the
#: painting (the same results file).
CONTENT_GAIN = 2.0

_CACHE: ModelCache = ModelCache(limit=1)


@dataclass(frozen=True)
class Face:
    """One face found in a photo: its box (left, top, right, bottom, in the photo's pixels) and score."""

    box: tuple[float, float, float, float]
    score: float


def _detector() -> Any:
    """facenet-pytorch's MTCNN, imported and loaded on first use, then held."""

    def load() -> Any:
        from facenet_pytorch import MTCNN

        return MTCNN(keep_all=True, min_face_size=MIN_FACE, device="cpu").eval()

    return _CACHE.get("mtcnn", load)


def find_faces(photo: Image.Image) -> tuple[Face, ...]:
    """The faces in ``photo`` with a score of at least ``MIN_SCORE``, largest first (boxes in ``photo``'s
    pixels); none on a photo without faces. Looked for at most ``DETECT_SIDE`` px on the long side."""
    shown = Canvas.of(photo)
    looked = shown.fit(min(shown.size, DETECT_SIDE))
    small = photo if looked == shown else resize_to(photo, looked)
    with torch.inference_mode():
        boxes, scores = _detector().detect(small.convert("RGB"))
    if boxes is None:
        return ()
    scale = np.array([shown.width / looked.width, shown.height / looked.height] * 2)
    found = [
        Face(tuple(float(v) for v in box * scale), float(score))  # type: ignore[arg-type]
        for box, score in zip(np.asarray(boxes, dtype=np.float64), np.asarray(scores, dtype=np.float64))
        if score >= MIN_SCORE
    ]
    return tuple(sorted(found, key=lambda f: -(f.box[2] - f.box[0]) * (f.box[3] - f.box[1])))


def face_mask(faces: Sequence[Face], found_on: Canvas, canvas: Canvas) -> torch.Tensor:
    """The faces' soft mask on ``canvas`` as a (1, 1, H, W) tensor in [0, 1]: 1 on each face, fading out
    over a band scaled to the face's size; boxes are in pixels of a photo of shape ``found_on``."""
    sx, sy = canvas.width / found_on.width, canvas.height / found_on.height
    ys = torch.arange(canvas.height, dtype=torch.float32)[:, None] + 0.5
    xs = torch.arange(canvas.width, dtype=torch.float32)[None, :] + 0.5
    mask = torch.zeros(canvas.height, canvas.width)
    for face in faces:
        left, top, right, bottom = face.box
        half_w, half_h = (right - left) / 2 * sx * WIDEN, (bottom - top) / 2 * sy * HEIGHTEN
        cx = (left + right) / 2 * sx
        cy = ((top + bottom) / 2 - RAISE * (bottom - top)) * sy
        radius = torch.sqrt(((xs - cx) / max(half_w, 0.5)) ** 2 + ((ys - cy) / max(half_h, 0.5)) ** 2)
        t = ((radius - 1) / FEATHER).clamp(0, 1)
        mask = torch.maximum(mask, 0.5 + 0.5 * torch.cos(math.pi * t))
    return mask[None, None]


def faces_kept(faces: Sequence[Face]) -> str:
    """What a run did with faces, in words for the page and the CLI: "kept 2 faces", "found no face"."""
    if not faces:
        return "found no face to keep"
    return f"kept {len(faces)} face{'s' if len(faces) > 1 else ''}"
