"""The loss terms of one scale, with every target computed once, before the first step.

Targets come from the content image (its features at the content layers) and the style images
(Gram matrices, or the features a distribution loss compares with). Images too large for one
pass of the network go through it in tiles (:mod:`nst.tiles`): the content's features are put
together from the tiles' cores, a style's Gram matrix is the sum of its tiles'. A distribution
loss keeps each style's features at its layers; where a layer holds more than
``MAX_HELD_FLOATS`` values, a random sample of its positions is kept (fixed by the seed), so a
poster-size style does not hold gigabytes of features.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from . import faces
from .errors import Stopped
from .geometry import Canvas
from .layers import layer_grid
from .losses import ContentLoss, GramStyleLoss, LossTerm, TVLoss, gram_matrix, gram_sum
from .memory import MAX_HELD_FLOATS
from .photo import PhotoLoss
from .regions import Region, layer_mask, layer_weights, mask_tensor, plain_regions
from .settings import Settings
from .style_losses import (
    DistributionStyleLoss,
    Kind,
    RegionTarget,
    make_kind,
    mixture_samples,
    region_target,
)
from .tiles import Tile, assemble, tile_features
from .vgg import VGGFeatures

#: Tiles for an image of a canvas, or None to pass it whole.
TilesFor = Callable[[Canvas], "list[Tile] | None"]


def check_stop(stop: threading.Event | None) -> None:
    """Raise :class:`~nst.errors.Stopped` when ``stop`` is set (polled while targets are built)."""
    if stop is not None and stop.is_set():
        raise Stopped("the run was stopped before its first step")


@dataclass
class Held:
    """One style image's features at one layer, kept for a distribution loss: every position, or a sample."""

    feats: torch.Tensor  #: (C, P) float32
    grid: Canvas  #: the layer's grid of positions
    index: torch.Tensor | None  #: the kept positions (flat, row-major); None: all, in order

    def weights(self, mask: torch.Tensor | None) -> torch.Tensor | None:
        """A style mask's weight at each kept position."""
        weights = layer_weights(mask, self.grid)
        return weights if weights is None or self.index is None else weights[self.index.to(weights.device)]


def _rate(features_channels: int, grid: Canvas) -> float:
    """The share of a layer's positions that fits in MAX_HELD_FLOATS."""
    return min(1.0, MAX_HELD_FLOATS / (features_channels * grid.pixels))


def _hold(features: torch.Tensor, gen: torch.Generator) -> Held:
    """Features (1, C, h, w) of a whole image, sampled when over MAX_HELD_FLOATS."""
    c, grid = features.shape[1], Canvas.of(features)
    flat = features[0].reshape(c, grid.pixels)
    rate = _rate(c, grid)
    if rate >= 1.0:
        return Held(flat.float(), grid, None)
    index = torch.randperm(grid.pixels, generator=gen)[: max(1, round(grid.pixels * rate))].sort().values
    return Held(flat[:, index.to(flat.device)].float(), grid, index)


def _hold_tiles(parts: list[tuple[torch.Tensor, torch.Tensor]], grid: Canvas) -> Held:
    return Held(torch.cat([f for f, _ in parts], 1), grid, torch.cat([i for _, i in parts]))


def _sample_core(
    features: torch.Tensor, tile: Tile, layer: str, gen: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """A tile's share of a sampled layer: (features (C, k), their flat positions in the whole grid)."""
    c, w = features.shape[1], features.shape[-1]
    grid = layer_grid(tile.canvas, layer)
    rows, cols = tile.cells(layer)
    count = Canvas.of(features).pixels
    keep = max(1, round(count * _rate(c, grid)))
    local = torch.randperm(count, generator=gen)[:keep].sort().values if keep < count else torch.arange(count)
    index = (rows.start + local // w) * grid.width + cols.start + local % w
    return features[0].reshape(c, count)[:, local.to(features.device)].float(), index


def _distribution_targets(
    kind: Kind,
    layers: Sequence[str],
    style_feats: Sequence[dict[str, Held]],
    styles: Sequence[torch.Tensor],
    regions: Sequence[Region],
    canvas: Canvas,
    stop: threading.Event | None,
    style_gain: torch.Tensor | None = None,
) -> dict[str, list[RegionTarget]]:
    """Per layer, the target of every region: the region's output positions and its style samples.
    ``style_gain`` (1, 1, H, W) on ``canvas`` weighs every region's output positions (less on faces)."""
    device = styles[0].device
    out_masks = [mask_tensor(r.mask, canvas, device) for r in regions]
    if style_gain is not None:
        out_masks = [style_gain if m is None else m * style_gain for m in out_masks]
    style_masks = [[mask_tensor(m, Canvas.of(styles[k]), device) for k, m, _ in r.sources] for r in regions]
    targets: dict[str, list[RegionTarget]] = {}
    for layer in layers:
        check_stop(stop)
        grid = layer_grid(canvas, layer)
        found = []
        for region, out_mask, s_masks in zip(regions, out_masks, style_masks):
            parts = []
            for (k, _, weight), s_mask in zip(region.sources, s_masks):
                held = style_feats[k][layer]
                parts.append((held.feats, held.weights(s_mask), weight))
            target = region_target(kind, mixture_samples(parts), layer_weights(out_mask, grid))
            if target is not None:
                found.append(target)
        targets[layer] = found
    return targets


def style_grams(net: VGGFeatures, style: torch.Tensor, layers: Sequence[str]) -> dict[str, torch.Tensor]:
    """The Gram matrices of ``style`` at ``layers``, computed once per network, image and layers.

    The key holds everything they depend on: the style tensor's bytes (so its size, and with it the
    style scale and the run's scale), its shape, the layers and the convolutions' dtype; the network
    itself (weights, pooling, device) holds the cache. A server that gets the same painting again
    (an example clicked twice, one upload with several photos) skips its forward pass at every scale.
    """
    pixels = style.detach().to("cpu", torch.float32).contiguous().numpy().tobytes()
    key = (hashlib.blake2b(pixels, digest_size=16).hexdigest(), tuple(style.shape), tuple(layers), net.dtype)
    return net.style_grams.get(
        key, lambda: {layer: gram_matrix(f) for layer, f in net(style, layers).items()}
    )


def build_terms(
    settings: Settings,
    net: VGGFeatures,
    content: torch.Tensor | None,
    styles: Sequence[torch.Tensor],
    *,
    regions: Sequence[Region] | None = None,
    canvas: Canvas,
    stop: threading.Event | None = None,
    tiles_for: TilesFor | None = None,
    face_mask: torch.Tensor | None = None,
) -> list[tuple[LossTerm, float]]:
    """The weighted loss terms for one scale, with every target computed once, here.

    ``canvas`` is the output's shape at this scale; ``content`` is None for texture synthesis;
    ``regions`` None means every style everywhere, mixed with ``settings.style_blend``.
    Style images go through the network one at a time: Gram matrices are reduced at once and
    only the layers a distribution loss needs are kept, so memory holds one style's full
    features, never all of them (nor a copy). ``tiles_for`` says which images pass in tiles
    (see the module docstring). ``stop`` is polled between styles and layers. ``face_mask`` (1, 1, H, W)
    on ``canvas`` is where the faces are (``keep_faces``, :mod:`nst.faces`).
    """

    def tiles_of(image: torch.Tensor) -> list[Tile] | None:
        return tiles_for(Canvas.of(image)) if tiles_for is not None else None

    blend = settings.blend_weights(len(styles))
    # keep_faces: the style's positions weigh less on faces (a guided statistic, as a mask's), the content more.
    style_gain = None if face_mask is None else 1.0 - settings.face_strength * face_mask
    plain_gram = settings.style_loss == "gram" and regions is None
    gram_layers = settings.style_layers if settings.style_weight and plain_gram else ()
    kept = set(settings.style_layers if settings.style_weight and not plain_gram else ())
    kept |= set(settings.hist_layers if settings.hist_weight else ())
    taps = sorted(set(gram_layers) | kept)
    grams: dict[str, torch.Tensor] = {}
    style_feats: list[dict[str, Held]] = []
    gen = torch.Generator().manual_seed(settings.seed)
    # no_grad, not inference_mode: the targets meet the autograd graph of the image being optimized.
    with torch.no_grad():
        check_stop(stop)
        content_feats: dict[str, torch.Tensor] = {}
        if content is not None and settings.content_weight:
            tiles = tiles_of(content)
            content_feats = (
                net(content, settings.content_layers)
                if tiles is None
                else assemble(net, content, settings.content_layers, tiles)
            )
        for weight, style in zip(blend, styles) if taps else ():
            check_stop(stop)
            tiles = tiles_of(style)
            if tiles is None and not kept:
                found = style_grams(net, style, gram_layers)
            elif tiles is None:
                feats = net(style, taps)
                found = {layer: gram_matrix(feats[layer]) for layer in gram_layers}
                style_feats.append({layer: _hold(feats[layer], gen) for layer in kept})
                del feats
            else:
                found, parts = _tiled_style(net, style, taps, gram_layers, kept, tiles, gen, stop)
                grids = {layer: layer_grid(Canvas.of(style), layer) for layer in parts}
                style_feats.append({layer: _hold_tiles(p, grids[layer]) for layer, p in parts.items()})
            for layer, gram in found.items():
                grams[layer] = grams[layer] + weight * gram if layer in grams else weight * gram

    def distribution(kind: Kind, layers: Sequence[str]) -> dict[str, list[RegionTarget]]:
        where = regions or plain_regions(blend)
        return _distribution_targets(kind, layers, style_feats, styles, where, canvas, stop, style_gain)

    terms: list[tuple[LossTerm, float]] = []
    if content_feats:
        gains = None
        if face_mask is not None:
            gain = faces.CONTENT_GAIN * settings.face_strength
            gains = {
                layer: 1.0 + gain * layer_mask(face_mask, Canvas.of(f)) for layer, f in content_feats.items()
            }
        terms.append((ContentLoss(content_feats, gains), settings.content_weight_at(canvas)))
    if gram_layers:
        positions = None
        if style_gain is not None:
            positions = {layer: layer_mask(style_gain, layer_grid(canvas, layer)) for layer in gram_layers}
        terms.append((GramStyleLoss(grams, settings.layer_weights, positions), settings.style_weight))
    elif settings.style_weight:
        kind = make_kind(settings.style_loss, mmd_poly_c=settings.mmd_poly_c, seed=settings.seed)
        targets = distribution(kind, settings.style_layers)
        terms.append(
            (DistributionStyleLoss("style", kind, targets, settings.layer_weights), settings.style_weight)
        )
    if settings.hist_weight:
        kind = make_kind("hist")
        equal = (1.0 / len(settings.hist_layers),) * len(settings.hist_layers)
        targets = distribution(kind, settings.hist_layers)
        terms.append((DistributionStyleLoss("hist", kind, targets, equal), settings.hist_weight))
    if settings.tv_weight:
        terms.append((TVLoss(), settings.tv_weight))
    if settings.photo_weight and content is not None:
        check_stop(stop)
        terms.append((PhotoLoss(content), settings.photo_weight))
    return terms


def _tiled_style(
    net: VGGFeatures,
    style: torch.Tensor,
    taps: Sequence[str],
    gram_layers: Sequence[str],
    kept: set[str],
    tiles: Sequence[Tile],
    gen: torch.Generator,
    stop: threading.Event | None,
) -> tuple[dict[str, torch.Tensor], dict[str, list[tuple[torch.Tensor, torch.Tensor]]]]:
    """A style too large for one pass: its Gram matrices as sums over tiles, and its kept layers' samples."""
    canvas = Canvas.of(style)
    sums: dict[str, torch.Tensor] = {}
    parts: dict[str, list[tuple[torch.Tensor, torch.Tensor]]] = {layer: [] for layer in kept}
    for tile, feats in tile_features(net, style, taps, tiles):
        check_stop(stop)
        for layer in gram_layers:
            part = gram_sum(feats[layer])
            sums[layer] = sums[layer] + part if layer in sums else part
        for layer in kept:
            parts[layer].append(_sample_core(feats[layer], tile, layer, gen))
    grams = {layer: s / layer_grid(canvas, layer).pixels for layer, s in sums.items()}
    return grams, parts
