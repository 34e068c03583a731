"""The optimization engine: pixels of the output are optimized so its VGG features match the
content image and its Gram statistics match the style image (Gatys, Ecker, Bethge, 2016).

Data flows one way: images in -> tensors -> targets (computed once per scale, without
gradients) -> optimization loop (one VGG forward/backward per step) -> image out.

The extensions are options of the same objective, and combine: other style statistics
(:mod:`nst.style_losses`: MMD kernels, BN statistics, the histogram loss), the photorealism
regularizer (:mod:`nst.photo`), colour preservation (:mod:`nst.color`, a pre- or
post-processing of the images), and blends, masks and segmentations (:mod:`nst.regions`,
which say which style statistics each part of the output must have). Texture synthesis
(:mod:`nst.texture`) is the same loop without a content image.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from PIL import Image

from . import color
from .devices import autocast_dtype, pick_device
from .errors import ResourceError, SettingsError, Stopped
from .images import ImageSource, fit_size, image_to_tensor, load_image, tensor_to_image
from .lbfgs import LBFGS
from .loss_scale import LossScale
from .losses import LossTerm
from .memory import check_memory, pass_tile, plan_scale
from .regions import Region, plan_regions
from .settings import MAX_STYLES, MIN_SCALE_SIZE, Settings
from .targets import build_terms, check_stop
from .tiles import Tile, TiledObjective, halo, plan_tiles
from .vgg import VGGFeatures
from .weights import load_vgg


@dataclass
class StepInfo:
    """What the step callback receives after every optimizer step."""

    step: int  #: 1-based, counted over all scales
    total_steps: int
    scale: int  #: 0-based index of the current scale (coarse to fine)
    size: tuple[int, int]  #: (width, height) being optimized now
    losses: dict[str, float]  #: weighted value of every term, and "total"
    image: torch.Tensor | None = None  #: current image (1, 3, H, W) on the CPU, every ``image_every`` steps


#: Return True to stop the run early; the result so far is returned.
StepCallback = Callable[[StepInfo], bool | None]


@dataclass
class StyleResult:
    """The picture and how it was made."""

    image: Image.Image
    settings: Settings
    losses: list[dict[str, float]] = field(default_factory=list)  #: one entry per step
    seconds: float = 0.0
    steps: int = 0  #: steps actually run
    stopped: bool = False  #: True when the callback or ``stop`` ended the run early
    device: str = "cpu"
    notes: list[str] = field(default_factory=list)  #: what was adjusted to make the run possible


def steps_per_scale(steps: int, scales: int) -> list[int]:
    """Split the steps over scales, most at the coarse (cheap) ones: weights 2^(n-1-k)."""
    if scales == 1:
        return [steps]
    weights = [2.0 ** (scales - 1 - k) for k in range(scales)]
    raw = [steps * w / sum(weights) for w in weights]
    plan = [max(1, int(r)) for r in raw]
    plan[-1] = max(1, steps - sum(plan[:-1]))
    return plan


def plan_scales(
    canvas: tuple[int, int], settings: Settings
) -> tuple[list[tuple[int, int]], list[int], list[str]]:
    """(width, height) and steps of each scale, coarse to fine, and notes on what had to be adjusted.

    The last scale is ``canvas`` fitted to ``settings.size``. Settings can only check the long
    side; here the short side is known: a final size whose short side is under
    ``MIN_SCALE_SIZE`` is refused with the size that would work, and coarse scales that would
    start under it are dropped (their steps go to the scales that remain), and said so.
    """
    width, height = canvas
    final = fit_size(width, height, settings.size)
    if min(final) < MIN_SCALE_SIZE:
        needed = math.ceil(settings.size * MIN_SCALE_SIZE / min(final))
        raise SettingsError(
            f"size: at {settings.size} px this {max(width, height) / min(width, height):.3g}:1 picture would be "
            f"{final[0]}x{final[1]} px, under {MIN_SCALE_SIZE} px on its short side; use a size of at least {needed}"
        )
    sizes = [
        fit_size(width, height, round(settings.size / 2 ** (settings.scales - 1 - k)))
        for k in range(settings.scales)
    ]
    usable = [size for size in sizes if min(size) >= MIN_SCALE_SIZE]
    notes = []
    if len(usable) < len(sizes):
        first = sizes[0]
        notes.append(
            f"scales: {settings.scales} scales would start at {first[0]}x{first[1]} px, under "
            f"{MIN_SCALE_SIZE} px on the short side; ran {len(usable)}"
        )
    return usable, steps_per_scale(settings.steps, len(usable)), notes


def _style_tensor(
    style: Image.Image, size: tuple[int, int], settings: Settings, device: torch.device
) -> torch.Tensor:
    """The style at ``style_scale`` times the output's longer side, its short side never under MIN_SCALE_SIZE."""
    width, height = style.size
    longest = max(MIN_SCALE_SIZE, round(max(size) * settings.style_scale))
    longest = max(longest, math.ceil(MIN_SCALE_SIZE * max(width, height) / min(width, height)))
    target = fit_size(width, height, longest)
    return image_to_tensor(
        style if style.size == target else style.resize(target, Image.Resampling.LANCZOS), device
    )


def _initial_image(
    settings: Settings, content: torch.Tensor | None, style: torch.Tensor, size: tuple[int, int]
) -> torch.Tensor:
    """The starting image; a texture (no content) starts from noise unless ``init`` is "style".

    ``matched`` is the content recoloured to the style's colour mean and covariance (a global colour
    transfer, Reinhard et al. 2001): the optimization then starts with the style's palette and light
    and only has to add its texture, which is what a photorealistic transfer is mostly about.
    """
    shape = (1, 3, size[1], size[0])
    if settings.init == "content" and content is not None:
        return content.clone()
    if settings.init == "matched" and content is not None:
        return color.match_color(content, style)
    if settings.init == "style":
        return F.interpolate(
            style, size=shape[-2:], mode="bicubic", align_corners=False, antialias=True
        ).clamp_(0, 1)
    gen = torch.Generator(device="cpu").manual_seed(settings.seed)
    return torch.rand(shape, generator=gen).to(style.device)


def _make_optimizer(settings: Settings, x: torch.Tensor, history: int) -> torch.optim.Optimizer:
    if settings.optimizer == "adam":
        return torch.optim.Adam([x], lr=settings.lr)
    # One L-BFGS iteration (one function evaluation, no line search) per .step(), so a "step"
    # is exactly one VGG forward/backward, as in the paper's implementation; history persists.
    return LBFGS(x, lr=settings.lr, history_size=history)


class WholeObjective:
    """The weighted terms of a step on the whole picture at once, their gradient into ``x.grad``."""

    def __init__(self, net: VGGFeatures, terms: list[tuple[LossTerm, float]]) -> None:
        self.net, self.terms = net, terms
        self.taps = sorted({layer for term, _ in terms for layer in term.layers})
        self.loss_scale = LossScale(net.dtype)

    def __call__(self, x: torch.Tensor, gradient: bool = True) -> list[torch.Tensor]:
        with torch.set_grad_enabled(gradient):
            feats = self.net(x, self.taps) if self.taps else {}
            values = [weight * term(feats, x) for term, weight in self.terms]
            if gradient:
                self.loss_scale.backward(torch.stack(values).sum(), x)
        return [v.detach() for v in values]


def optimize(
    x: torch.Tensor,
    net: VGGFeatures,
    terms: list[tuple[LossTerm, float]],
    settings: Settings,
    steps: int,
    *,
    first_step: int = 1,
    total_steps: int | None = None,
    scale: int = 0,
    callback: StepCallback | None = None,
    image_every: int = 25,
    history: list[dict[str, float]] | None = None,
    stop: threading.Event | None = None,
    tiles: list[Tile] | None = None,
    lbfgs_history: int = 100,
) -> tuple[torch.Tensor, bool]:
    """Run ``steps`` optimizer steps on the image ``x``; returns the image and whether it was stopped
    (by the callback, or by ``stop``, which is read after every step). ``tiles`` computes each step
    tile by tile (:mod:`nst.tiles`), with the same loss and gradient as the whole picture's."""
    x = x.detach().clone(memory_format=torch.contiguous_format).requires_grad_(True)
    names = [term.name for term, _ in terms]
    optimizer = _make_optimizer(settings, x, lbfgs_history)
    last: list[torch.Tensor] = []
    total_steps = total_steps or steps
    objective = TiledObjective(net, terms, tiles) if tiles else WholeObjective(net, terms)

    # L-BFGS without line search (the paper's setup) occasionally overshoots for a step and
    # recovers on the next; the image returned is the best one evaluated, never a spike.
    best = {"total": math.inf, "x": x.detach().clone()}

    def closure() -> torch.Tensor:
        optimizer.zero_grad(set_to_none=True)
        values = objective(x)
        total = torch.stack(values).sum()
        last[:] = values + [total]
        value = total.item()
        if value < best["total"]:
            best["total"], best["x"] = value, x.detach().clone()
        return total

    stopped = False
    for i in range(steps):
        optimizer.step(closure)
        if settings.optimizer == "adam":
            with torch.no_grad():
                x.clamp_(0, 1)
        numbers = torch.stack([v.detach() for v in last]).tolist()
        losses = dict(zip(names + ["total"], numbers))
        if not math.isfinite(losses["total"]):
            raise ResourceError(
                "the optimization diverged (the loss became NaN or infinite); lower learning_rate or the weights"
            )
        if history is not None:
            history.append(losses)
        step = first_step + i
        if callback is not None:
            show = step % image_every == 0 or i == steps - 1
            info = StepInfo(
                step,
                total_steps,
                scale,
                (x.shape[-1], x.shape[-2]),
                losses,
                x.detach().clamp(0, 1).cpu() if show else None,
            )
            if callback(info):
                stopped = True
                break
        if stop is not None and stop.is_set():
            stopped = True
            break
    if stopped:  # no extra network pass when someone is waiting for the machine
        return best["x"].clamp_(0, 1), stopped
    final_total = torch.stack(objective(x, gradient=False)).sum()
    if final_total.item() <= best["total"]:
        return x.detach().clamp_(0, 1), stopped
    return best["x"].clamp_(0, 1), stopped


def as_style_list(style: ImageSource | Sequence[ImageSource]) -> list[ImageSource]:
    """One style or several, as a list; refuses none, and more than ``MAX_STYLES``."""
    styles = list(style) if isinstance(style, (list, tuple)) else [style]
    if not styles:
        raise SettingsError("at least one style image is needed")
    if len(styles) > MAX_STYLES:
        raise SettingsError(f"style: {len(styles)} style images given; at most {MAX_STYLES} at once")
    return styles


def load_styles(styles: Sequence[ImageSource], max_side: int) -> list[Image.Image]:
    """The style images, each shrunk as soon as it is decoded to the largest side a run can use."""
    return [
        load_image(s, "style image" if len(styles) == 1 else f"style image {k + 1}", max_side=max_side)
        for k, s in enumerate(styles)
    ]


def style_side(settings: Settings) -> int:
    """The longest side a style image is ever used at: ``style_scale`` times the output's."""
    return max(MIN_SCALE_SIZE, math.ceil(settings.size * settings.style_scale))


def resolve_settings(settings: Settings | None, overrides: dict[str, Any]) -> Settings:
    settings = settings or Settings()
    return settings.replace(**overrides) if overrides else settings


def run_scales(
    settings: Settings,
    net: VGGFeatures,
    content: Image.Image | None,
    styles: Sequence[Image.Image],
    canvas: tuple[int, int],
    dev: torch.device,
    *,
    regions: Sequence[Region] | None = None,
    callback: StepCallback | None = None,
    image_every: int = 25,
    stop: threading.Event | None = None,
    finish: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> StyleResult:
    """The optimization over all scales, coarse to fine, as a result.

    The image is always at the last scale's size, even when stopped early, and ``finish`` may
    change it before it becomes a picture; ``notes`` say what was adjusted (see
    :func:`plan_scales`). ``canvas`` is the picture's (width, height), fitted to ``settings.size``;
    ``content`` None makes a texture. A ``stop`` set before the first step raises
    :class:`~nst.errors.Stopped`.
    """
    start = time.perf_counter()
    history: list[dict[str, float]] = []
    # channels-last is the layout cuDNN and oneDNN convolve fastest (measured: benchmarks/results).
    net.to_memory_format(torch.channels_last)
    sizes, plan, notes = plan_scales(canvas, settings)
    halo_px = halo(settings.backbone, settings.taps(with_content=content is not None))

    def tiles_for(picture: tuple[int, int]) -> list[Tile] | None:
        core = pass_tile((picture[1], picture[0]), settings, dev, halo_px)
        return plan_tiles(picture, core, halo_px) if core else None

    x: torch.Tensor | None = None
    step, stopped = 1, False
    try:
        for k, (size, n_steps) in enumerate(zip(sizes, plan)):
            memory = plan_scale(size, settings, dev, halo_px, len(styles))
            tiles = plan_tiles((size[1], size[0]), memory.tile, halo_px) if memory.tile else None
            if tiles:
                notes.append(
                    f"scale {k + 1} ({size[0]}x{size[1]} px): optimized in {len(tiles)} tiles of up to "
                    f"{memory.tile} px with the whole picture's statistics"
                )
            content_t = (
                image_to_tensor(content.resize(size, Image.Resampling.LANCZOS), dev)
                if content is not None
                else None
            )
            style_ts = [_style_tensor(s, size, settings, dev) for s in styles]
            try:
                terms = build_terms(
                    settings.at_scale(size, last=k == len(sizes) - 1),
                    net,
                    content_t,
                    style_ts,
                    regions=regions,
                    size=size,
                    stop=stop,
                    tiles_for=tiles_for,
                )
            except Stopped:
                if x is None:
                    raise
                stopped = True
                break
            if x is None:
                x = _initial_image(settings, content_t, style_ts[0], size)
            else:
                x = F.interpolate(x, size=(size[1], size[0]), mode="bicubic", align_corners=False).clamp_(
                    0, 1
                )
            del content_t, style_ts
            x, stopped = optimize(
                x,
                net,
                terms,
                settings,
                n_steps,
                first_step=step,
                total_steps=settings.steps,
                scale=k,
                callback=callback,
                image_every=image_every,
                history=history,
                stop=stop,
                tiles=tiles,
                lbfgs_history=memory.history,
            )
            step += n_steps
            if stopped:
                break
    except torch.cuda.OutOfMemoryError as exc:
        if dev.type == "cuda":
            torch.cuda.empty_cache()
        raise ResourceError(f"out of GPU memory at size {settings.size}; try a smaller size") from exc
    except RuntimeError as exc:
        if "can't allocate memory" not in str(exc) and "not enough memory" not in str(exc):
            raise
        raise ResourceError(f"out of memory at size {settings.size}; try a smaller size") from exc
    assert x is not None
    width, height = sizes[-1]
    if x.shape[-2:] != (height, width):  # stopped at a coarse scale: the picture so far, at full size
        x = F.interpolate(x, size=(height, width), mode="bicubic", align_corners=False).clamp_(0, 1)
    if finish is not None:
        x = finish(x)
    return StyleResult(
        image=tensor_to_image(x),
        settings=settings,
        losses=history,
        steps=len(history),
        seconds=time.perf_counter() - start,
        stopped=stopped,
        device=str(dev),
        notes=notes,
    )


def _with_content_colors(callback: StepCallback | None, content: Image.Image) -> StepCallback | None:
    """Luminance-only transfer: show the callback images with the content's colours already put back."""
    if callback is None:
        return None

    def wrapped(info: StepInfo) -> bool | None:
        if info.image is not None:
            content_t = image_to_tensor(content.resize(info.size, Image.Resampling.LANCZOS))
            info.image = color.combine_luminance(info.image, content_t).clamp_(0, 1)
        return callback(info)

    return wrapped


def stylize(
    content: ImageSource,
    style: ImageSource | Sequence[ImageSource],
    settings: Settings | None = None,
    *,
    masks: Sequence[ImageSource] | None = None,
    content_segmentation: ImageSource | None = None,
    style_segmentation: ImageSource | None = None,
    callback: StepCallback | None = None,
    image_every: int = 25,
    device: str | torch.device | None = None,
    vgg_weights: str | None = None,
    stop: threading.Event | None = None,
    **overrides: Any,
) -> StyleResult:
    """Repaint ``content`` in the style of ``style`` (Gatys et al.), or of several styles.

    ``settings`` holds every picture-deciding choice; keyword ``overrides`` change single
    fields (``stylize(photo, painting, steps=100)``). ``callback`` sees every step (losses, and
    the image every ``image_every`` steps) and may stop the run by returning True; ``stop``, an
    event set from another thread (a server's Stop button, a closed connection), ends it while
    targets are built or after the current step. Stopped before the first step, it raises
    :class:`~nst.errors.Stopped`; later, the picture so far is the result.

    ``style`` may be a list of images (at most ``MAX_STYLES``), mixed with
    ``settings.style_blend`` (equal by default), or placed by ``masks``: one gray image per
    style, on the content, white where that style applies (spatial control).
    ``content_segmentation`` and ``style_segmentation`` (colour-coded label images, one style)
    restrict the style statistics to matching regions, as in Luan et al.'s augmented style
    loss; use them with ``photo_weight`` for photorealistic transfer.

    Before any image is decoded, the run's memory is checked against the device's
    (:mod:`nst.memory`); every image is shrunk as soon as it is decoded to the size the run uses.
    """
    settings = resolve_settings(settings, overrides)
    dev = pick_device(device)
    styles = as_style_list(style)
    settings.blend_weights(len(styles))  # refuses a blend of the wrong length before any work
    check_memory(settings, len(styles), dev)
    content_img = load_image(content, "content image", max_side=settings.size)
    style_imgs = load_styles(styles, style_side(settings))
    regions = plan_regions(
        len(style_imgs),
        content_img.size,
        [s.size for s in style_imgs],
        masks=masks,
        content_segmentation=content_segmentation,
        style_segmentation=style_segmentation,
        blend_given=settings.style_blend is not None,
    )
    run_content, run_styles, run_callback = content_img, style_imgs, callback
    if settings.preserve_color == "luminance":
        run_content = color.luminance_image(content_img)
        run_styles = [color.matched_luminance_image(s, content_img) for s in style_imgs]
        run_callback = _with_content_colors(callback, content_img)
    elif settings.preserve_color == "histogram":
        run_styles = [color.match_color_image(s, content_img) for s in style_imgs]
    check_stop(stop)
    net = load_vgg(settings.backbone, settings.pooling, vgg_weights, dev).truncated(
        settings.taps(), autocast_dtype(settings.precision, dev)
    )

    def put_content_colors_back(x: torch.Tensor) -> torch.Tensor:
        content_t = image_to_tensor(content_img.resize((x.shape[-1], x.shape[-2]), Image.Resampling.LANCZOS))
        return color.combine_luminance(x, content_t.to(x.device))

    return run_scales(
        settings,
        net,
        run_content,
        run_styles,
        content_img.size,
        dev,
        regions=regions,
        callback=run_callback,
        image_every=image_every,
        stop=stop,
        finish=put_content_colors_back if settings.preserve_color == "luminance" else None,
    )
