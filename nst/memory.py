"""What a run costs in memory, how each scale fits in the device's budget, and whether it can run at all.

Per output pixel, a step holds VGG's activations and their gradients (BYTES_PER_PIXEL, measured),
and the run holds image-sized state: the image, its gradient, the best image so far, the optimizer's
vectors, the content target, and, for photorealism, the matting Laplacian (STATE_BYTES_PER_PIXEL,
content_bytes, PHOTO_BYTES_PER_PIXEL); L-BFGS adds one (s, y) pair per history vector
(HISTORY_BYTES_PER_PIXEL). A no-grad pass of a content or style image costs PASS_BYTES_PER_PIXEL.

Each scale gets a :class:`ScalePlan`: the whole picture when its step fits in the budget with a
useful L-BFGS history, else tiles (:mod:`nst.tiles`) as large as what is left allows, and a history
trimmed to the room. Image passes too large for half the budget run in tiles as well. So memory is
bounded by the budget, not the picture, and :func:`check_memory` only refuses a run whose image-sized
state alone would not leave room for a tile, before any image is decoded.

The budget (:func:`budget`) is NST_MEMORY_GB when set, else MEMORY_BUDGET_CPU on a CPU and 85 % of
a GPU's memory. Measured in ``benchmarks/bench_tiles.py`` and ``benchmarks/bench_memory.py``
(results in ``benchmarks/results/``).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

import torch

from .errors import ResourceError, SettingsError
from .geometry import Canvas
from .layers import channels, layer_stride
from .settings import MAX_SIZE, Settings
from .tiles import ALIGN, halo

#: Largest output (longest side) per device type. On a CPU a 4096 px step takes minutes.
MAX_SIZE_CPU = 4096
#: Memory a run may use on a CPU when NST_MEMORY_GB is not set: peaks stay under 6 GB.
MEMORY_BUDGET_CPU = 5.0e9
#: Peak bytes per output pixel of one optimization step with VGG19 (activations, gradients),
#: measured on the CPU in bf16 autocast: 1667.
BYTES_PER_PIXEL = 1700
#: Peak bytes per pixel of a no-gradient pass of an image through VGG19 (measured: 695).
PASS_BYTES_PER_PIXEL = 700
#: Image-sized float32 state: the image, its gradient, the best image, the content image, and the
#: optimizer's own vectors (L-BFGS: flat gradient, previous gradient, direction, step): 10 x 12 bytes.
STATE_BYTES_PER_PIXEL = 120
#: One L-BFGS history pair (s, y), float32 RGB.
HISTORY_BYTES_PER_PIXEL = 24
#: The matting Laplacian (25 non-zeros per pixel as a torch sparse matrix, and scipy's while it is built).
PHOTO_BYTES_PER_PIXEL = 1300
#: Style features kept per layer and style image for the distribution losses, in floats; more
#: positions are sampled at random (nst.engine).
MAX_HELD_FLOATS = 1 << 23
#: L-BFGS history: the paper's implementations keep 100 pairs; a whole picture needs at least
#: GOOD_HISTORY to be worth not tiling; a tiled one keeps at least MIN_HISTORY.
MAX_HISTORY, GOOD_HISTORY, MIN_HISTORY = 100, 20, 5
#: Smallest tile core worth running.
MIN_TILE = 64


def budget(device: torch.device) -> float:
    """Bytes one run may use on ``device``: NST_MEMORY_GB, or the device's default."""
    value = os.environ.get("NST_MEMORY_GB", "").strip()
    if value:
        try:
            gb = float(value)
        except ValueError:
            raise SettingsError(f"NST_MEMORY_GB is {value!r}; expected a number of gigabytes") from None
        if not 0 < gb < 1e6:
            raise SettingsError(f"NST_MEMORY_GB is {value!r}; expected a positive number of gigabytes")
        return gb * 1e9
    if device.type == "cuda":
        return 0.85 * torch.cuda.get_device_properties(device).total_memory
    return MEMORY_BUDGET_CPU


def max_size_for(device: torch.device) -> int:
    """Largest longest-side on the device: MAX_SIZE on a GPU (tiled beyond memory), MAX_SIZE_CPU on a CPU."""
    return MAX_SIZE if device.type == "cuda" else MAX_SIZE_CPU


def check_size(canvas: Canvas, device: torch.device) -> None:
    limit = max_size_for(device)
    if canvas.size > limit:
        raise SettingsError(
            f"size: {canvas.size} px is above this device's limit of {limit} px ({device.type})"
        )


def content_bytes(settings: Settings) -> float:
    """Bytes per output pixel of the content target (float32 features at the content layers)."""
    if not settings.content_weight:
        return 0.0
    return sum(4.0 * channels(settings.backbone, c) / layer_stride(c) ** 2 for c in settings.content_layers)


def state_bytes(settings: Settings) -> float:
    """Bytes per output pixel that a scale holds whether or not it is tiled."""
    photo = PHOTO_BYTES_PER_PIXEL if settings.photo_weight else 0.0
    return STATE_BYTES_PER_PIXEL + content_bytes(settings) + photo


def held_bytes(settings: Settings, n_styles: int, guided: bool = False) -> float:
    """Style features kept for the distribution losses: per layer and style, the style's features (a
    square of ``size * style_scale``) or at most MAX_HELD_FLOATS of them, counted twice (the kept
    features and the targets made from them). A ``guided`` run (masks, segmentations) keeps them for
    the Gram loss too."""
    layers = set(settings.hist_layers) if settings.hist_weight else set()
    if settings.style_weight and (settings.style_loss != "gram" or guided):
        layers |= set(settings.style_layers)
    side = settings.size * settings.style_scale
    floats = sum(
        min(MAX_HELD_FLOATS, channels(settings.backbone, layer) * (side / layer_stride(layer)) ** 2)
        for layer in layers
    )
    return 2 * 4.0 * floats * n_styles


@dataclass(frozen=True)
class ScalePlan:
    """How one scale runs: whole or in tiles, and with how much L-BFGS history."""

    tile: int | None  #: side of the tiles' cores in px; None: the whole picture at once
    history: int  #: L-BFGS history pairs (0 for Adam)


def _gb(value: float) -> str:
    return f"{value / 1e9:.3g} GB"


def plan_scale(
    canvas: Canvas,
    settings: Settings,
    device: torch.device,
    halo_px: int,
    n_styles: int = 1,
    guided: bool = False,
) -> ScalePlan:
    """Whole or tiled, and the history, for optimizing a picture of ``canvas`` (see the module docstring).

    ``settings.tile_size`` forces tiles of at most that size when the picture is larger.
    Raises ResourceError when the picture's own state leaves no room for a tile of MIN_TILE px.
    """
    pixels = canvas.pixels
    lbfgs = settings.optimizer == "lbfgs"
    held = held_bytes(settings, n_styles, guided)
    room = budget(device) - held - pixels * state_bytes(settings)
    forced = settings.tile_size is not None and canvas.size > settings.tile_size
    whole_room = room - pixels * BYTES_PER_PIXEL
    if not forced and whole_room >= 0:
        if not lbfgs:
            return ScalePlan(None, 0)
        history = int(whole_room // (pixels * HISTORY_BYTES_PER_PIXEL))
        if history >= GOOD_HISTORY:
            return ScalePlan(None, min(MAX_HISTORY, history))
    history = (
        min(MAX_HISTORY, max(MIN_HISTORY, int(0.4 * room // (pixels * HISTORY_BYTES_PER_PIXEL))))
        if lbfgs
        else 0
    )
    left = room - history * pixels * HISTORY_BYTES_PER_PIXEL
    window = math.sqrt(max(left, 0.0) / BYTES_PER_PIXEL)
    core = int(window - 2 * halo_px) // ALIGN * ALIGN
    if core < MIN_TILE:
        need = pixels * (state_bytes(settings) + history * HISTORY_BYTES_PER_PIXEL) + held
        raise ResourceError(
            f"a {canvas.width}x{canvas.height} px picture with these settings needs about {_gb(need)} for the "
            f"image, its gradient, the optimizer's history{', the matting Laplacian' if settings.photo_weight else ''}"
            f"{', the style features' if held else ''} alone, leaving no room for a "
            f"tile in the {_gb(budget(device))} a run may use on this device; lower the size"
        )
    return ScalePlan(min(core, settings.tile_size) if forced else core, history)


def pass_tile(canvas: Canvas, settings: Settings, device: torch.device, halo_px: int) -> int | None:
    """Tile core for a no-gradient pass of an image of ``canvas``; None when it fits half the budget whole."""
    forced = settings.tile_size is not None and canvas.size > settings.tile_size
    half = budget(device) / 2
    if not forced and canvas.pixels * PASS_BYTES_PER_PIXEL <= half:
        return None
    core = int(math.sqrt(half / PASS_BYTES_PER_PIXEL) - 2 * halo_px) // ALIGN * ALIGN
    return max(ALIGN, min(core, settings.tile_size) if forced else core)


def check_memory(
    canvas: Canvas, settings: Settings, n_styles: int, device: torch.device, guided: bool = False
) -> None:
    """Refuse, before any work, a size above the device's limit, or a picture of ``canvas`` (before the
    photo is decoded: a square of ``size``, its upper bound) whose own state with ``n_styles`` style
    images leaves no room for a tile."""
    check_size(canvas, device)
    plan_scale(canvas, settings, device, halo(settings.backbone, settings.taps()), n_styles, guided)
