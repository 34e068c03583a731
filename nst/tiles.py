"""Tiled optimization: pictures larger than memory, with the whole picture's style statistics.

One optimization step holds VGG's activations and their gradients for every output pixel (about
1.7 KB each), so memory, not time, decides the largest picture. Here a large picture is cut into
tiles and one step runs tile by tile, with memory bounded by the tile, yet the step computes the
loss and gradient of the *whole* picture:

* **Features.** Each tile is its *core* (the pixels it answers for) plus a *halo* of context, at
  least :func:`nst.layers.reach` of the deepest layer used, so the zero padding at the tile's edge
  never reaches the core; cores and halos sit on a 16 px grid, so every pooling grid lines up
  with the whole picture's. The features at a core's positions are then the whole picture's.
* **Statistics.** The style terms are functions of sums over positions (a Gram matrix is
  ``sum_i f_i f_i^T``; the means, variances and histograms of the other statistics are sums too).
  A first pass without gradients adds up every tile's sums; the term's value comes from the
  totals, and one small autograd call gives its gradient with respect to them, ``dL/dS``. A second
  pass backpropagates ``<dL/dS, S_tile>`` through each tile: by the chain rule, exactly that tile's
  part of the whole picture's gradient, every tile seeing the global statistic.
* **Local terms** (content: a mean over positions) are added up tile by tile; the pixel terms (TV,
  photorealism) read no network and run on the whole picture.
* **Overlaps.** A pixel in one tile's halo and another's core gets both tiles' contributions,
  summed: that sum *is* the whole picture's gradient there, so nothing is cross-faded and there is
  no seam to hide (``benchmarks/bench_tiles.py`` measures the gradient energy along tile borders).

Not exact (documented in the README): ``mmd-gauss`` compares every output position with a fixed
random sample of 512 positions of the whole picture, gathered in the first pass (the whole picture
compares positions within random blocks of 512: the same expectation, another estimate); the
histogram loss ranks each value by a histogram of the whole picture (:data:`HIST_BINS` bins per
channel) instead of sorting every value. Everything else is exact up to float rounding.

Cost: two network passes per tile and step (sums, then gradients), and the halos are computed by
both neighbours; about 2-3x the arithmetic of a step on the whole picture.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import torch

from .geometry import Canvas
from .layers import layer_grid, layer_stride, reach
from .loss_scale import LossScale
from .vgg import VGGFeatures

#: Tile cores and halos start on multiples of this: the product of the pools before VGG's last block.
ALIGN = 16
#: Bins per channel of the whole picture's histogram that ranks values for the histogram loss.
HIST_BINS = 1024


def halo(backbone: str, layers: Sequence[str]) -> int:
    """Context around a tile's core so the deepest of ``layers`` is exact there, on the ALIGN grid."""
    depth = max(reach(backbone, layer) for layer in layers)
    return math.ceil(depth / ALIGN) * ALIGN


@dataclass(frozen=True)
class Tile:
    """One tile of a picture: its core, and the window (core plus halo) the network sees."""

    core: tuple[int, int, int, int]  #: top, left, bottom, right, in pixels of the picture
    window: tuple[int, int, int, int]  #: the core with its halo, clipped to the picture
    canvas: Canvas  #: the whole picture

    def crop(self, image: torch.Tensor) -> torch.Tensor:
        top, left, bottom, right = self.window
        return image[..., top:bottom, left:right]

    @property
    def share(self) -> float:
        """The core's share of the picture's pixels (the shares of all tiles add up to 1)."""
        top, left, bottom, right = self.core
        return (bottom - top) * (right - left) / self.canvas.pixels

    def cells(self, layer: str) -> tuple[slice, slice]:
        """The core's rows and columns in the whole picture's grid at ``layer``."""
        s = layer_stride(layer)
        grid = layer_grid(self.canvas, layer)
        top, left, bottom, right = self.core
        return (
            slice(top // s, grid.height if bottom == self.canvas.height else bottom // s),
            slice(left // s, grid.width if right == self.canvas.width else right // s),
        )

    def core_of(self, features: torch.Tensor, layer: str) -> torch.Tensor:
        """The part of the window's features at ``layer`` that lies in the core."""
        s = layer_stride(layer)
        rows, cols = self.cells(layer)
        top, left = self.window[0] // s, self.window[1] // s
        return features[..., rows.start - top : rows.stop - top, cols.start - left : cols.stop - left]

    def region(self, whole: torch.Tensor, layer: str) -> torch.Tensor:
        """The core's part of a tensor on the whole picture's grid at ``layer`` (..., h, w)."""
        rows, cols = self.cells(layer)
        return whole[..., rows, cols]

    def positions(self, layer: str) -> tuple[torch.Tensor, int]:
        """The core's places in the whole picture's grid at ``layer`` (flat, row-major, ascending), and
        the number of places in that grid."""
        grid = layer_grid(self.canvas, layer)
        rows, cols = self.cells(layer)
        places = torch.arange(rows.start, rows.stop)[:, None] * grid.width + torch.arange(
            cols.start, cols.stop
        )
        return places.reshape(-1), grid.pixels

    def weights_of(self, weights: torch.Tensor | None, layer: str) -> torch.Tensor | None:
        """The core's part of one weight per position of the whole grid, flattened (None stays None)."""
        if weights is None:
            return None
        return self.region(weights.view(layer_grid(self.canvas, layer).hw), layer).reshape(-1)


def _cuts(length: int, core: int) -> list[tuple[int, int]]:
    """Equal-ish cuts of at most ``core`` (a multiple of ALIGN) on the ALIGN grid; the last ends at ``length``."""
    count = math.ceil(length / core)
    step = math.ceil(math.ceil(length / count) / ALIGN) * ALIGN
    starts = list(range(0, length, step))
    return list(zip(starts, starts[1:] + [length]))


def plan_tiles(canvas: Canvas, core: int, halo_px: int) -> list[Tile]:
    """The tiles of a picture of ``canvas`` with cores of at most ``core`` px (rounded down to ALIGN)."""
    core = max(ALIGN, core // ALIGN * ALIGN)
    width, height = canvas
    return [
        Tile(
            (top, left, bottom, right),
            (
                max(0, top - halo_px),
                max(0, left - halo_px),
                min(height, bottom + halo_px),
                min(width, right + halo_px),
            ),
            canvas,
        )
        for top, bottom in _cuts(height, core)
        for left, right in _cuts(width, core)
    ]


def tile_features(
    net: VGGFeatures, image: torch.Tensor, layers: Sequence[str], tiles: Sequence[Tile]
) -> Iterator[tuple[Tile, dict[str, torch.Tensor]]]:
    """Each tile with the features of its core at ``layers`` (in the caller's grad mode)."""
    for tile in tiles:
        feats = net(tile.crop(image), layers)
        yield tile, {layer: tile.core_of(f, layer) for layer, f in feats.items()}


def assemble(
    net: VGGFeatures, image: torch.Tensor, layers: Sequence[str], tiles: Sequence[Tile]
) -> dict[str, torch.Tensor]:
    """The whole image's features at ``layers``, computed tile by tile (no gradients)."""
    canvas = Canvas.of(image)
    out: dict[str, torch.Tensor] = {}
    with torch.no_grad():
        for tile, feats in tile_features(net, image, layers, tiles):
            for layer, f in feats.items():
                if layer not in out:
                    out[layer] = f.new_empty((1, f.shape[1], *layer_grid(canvas, layer).hw))
                tile.region(out[layer], layer).copy_(f)
    return out


@dataclass
class Prepared:
    """What a term knows once the whole picture's sums are in: its value from them, and dL/dsums."""

    value: torch.Tensor
    grads: dict[Any, torch.Tensor] = field(default_factory=dict)
    sums: dict[Any, torch.Tensor] = field(default_factory=dict)


def prepare_sums(sums: Mapping[Any, torch.Tensor], value_of: Any) -> Prepared:
    """The value ``value_of(sums)`` and its gradient with respect to every sum it reads."""
    leaves = {key: s.detach().clone().requires_grad_(True) for key, s in sums.items()}
    with torch.enable_grad():
        value = value_of(leaves)
        if not isinstance(value, torch.Tensor) or not value.requires_grad:
            return Prepared(torch.as_tensor(value, dtype=torch.float32).detach(), {}, dict(sums))
        keys = list(leaves)
        grads = torch.autograd.grad(value, [leaves[k] for k in keys], allow_unused=True)
    return Prepared(
        value.detach().float(),
        {k: g for k, g in zip(keys, grads) if g is not None},
        {k: s.detach() for k, s in sums.items()},
    )


def pair(grads: Mapping[Any, torch.Tensor], own: Mapping[Any, torch.Tensor]) -> torch.Tensor:
    """``sum_k <dL/dS_k, S_k(tile)>``: differentiated, the tile's exact part of the gradient."""
    parts = [(g.to(own[key].device) * own[key]).sum() for key, g in grads.items()]
    return torch.stack(parts).sum() if parts else torch.zeros(())


class TiledTerm(Protocol):
    """A loss term that reads the network, computed tile by tile (see the module docstring)."""

    name: str
    layers: tuple[str, ...]

    def tile_sums(self, features: Mapping[str, torch.Tensor], tile: Tile) -> dict[Any, torch.Tensor]:
        """This tile's part of the sums the term's value depends on (summed over tiles by the caller)."""
        ...

    def prepare(self, sums: Mapping[Any, torch.Tensor], canvas: Canvas) -> Prepared: ...

    def tile_loss(
        self, features: Mapping[str, torch.Tensor], tile: Tile, prepared: Prepared
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(what to differentiate: the tile's exact part of the gradient; the tile's part of the value
        beyond ``prepared.value``)."""
        ...


class TiledObjective:
    """The weighted terms of a step and their gradient into ``x.grad``, one tile at a time.

    ``terms`` that read no network layer (TV, photorealism) are evaluated on the whole picture.
    Returns the weighted value of each term, in the order given.
    """

    def __init__(
        self,
        net: VGGFeatures,
        terms: Sequence[tuple[Any, float]],
        tiles: Sequence[Tile],
    ) -> None:
        self.net, self.terms, self.tiles = net, list(terms), list(tiles)
        self.network_terms = [k for k, (term, _) in enumerate(self.terms) if term.layers]
        self.taps = sorted({layer for term, _ in self.terms for layer in term.layers})
        self.loss_scale = LossScale(net.dtype)

    def _features(self, crop: torch.Tensor, tile: Tile) -> dict[str, torch.Tensor]:
        feats = self.net(crop, self.taps)
        return {layer: tile.core_of(f, layer) for layer, f in feats.items()}

    def __call__(self, x: torch.Tensor, gradient: bool = True) -> list[torch.Tensor]:
        canvas = Canvas.of(x)
        sums: dict[int, dict[Any, torch.Tensor]] = {k: {} for k in self.network_terms}
        with torch.no_grad():
            for tile in self.tiles:
                feats = self._features(tile.crop(x), tile)
                for k in self.network_terms:
                    for key, value in self.terms[k][0].tile_sums(feats, tile).items():
                        sums[k][key] = sums[k][key] + value if key in sums[k] else value
                del feats
        prepared = {k: self.terms[k][0].prepare(sums[k], canvas) for k in self.network_terms}
        del sums
        values = {k: self.terms[k][1] * prepared[k].value.to(x.device) for k in self.network_terms}
        if gradient and x.grad is None:
            x.grad = torch.zeros_like(x)
        for tile in self.tiles:
            crop = tile.crop(x).detach().requires_grad_(gradient)
            with torch.set_grad_enabled(gradient):
                feats = self._features(crop, tile)
                surrogate = torch.zeros((), device=x.device)
                for k in self.network_terms:
                    term, weight = self.terms[k]
                    differentiate, local = term.tile_loss(feats, tile, prepared[k])
                    surrogate = surrogate + weight * differentiate.to(x.device)
                    values[k] = values[k] + weight * local.detach().to(x.device)
                if gradient and surrogate.requires_grad:
                    self.loss_scale.backward(surrogate, crop)
                    tile.crop(x.grad).add_(crop.grad)
            del feats, surrogate, crop
        for k, (term, weight) in enumerate(self.terms):
            if k in values:
                continue
            with torch.set_grad_enabled(gradient):
                value = weight * term({}, x)
                if gradient:
                    value.backward()
            values[k] = value.detach()
        return [values[k] for k in range(len(self.terms))]
