"""Optical flow for video: where each pixel of a frame came from, how to move a picture along it, and
where that can be trusted.

Video style transfer after Ruder, Dosovitskiy & Brox, "Artistic style transfer for videos" (GCPR 2016):
frame t's optimization starts from the previous stylized frame warped into frame t, and a temporal loss
holds the picture there except where the flow is unreliable (disocclusions, motion boundaries). This
module gives the three pieces:

* :func:`optical_flow`: dense flow between two frames, by OpenCV's DIS (Kroeger et al., ECCV 2016) or
  Farneback. The paper used DeepFlow/EpicFlow, which take seconds to minutes a frame; DIS takes 15-65 ms
  a flow at 256-512 px on one CPU core and finds known motion to within 0.06 px (``benchmarks/bench_flow.py``,
  ``benchmarks/results/flow-cpu.md``). RAFT, learned, needs a weights download and 0.4-2.6 s a flow at
  512 px on this CPU, as long as the style transfer step it serves.
* :func:`warp`: a picture (a torch tensor, on any device) sampled along a flow.
* :func:`reliable`: the paper's consistency check, as its authors' code computes it.

Convention everywhere: a flow from ``first`` to ``second`` is a float32 (H, W, 2) array of (dx, dy) in
pixels on ``first``'s grid with ``first(p) ≈ second(p + flow(p))``, so ``warp(second, flow)`` looks like
``first``. For video the flow wanted is the backward one, ``optical_flow(frame_t, frame_t_minus_1)``:
``warp(stylized_t_minus_1, it)`` is the previous picture moved into frame t.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from .checks import as_choice

FLOW_METHODS = ("dis", "farneback")
DEFAULT_FLOW = "dis"

#: DIS's settings: the MEDIUM preset (8 px patches every 3 px, 25 descent steps, variational refinement)
#: carried down to full resolution (finest scale 0; the preset stops at half, and OpenCV has no finer
#: preset). Measured against the presets (``benchmarks/results/flow-cpu.md``): full resolution halves
#: to thirds the endpoint error on pans and zooms and lowers the warping error on real footage by a sixth,
#: for 4x MEDIUM's time: about 15 ms a flow at 256 px and 65 ms at 512 px on one core, against 1.6 s for
#: one style transfer step at 512 px.
_DIS_PRESET = cv2.DISOPTICAL_FLOW_PRESET_MEDIUM
_DIS_FINEST_SCALE = 0

#: Farneback's parameters: a pyramid halving each level, as many levels as the frame allows (OpenCV stops
#: when a level gets too small, so 5 means "all" up to 512 px), the polynomial size 7 with sigma 1.5 that
#: OpenCV recommends with it, and 25 px windows, which carry the flow into textureless areas (sky) a
#: little better than 15 px ones (mean endpoint error 0.64 against 0.73 px on a 256 px pan).
_FARNEBACK = {
    "pyr_scale": 0.5,
    "levels": 5,
    "winsize": 25,
    "iterations": 3,
    "poly_n": 7,
    "poly_sigma": 1.5,
    "flags": 0,
}


def _gray(image: Image.Image | np.ndarray) -> np.ndarray:
    """The frame as gray uint8 (H, W), the input both OpenCV methods take (ITU-R 601 luma, as PIL's "L")."""
    if isinstance(image, Image.Image):
        return np.asarray(image.convert("L"))
    array = np.asarray(image)
    if array.dtype != np.uint8:
        raise ValueError(f"frames must be uint8, got {array.dtype}")
    if array.ndim == 2:
        return np.ascontiguousarray(array)
    return cv2.cvtColor(np.ascontiguousarray(array[..., :3]), cv2.COLOR_RGB2GRAY)


def optical_flow(
    first: Image.Image | np.ndarray, second: Image.Image | np.ndarray, method: str = DEFAULT_FLOW
) -> np.ndarray:
    """Dense flow from ``first`` to ``second``: float32 (H, W, 2) of (dx, dy) in pixels with
    ``first(p) ≈ second(p + flow(p))``.

    The frames are RGB images of one size (PIL, or uint8 (H, W, 3) or (H, W) arrays); the flow is
    computed on their luma. ``method`` is one of :data:`FLOW_METHODS`. A DIS object is made per call:
    it costs microseconds, so there is nothing to cache (and no state shared between threads).
    """
    method = as_choice(method, "flow", FLOW_METHODS)
    a, b = _gray(first), _gray(second)
    if a.shape != b.shape:
        raise ValueError(f"frames differ in size: {a.shape[::-1]} and {b.shape[::-1]}")
    if method == "dis":
        engine = cv2.DISOpticalFlow_create(_DIS_PRESET)
        engine.setFinestScale(_DIS_FINEST_SCALE)
        flow = engine.calc(a, b, None)
    else:
        flow = cv2.calcOpticalFlowFarneback(a, b, None, **_FARNEBACK)
    return np.asarray(flow, dtype=np.float32)


def warp(image: torch.Tensor, flow: np.ndarray | torch.Tensor, mode: str = "bilinear") -> torch.Tensor:
    """``image`` (N, C, H, W) sampled along ``flow``: ``out(p) = image(p + flow(p))``.

    ``flow`` is (H, W, 2) (the same for every image of the batch) or (N, H, W, 2), (dx, dy) in pixels.
    ``mode`` is grid_sample's: bilinear, or bicubic (sharper: a picture carried along the flow frame after
    frame blurs less; it may overshoot [0, 1] a little). The pixel-centre grid of ``align_corners=True``
    makes an integer flow move pixels exactly; samples beyond the edge repeat the border (a frame's edge
    is the best guess for what the camera has just brought into view). The result has ``image``'s dtype
    and device; half precision is sampled in float32.
    """
    n, _, height, width = image.shape
    work = image if image.dtype in (torch.float32, torch.float64) else image.float()
    flow = torch.from_numpy(np.array(flow)) if isinstance(flow, np.ndarray) else flow  # a copy: writable
    flow = flow.to(device=image.device, dtype=work.dtype)
    if flow.shape[-3:] != (height, width, 2):
        raise ValueError(f"flow of shape {tuple(flow.shape)} for images of {width}x{height}")
    ys, xs = torch.meshgrid(
        torch.arange(height, device=image.device, dtype=work.dtype),
        torch.arange(width, device=image.device, dtype=work.dtype),
        indexing="ij",
    )
    grid = torch.stack(
        (
            (xs + flow[..., 0]) * (2 / max(width - 1, 1)) - 1,
            (ys + flow[..., 1]) * (2 / max(height - 1, 1)) - 1,
        ),
        dim=-1,
    )
    if grid.dim() == 3:
        grid = grid.unsqueeze(0).expand(n, -1, -1, -1)
    out = F.grid_sample(work, grid, mode=mode, padding_mode="border", align_corners=True)
    return out.to(image.dtype)


def _bilinear(field: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``field`` (H, W, C) at the real points (x, y), bilinear; points beyond the edge are clamped to it."""
    height, width = field.shape[:2]
    x = np.clip(x, 0, width - 1)
    y = np.clip(y, 0, height - 1)
    x0 = np.floor(x).astype(np.intp)
    y0 = np.floor(y).astype(np.intp)
    x1 = np.minimum(x0 + 1, width - 1)
    y1 = np.minimum(y0 + 1, height - 1)
    ax = (x - x0)[..., None]
    ay = (y - y0)[..., None]
    top = (1 - ax) * field[y0, x0] + ax * field[y0, x1]
    bottom = (1 - ax) * field[y1, x0] + ax * field[y1, x1]
    return (1 - ay) * top + ay * bottom


def reliable(flow: np.ndarray, reverse: np.ndarray) -> np.ndarray:
    """Where ``flow`` (frame t -> frame t-1, on frame t's grid) can be trusted: float32 (H, W) of 1
    (trust) and 0.

    Ruder et al.'s two criteria (the paper's temporal consistency loss), computed as in the authors' code,
    ``consistencyChecker/consistencyChecker.cpp`` of github.com/manuelruder/artistic-videos, run there
    as ``consistencyChecker backward_t_t-1.flo forward_t-1_t.flo``. With ``w = flow(p)`` and
    ``ŵ = reverse(p + w)`` (the reverse flow, t-1 -> t, read bilinearly where ``w`` points):

    * disocclusion: a pixel that frame t-1 also shows must be carried back by ``ŵ`` to where it was;
      unreliable where ``|w + ŵ|² >= 0.01 (|w|² + |ŵ|²) + 0.5``;
    * motion boundary: unreliable where ``|∇u|² + |∇v|² > 0.01 |w|² + 0.002``, ``(u, v) = w`` (the
      checked flow's own gradient and magnitude, as the code computes it), the gradient
      by central differences ``(f(x+1) - f(x-1)) / 2`` with the edge repeated (the code's
      ``CDerivative(3)`` and mirrored rim);
    * and, as in the code, where ``p + w`` falls outside frame t-1.

    Two deliberate differences from the code: the code also blurs the mask (Gaussian, sigma 0.8, after
    setting disocclusions to -255) into soft weights; this mask stays 0/1. And the code counts a point
    on the last row or column of frame t-1 as outside (its bilinear read needs a pixel beyond it), so a
    still video loses one row and one column; here points up to the edge itself are inside. On the
    authors' own example (``example/deepflow``: three DeepFlow pairs with the masks their code made), this
    mask and theirs thresholded at one half agree on 99.9 % of the pixels.
    """
    flow = np.asarray(flow, dtype=np.float64)
    reverse = np.asarray(reverse, dtype=np.float64)
    if flow.shape != reverse.shape or flow.ndim != 3 or flow.shape[2] != 2:
        raise ValueError(f"flows of shapes {flow.shape} and {reverse.shape}; both must be (H, W, 2)")
    height, width = flow.shape[:2]
    ys, xs = np.mgrid[0:height, 0:width]
    tx, ty = xs + flow[..., 0], ys + flow[..., 1]
    inside = (tx >= 0) & (tx <= width - 1) & (ty >= 0) & (ty <= height - 1)
    back = _bilinear(reverse, tx, ty)
    length = (flow**2).sum(-1)
    disoccluded = ((flow + back) ** 2).sum(-1) >= 0.01 * (length + (back**2).sum(-1)) + 0.5
    padded = np.pad(flow, ((1, 1), (1, 1), (0, 0)), mode="edge")
    d_dx = (padded[1:-1, 2:] - padded[1:-1, :-2]) / 2
    d_dy = (padded[2:, 1:-1] - padded[:-2, 1:-1]) / 2
    boundary = (d_dx**2).sum(-1) + (d_dy**2).sum(-1) > 0.01 * length + 0.002
    return (inside & ~disoccluded & ~boundary).astype(np.float32)
