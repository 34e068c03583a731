"""The loss terms of Gatys et al.: content, style (Gram), and total variation.

Each term is a small callable object built once per run (and per scale) with its targets
already computed, so the optimization loop only runs the output image through the network
and compares. Terms report an unweighted loss; the engine multiplies by the weights.

Normalization: the paper's style loss for layer l with N_l channels and M_l positions is
``E_l = 1 / (4 N_l^2 M_l^2) * sum_ij (G_ij - A_ij)^2`` with ``G = F F^T``. Here the Gram
matrix is divided by M once (:func:`gram_matrix`), and :func:`gram_loss` divides by 4 N^2,
which is the same number when output and style have the same size, and stays meaningful
when they do not (style scale, non-square outputs). Gram matrices and sums are computed in
float32 even when the network runs in reduced precision.

Scale: the magnitude of VGG features depends on the weights file (torchvision's VGG19, a
Caffe-converted VGG16 and a random network differ by many orders of magnitude), so fixed
weights alpha and beta cannot give the same picture with every file. The terms the engine
builds therefore divide each layer's loss by a constant computed once from its target: the
style loss of layer l by its value for an all-zero Gram (``sum A^2 / (4 N^2)``), the content
loss by the mean square of the target features. Each layer then starts near 1 from a content
init, and ``style_weight / content_weight`` means the same thing for any weights file; it is
the paper's beta/alpha up to these per-layer constants.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import torch
import torch.nn.functional as F

from .geometry import Canvas
from .layers import layer_grid
from .tiles import Prepared, Tile, pair, prepare_sums


def gram_sum(features: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:
    """``F F^T`` of features shaped (B, C, H, W), summed over positions, in float32; returns (B, C, C).
    ``weights`` (B, 1, H, W) weigh each position's ``f f^T`` (the positions of a face count less).

    Sums over positions add up across the tiles of a picture (see :mod:`nst.tiles`).
    """
    b, c, h, w = features.shape
    if c > 1 and features.is_contiguous(memory_format=torch.channels_last) and not features.is_contiguous():
        # channels-last: (B, H*W, C) is a free view, and F F^T = (view)^T (view).
        flat = features.permute(0, 2, 3, 1).reshape(b, h * w, c).float()
        left = flat if weights is None else flat * weights.reshape(b, h * w, 1)
        return torch.bmm(left.transpose(1, 2), flat)
    flat = features.reshape(b, c, h * w).float()
    left = flat if weights is None else flat * weights.reshape(b, 1, h * w)
    return torch.bmm(left, flat.transpose(1, 2))


def gram_matrix(features: torch.Tensor) -> torch.Tensor:
    """Channel correlations ``F F^T / M`` of features shaped (B, C, H, W); returns (B, C, C)."""
    h, w = features.shape[-2:]
    return gram_sum(features).div_(h * w)


def gram_loss(gram: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """The paper's E_l from M-normalized Gram matrices: ``sum (G - A)^2 / (4 N^2)``."""
    n = gram.shape[-1]
    return (gram - target).pow(2).sum() / (4.0 * n * n)


def content_loss(features: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared difference of feature maps."""
    return F.mse_loss(features.float(), target.float())


def tv_loss(image: torch.Tensor) -> torch.Tensor:
    """Total variation: mean squared difference of vertically and horizontally adjacent pixels."""
    dy = image[..., 1:, :] - image[..., :-1, :]
    dx = image[..., :, 1:] - image[..., :, :-1]
    return dy.pow(2).mean() + dx.pow(2).mean()


class LossTerm(Protocol):
    """One term of the objective: its name, the VGG taps it reads, and its value."""

    name: str
    layers: tuple[str, ...]

    def __call__(self, features: Mapping[str, torch.Tensor], image: torch.Tensor) -> torch.Tensor: ...


_EPS = 1e-12


class ContentLoss:
    """Feature MSE to the content image, relative to the target's mean square, averaged over layers.

    ``gains`` (per layer, a (1, 1, h, w) map on its grid: ``1 + CONTENT_GAIN * face_strength * mask``)
    weigh some positions more: the mean stays over every position, so where the gain is 1 the term is as
    without it (the faces of ``keep_faces``, :mod:`nst.faces`)."""

    name = "content"

    def __init__(
        self, targets: Mapping[str, torch.Tensor], gains: Mapping[str, torch.Tensor] | None = None
    ) -> None:
        self.targets = {layer: t.float() for layer, t in targets.items()}
        self.gains = {layer: g.float() for layer, g in (gains or {}).items()}
        self.layers = tuple(self.targets)
        self.scales = {layer: 1.0 / (t.pow(2).mean().item() + _EPS) for layer, t in self.targets.items()}

    def _squares(
        self, features: torch.Tensor, target: torch.Tensor, gain: torch.Tensor | None
    ) -> torch.Tensor:
        squares = (features.float() - target).pow(2)
        return squares if gain is None else squares * gain

    def _loss(self, features: torch.Tensor, layer: str) -> torch.Tensor:
        target, gain = self.targets[layer], self.gains.get(layer)
        return (
            content_loss(features, target) if gain is None else self._squares(features, target, gain).mean()
        )

    def __call__(self, features: Mapping[str, torch.Tensor], image: torch.Tensor) -> torch.Tensor:
        total = sum(self.scales[layer] * self._loss(features[layer], layer) for layer in self.targets)
        return total / len(self.targets)

    # Tiled (nst.tiles): a mean over positions is the sum of every tile's part.
    def tile_sums(self, features: Mapping[str, torch.Tensor], tile: Tile) -> dict[Any, torch.Tensor]:
        return {}

    def prepare(self, sums: Mapping[Any, torch.Tensor], canvas: Canvas) -> Prepared:
        return Prepared(torch.zeros(()))

    def tile_loss(
        self, features: Mapping[str, torch.Tensor], tile: Tile, prepared: Prepared
    ) -> tuple[torch.Tensor, torch.Tensor]:
        total = sum(
            self.scales[layer]
            * self._squares(
                features[layer],
                tile.region(t, layer),
                tile.region(self.gains[layer], layer) if layer in self.gains else None,
            ).sum()
            / t.numel()
            for layer, t in self.targets.items()
        ) / len(self.targets)
        return total, total.detach()


class GramStyleLoss:
    """Gram-matrix style loss ``sum_l w_l E_l / E_l(0)`` with precomputed target Grams.

    ``positions`` (per layer, a (1, 1, h, w) map on its grid: ``1 - face_strength * mask`` for
    ``keep_faces``) weigh the output's positions: ``G = sum q f f^T / sum q``, the guided Gram matrix of
    Gatys et al.'s spatial control, and the layer's loss counts ``mean(q)`` times, as a masked region's
    does in :class:`nst.style_losses.DistributionStyleLoss` (the same value, without its copies of the
    features: a 512 px step costs 5 % more than the plain loss, not 20 %).
    """

    name = "style"

    def __init__(
        self,
        target_grams: Mapping[str, torch.Tensor],
        layer_weights: Sequence[float],
        positions: Mapping[str, torch.Tensor] | None = None,
    ) -> None:
        self.targets = {layer: g.float() for layer, g in target_grams.items()}
        self.layers = tuple(self.targets)
        self.weights = tuple(layer_weights)
        self.positions = {layer: q.float() for layer, q in (positions or {}).items()}
        self.scales = {
            layer: 1.0 / (gram_loss(torch.zeros_like(g), g).item() + _EPS)
            for layer, g in self.targets.items()
        }
        for layer, q in self.positions.items():  # a region's share of the picture, as a masked region's
            self.scales[layer] *= float(q.mean())

    def _gram(self, features: torch.Tensor, layer: str) -> torch.Tensor:
        q = self.positions.get(layer)
        return gram_matrix(features) if q is None else gram_sum(features, q).div_(q.sum())

    def __call__(self, features: Mapping[str, torch.Tensor], image: torch.Tensor) -> torch.Tensor:
        return sum(
            w * self.scales[layer] * gram_loss(self._gram(features[layer], layer), self.targets[layer])
            for layer, w in zip(self.layers, self.weights)
            if w
        )

    # Tiled (nst.tiles): the whole picture's F F^T (weighted or not) is the sum of its tiles'.
    def _tile_sum(self, features: Mapping[str, torch.Tensor], tile: Tile, layer: str) -> torch.Tensor:
        q = self.positions.get(layer)
        return gram_sum(features[layer], None if q is None else tile.region(q, layer))

    def tile_sums(self, features: Mapping[str, torch.Tensor], tile: Tile) -> dict[Any, torch.Tensor]:
        return {
            layer: self._tile_sum(features, tile, layer) for layer, w in zip(self.layers, self.weights) if w
        }

    def prepare(self, sums: Mapping[Any, torch.Tensor], canvas: Canvas) -> Prepared:
        def mass(layer: str) -> Any:
            q = self.positions.get(layer)
            return layer_grid(canvas, layer).pixels if q is None else q.sum()

        def value(totals: Mapping[Any, torch.Tensor]) -> torch.Tensor:
            return sum(
                w * self.scales[layer] * gram_loss(totals[layer] / mass(layer), self.targets[layer])
                for layer, w in zip(self.layers, self.weights)
                if w
            )

        return prepare_sums(sums, value)

    def tile_loss(
        self, features: Mapping[str, torch.Tensor], tile: Tile, prepared: Prepared
    ) -> tuple[torch.Tensor, torch.Tensor]:
        own = {layer: self._tile_sum(features, tile, layer) for layer in prepared.grads}
        return pair(prepared.grads, own), torch.zeros(())


class TVLoss:
    """Total-variation smoothness of the output pixels (reads no VGG layer)."""

    name = "tv"
    layers: tuple[str, ...] = ()

    def __call__(self, features: Mapping[str, torch.Tensor], image: torch.Tensor) -> torch.Tensor:
        return tv_loss(image)
