"""The temporal loss of Ruder, Dosovitskiy and Brox ("Artistic style transfer for videos", GCPR 2016).

Styled one by one, the frames of a video flicker: each optimization lands in a different minimum.
Ruder et al. start frame t from the previous result carried along the motion (warped by the optical
flow, :mod:`nst.flow`) and add a term that holds the picture there, except where the flow cannot be
trusted (occlusions, motion boundaries: :func:`nst.flow.reliable`):

    L_temporal(x, w, c) = 1/D * sum_k c_k (x_k - w_k)^2,   D = 3 H W

with ``w`` the warped previous frame and ``c`` the per-pixel weights (1 where reliable, 0 elsewhere),
the sum running over pixels and colour channels. It reads no network layer, so it costs nothing next
to a VGG pass, and a tiled run evaluates it on the whole picture (:class:`~nst.tiles.TiledObjective`).

Its weight (``temporal_weight``) is on the scale of the engine's other terms, which are each near 1
at the start (:mod:`nst.losses`): ``DEFAULT_TEMPORAL_WEIGHT`` was calibrated on clips with known
motion (``benchmarks/bench_video.py``, ``benchmarks/results/video-cpu.md``).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch

#: temporal_weight when none is given: see the module docstring and benchmarks/results/video-cpu.md.
DEFAULT_TEMPORAL_WEIGHT = 2000.0
#: Largest temporal_weight: beyond it the term alone decides every reliable pixel (the frame is a copy).
MAX_TEMPORAL_WEIGHT = 1e6


class TemporalLoss:
    """Squared departure from the warped previous frame where the flow is reliable, averaged over D."""

    name = "temporal"
    layers: tuple[str, ...] = ()

    def __init__(self, warped: torch.Tensor, reliable: torch.Tensor | np.ndarray) -> None:
        """``warped`` (1, 3, H, W) is the previous result carried into this frame; ``reliable`` (H, W) or
        (1, 1, H, W) is 1 where that is trustworthy, 0 where it is not (the term ignores those pixels)."""
        self.warped = warped.detach().float()
        weights = torch.as_tensor(reliable, dtype=torch.float32)
        self.weights = weights.reshape(1, 1, *warped.shape[-2:]).to(self.warped.device)

    def __call__(self, features: Mapping[str, torch.Tensor], image: torch.Tensor) -> torch.Tensor:
        squares = (image.float() - self.warped).pow(2) * self.weights
        return squares.sum() / image[0].numel()
