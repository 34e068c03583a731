"""Where each style applies: blends, spatial-control masks and segmentation regions.

One mechanism serves three features. A :class:`Region` is a part of the output (a mask on the
content, or everywhere) together with the style statistics it must have: a mixture of style
images, each optionally restricted to a part of itself.

* a blend of styles (no masks): one region, everywhere, whose target is the mixture of all
  styles with the blend weights;
* spatial control (Gatys et al., "Controlling Perceptual Factors in Neural Style Transfer",
  2017): one region per style, its mask on the content; the guided Gram matrices of the paper
  are the statistics of the masked positions;
* the augmented style loss of Luan et al. ("Deep Photo Style Transfer", 2017): one region per
  label of a segmentation of the content, matched with the same label of the style's
  segmentation.

Masks are gray images (white = 1: the style applies; soft values allowed). They are resized to
each scale and averaged down to each VGG layer's grid.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from .errors import SettingsError
from .geometry import Canvas
from .images import ImageSource, load_image


@dataclass(frozen=True)
class Region:
    """A part of the output and the style it must have, at the inputs' own resolutions."""

    mask: Image.Image | None  #: 'L' image the size of the content; None: everywhere
    sources: tuple[
        tuple[int, Image.Image | None, float], ...
    ]  #: (style index, 'L' mask on that style or None, weight)


def plain_regions(blend: Sequence[float]) -> list[Region]:
    """Every style everywhere, mixed with the blend weights."""
    return [Region(None, tuple((k, None, float(w)) for k, w in enumerate(blend)))]


def load_mask(source: ImageSource, canvas: Canvas, what: str) -> Image.Image:
    """A mask image as 8-bit gray on ``canvas``: white is 1, black 0."""
    im = load_image(source, what, max_size=canvas.size).convert("L")
    return im if im.size == canvas else im.resize(canvas, Image.Resampling.BILINEAR)


def mask_regions(masks: Sequence[ImageSource], content: Canvas, n_styles: int) -> list[Region]:
    """Spatial control: mask k (on the content) is where style k applies."""
    if len(masks) != n_styles:
        raise SettingsError(
            f"masks: {len(masks)} mask(s) given for {n_styles} style image(s); give one mask per style"
        )
    return [Region(load_mask(m, content, f"mask {k + 1}"), ((k, None, 1.0),)) for k, m in enumerate(masks)]


def segmentation_labels(image: Image.Image) -> np.ndarray:
    """A label per pixel: each channel rounded to 0, 1/2 or 1 (27 colours).

    That covers the colour-coded masks of Luan et al. (blue, green, black, white, red, yellow,
    gray, light blue, purple) and survives JPEG noise and soft edges.
    """
    levels = np.rint(np.asarray(image.convert("RGB"), dtype=np.float32) / 127.5).astype(np.int64)
    return levels[..., 0] * 9 + levels[..., 1] * 3 + levels[..., 2]


def _label_mask(labels: np.ndarray, label: int) -> Image.Image:
    return Image.fromarray(np.where(labels == label, 255, 0).astype(np.uint8), "L")


def segmentation_regions(
    content_segmentation: ImageSource,
    style_segmentation: ImageSource,
    content: Canvas,
    style: Canvas,
) -> list[Region]:
    """Luan et al.'s augmented style loss: each label of the content's segmentation takes the style
    statistics of the same label in the style's segmentation. A label missing from the style's
    segmentation takes the whole style image's statistics."""
    content_seg = load_image(content_segmentation, "content segmentation", max_size=content.size)
    style_seg = load_image(style_segmentation, "style segmentation", max_size=style.size)
    content_seg = content_seg.resize(content, Image.Resampling.NEAREST)
    style_seg = style_seg.resize(style, Image.Resampling.NEAREST)
    c_labels, s_labels = segmentation_labels(content_seg), segmentation_labels(style_seg)
    in_style = set(np.unique(s_labels).tolist())
    regions = []
    for label in np.unique(c_labels).tolist():
        source = (0, _label_mask(s_labels, label) if label in in_style else None, 1.0)
        regions.append(Region(_label_mask(c_labels, label), (source,)))
    return regions


def plan_regions(
    n_styles: int,
    content: Canvas,
    styles: Sequence[Canvas],
    *,
    masks: Sequence[ImageSource] | None = None,
    content_segmentation: ImageSource | None = None,
    style_segmentation: ImageSource | None = None,
    blend_given: bool = False,
) -> list[Region] | None:
    """The regions of a run, with the combinations that make no sense refused by name.

    None means the plain case, every style everywhere, which the engine computes with the
    original Gram formulas.
    """
    if (content_segmentation is None) != (style_segmentation is None):
        raise SettingsError("segmentation: give both content_segmentation and style_segmentation, or neither")
    if content_segmentation is not None:
        if masks:
            raise SettingsError("masks and segmentations cannot be combined: use one or the other")
        if n_styles != 1:
            raise SettingsError(
                f"segmentation: the augmented style loss takes one style image, got {n_styles}"
            )
        return segmentation_regions(content_segmentation, style_segmentation, content, styles[0])
    if masks:
        if blend_given:
            raise SettingsError(
                "style_blend: with masks each style has its own region; leave style_blend unset"
            )
        return mask_regions(masks, content, n_styles)
    return None


def mask_tensor(mask: Image.Image | None, canvas: Canvas, device: torch.device | str) -> torch.Tensor | None:
    """A mask resized to ``canvas`` as a (1, 1, H, W) float tensor in [0, 1]."""
    if mask is None:
        return None
    im = mask if mask.size == canvas else mask.resize(canvas, Image.Resampling.BILINEAR)
    arr = torch.from_numpy(np.asarray(im, dtype=np.float32) / 255.0)
    return arr[None, None].to(device)


def layer_mask(mask: torch.Tensor, grid: Canvas) -> torch.Tensor:
    """A (1, 1, H, W) mask averaged down to a layer's grid, still (1, 1, h, w)."""
    return mask if Canvas.of(mask) == grid else F.adaptive_avg_pool2d(mask, grid.hw)


def layer_weights(mask: torch.Tensor | None, grid: Canvas) -> torch.Tensor | None:
    """A (1, 1, H, W) mask averaged down to a layer's grid, flattened: one weight per position."""
    if mask is None:
        return None
    return layer_mask(mask, grid).reshape(-1).float()
