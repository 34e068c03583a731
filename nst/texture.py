"""Texture synthesis (Gatys, Ecker, Bethge, "Texture Synthesis Using Convolutional Neural
Networks", 2015): the style loss alone, optimized from noise, on a canvas of any size.

It is the engine of :func:`nst.stylize` without a content image: the output only has to have
the style's statistics (Gram, MMD, BN or histogram, see ``style_loss`` and ``hist_weight``), so
it can be wider, taller or larger than the style image. The style image is shown to the network
with its longest side at ``style_scale`` times the canvas's longest side, as in stylize; lower
``style_scale`` for finer texture on a large canvas.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from .devices import autocast_dtype, pick_device
from .engine import (
    StepCallback,
    StyleResult,
    as_style_list,
    load_styles,
    resolve_settings,
    run_scales,
    style_side,
)
from .errors import SettingsError
from .images import ImageSource
from .memory import check_memory
from .settings import MAX_SIZE, MIN_SCALE_SIZE, MIN_SIZE, Settings, as_int
from .weights import load_vgg


def check_canvas(width: Any, height: Any) -> tuple[int, int]:
    """Width and height as whole numbers in range, or a SettingsError naming the bad one."""
    out = as_int(width, "width", MIN_SCALE_SIZE, MAX_SIZE), as_int(height, "height", MIN_SCALE_SIZE, MAX_SIZE)
    if max(out) < MIN_SIZE:
        raise SettingsError(
            f"width, height: the longer side must be at least {MIN_SIZE} pixels, got {out[0]}x{out[1]}"
        )
    return out


def synthesize_texture(
    style: ImageSource | Sequence[ImageSource],
    settings: Settings | None = None,
    *,
    width: int,
    height: int,
    callback: StepCallback | None = None,
    image_every: int = 25,
    device: str | None = None,
    vgg_weights: str | None = None,
    stop: threading.Event | None = None,
    **overrides: Any,
) -> StyleResult:
    """A ``width`` x ``height`` texture with the statistics of ``style`` (one image or a blend).

    Uses the same settings as :func:`nst.stylize` minus the content: ``init`` "content" means
    noise here (the paper's start); ``size`` is set to the canvas's longest side. The content
    weight, photorealism and colour preservation need a content image and are refused.
    ``callback`` and ``stop`` work as in :func:`nst.stylize`.
    """
    width, height = check_canvas(width, height)
    settings = resolve_settings(settings, overrides)
    if settings.photo_weight:
        raise SettingsError(
            "photo_weight: the photorealism loss needs a content photo; a texture has none (set it to 0)"
        )
    if settings.preserve_color != "none":
        raise SettingsError(
            "preserve_color: a texture has no content whose colours could be kept (set it to none)"
        )
    if not settings.style_weight and not settings.hist_weight:
        raise SettingsError("style_weight and hist_weight are both 0: a texture needs a style loss")
    settings = settings.replace(size=max(width, height))
    dev = pick_device(device)
    styles = as_style_list(style)
    settings.blend_weights(len(styles))
    check_memory(settings, len(styles), dev)
    style_imgs = load_styles(styles, style_side(settings))
    net = load_vgg(settings.backbone, settings.pooling, vgg_weights, dev).truncated(
        settings.taps(with_content=False), autocast_dtype(settings.precision, dev)
    )
    return run_scales(
        settings,
        net,
        None,
        style_imgs,
        (width, height),
        dev,
        callback=callback,
        image_every=image_every,
        stop=stop,
    )
