"""The optimization engine: pixels of the output are optimized so its VGG features match the
content image and its Gram statistics match the style image (Gatys, Ecker, Bethge, 2016).

Data flows one way: images in -> tensors -> targets (computed once per scale, without
gradients) -> optimization loop (one VGG forward/backward per step) -> image out. The images
arrive checked, decoded and shrunk by a request (:mod:`nst.requests`), which is where every
input is validated; this module only runs.

The extensions are options of the same objective, and combine: other style statistics
(:mod:`nst.style_losses`: MMD kernels, BN statistics, the histogram loss), the photorealism
regularizer (:mod:`nst.photo`), colour preservation (:mod:`nst.color`, a pre- or
post-processing of the images, done by the request), and blends, masks and segmentations
(:mod:`nst.regions`, which say which style statistics each part of the output must have).
Texture synthesis is the same loop without a content image.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from PIL import Image

from . import color
from .errors import ResourceError, SettingsError, Stopped
from .faces import Face, face_mask
from .geometry import Canvas
from .images import image_to_tensor, resize_to, tensor_to_image
from .lbfgs import LBFGS
from .loss_scale import LossScale
from .losses import LossTerm
from .memory import pass_tile, plan_scale
from .regions import Region
from .settings import MIN_SCALE_SIZE, Settings
from .targets import build_terms
from .tiles import Tile, TiledObjective, halo, plan_tiles
from .vgg import VGGFeatures


@dataclass
class StepInfo:
    """What the step callback receives after every optimizer step."""

    step: int  #: 1-based, counted over all scales
    total_steps: int
    scale: int  #: 0-based index of the current scale (coarse to fine)
    scales: int  #: how many scales the run has
    canvas: Canvas  #: the picture being optimized now
    losses: dict[str, float]  #: weighted value of every term, and "total"
    image: torch.Tensor | None = None  #: current image (1, 3, H, W) on the CPU, every ``image_every`` steps
    frame: int = 1  #: 1-based frame of a video (:mod:`nst.video`); a picture is frame 1 of 1
    frames: int = 1


#: Return True to stop the run early; the result so far is returned.
StepCallback = Callable[[StepInfo], bool | None]


@dataclass(frozen=True)
class Preparing:
    """What a run is doing before its steps (or between two scales): loading the network, or computing
    the targets of a scale (the content's features and the style's statistics)."""

    what: str  #: "network" or "targets"
    scale: int = 0  #: 0-based scale whose targets are being computed
    scales: int = 1


#: Told about each :class:`Preparing` phase as it begins.
PhaseCallback = Callable[[Preparing], None]


@dataclass
class StyleResult:
    """The picture and how it was made."""

    image: Image.Image
    settings: Settings | None  #: None for a CycleGAN painting, which takes no settings
    losses: list[dict[str, float]] = field(default_factory=list)  #: one entry per step
    seconds: float = 0.0
    steps: int = 0  #: steps actually run
    stopped: bool = False  #: True when the callback or ``stop`` ended the run early
    device: str = "cpu"
    notes: list[str] = field(default_factory=list)  #: what was adjusted to make the run possible
    #: the faces keep_faces kept (boxes in the result's pixels); None: not looked for (off, a texture)
    faces: tuple[Face, ...] | None = None


@dataclass(frozen=True)
class Scale:
    """One scale of a coarse-to-fine run: the picture's shape there and the steps it gets."""

    canvas: Canvas
    steps: int


def steps_per_scale(steps: int, scales: int) -> list[int]:
    """Split the steps over scales, most at the coarse (cheap) ones: weights 2^(n-1-k)."""
    if scales == 1:
        return [steps]
    weights = [2.0 ** (scales - 1 - k) for k in range(scales)]
    raw = [steps * w / sum(weights) for w in weights]
    plan = [max(1, int(r)) for r in raw]
    plan[-1] = max(1, steps - sum(plan[:-1]))
    return plan


def plan_scales(canvas: Canvas, settings: Settings) -> tuple[list[Scale], list[str]]:
    """The scales of a picture shaped like ``canvas``, coarse to fine, and notes on what had to be adjusted.

    The last scale is ``canvas`` fitted to ``settings.size``. Settings can only check the long
    side; here the short side is known: a final size whose short side is under
    ``MIN_SCALE_SIZE`` is refused with the size that would work, and coarse scales that would
    start under it are dropped (their steps go to the scales that remain), and said so.
    """
    final = canvas.fit(settings.size)
    if final.short < MIN_SCALE_SIZE:
        needed = math.ceil(settings.size * MIN_SCALE_SIZE / final.short)
        raise SettingsError(
            f"size: at {settings.size} px this {canvas.aspect:.3g}:1 picture would be "
            f"{final.width}x{final.height} px, under {MIN_SCALE_SIZE} px on its short side; use a size of at "
            f"least {needed}"
        )
    shapes = [
        canvas.fit(round(settings.size / 2 ** (settings.scales - 1 - k))) for k in range(settings.scales)
    ]
    usable = [shape for shape in shapes if shape.short >= MIN_SCALE_SIZE]
    notes = []
    if len(usable) < len(shapes):
        first = shapes[0]
        notes.append(
            f"scales: {settings.scales} scales would start at {first.width}x{first.height} px, under "
            f"{MIN_SCALE_SIZE} px on the short side; ran {len(usable)}"
        )
    return [Scale(c, n) for c, n in zip(usable, steps_per_scale(settings.steps, len(usable)))], notes


def _style_tensor(
    style: Image.Image, canvas: Canvas, settings: Settings, device: torch.device
) -> torch.Tensor:
    """The style at ``style_scale`` times the output's size, its short side never under MIN_SCALE_SIZE."""
    shape = Canvas.of(style)
    size = max(MIN_SCALE_SIZE, round(canvas.size * settings.style_scale))
    size = max(size, math.ceil(MIN_SCALE_SIZE * shape.aspect))
    return image_to_tensor(resize_to(style, shape.fit(size)), device)


def _initial_image(
    settings: Settings, content: torch.Tensor | None, style: torch.Tensor, canvas: Canvas
) -> torch.Tensor:
    """The starting image; a texture (no content) starts from noise unless ``init`` is "style".

    ``matched`` is the content recoloured to the style's colour mean and covariance (a global colour
    transfer, Reinhard et al. 2001): the optimization then starts with the style's palette and light
    and only has to add its texture, which is what a photorealistic transfer is mostly about.
    """
    if settings.init == "content" and content is not None:
        return content.clone()
    if settings.init == "matched" and content is not None:
        return color.match_color(content, style)
    if settings.init == "style":
        return F.interpolate(
            style, size=canvas.hw, mode="bicubic", align_corners=False, antialias=True
        ).clamp_(0, 1)
    gen = torch.Generator(device="cpu").manual_seed(settings.seed)
    return torch.rand((1, 3, *canvas.hw), generator=gen).to(style.device)


def _make_optimizer(settings: Settings, x: torch.Tensor, history: int) -> torch.optim.Optimizer:
    if settings.optimizer == "adam":
        return torch.optim.Adam([x], lr=settings.lr)
    # One L-BFGS iteration (one function evaluation, no line search) per .step(), so a "step"
    # is exactly one VGG forward/backward, as in the paper's implementation; history persists. A step
    # whose loss explodes is taken back and retried shorter by the next one (nst.lbfgs's guard).
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
    scales: int = 1,
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
    standing: list[float] = []  # the losses where the run stands: of the last point the optimizer kept

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
        # A point L-BFGS's guard rejected (its loss exploded, or was NaN or infinite) cost a network
        # pass, so it counts as a step, but the run is still where it was: that step reports the losses
        # of the last point kept, and only a loss the optimizer kept can end the run as diverged.
        if getattr(optimizer, "rejected", False) and standing:
            numbers = standing
        standing = numbers
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
                scales,
                Canvas.of(x),
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


def run_scales(
    settings: Settings,
    net: VGGFeatures,
    content: Image.Image | None,
    styles: Sequence[Image.Image],
    scales: Sequence[Scale],
    dev: torch.device,
    *,
    notes: Sequence[str] = (),
    regions: Sequence[Region] | None = None,
    faces: Sequence[Face] | None = None,
    callback: StepCallback | None = None,
    on_phase: PhaseCallback | None = None,
    image_every: int = 25,
    stop: threading.Event | None = None,
    finish: Callable[[torch.Tensor], torch.Tensor] | None = None,
    start: torch.Tensor | None = None,
    more_terms: Sequence[tuple[LossTerm, float]] = (),
) -> StyleResult:
    """The optimization over ``scales`` (from :func:`plan_scales`), coarse to fine, as a result.

    The image is always at the last scale's size, even when stopped early, and ``finish`` may
    change it before it becomes a picture; ``notes`` say what was adjusted. ``content`` None makes
    a texture. ``faces`` (found on ``content``; None: not looked for) are kept at every scale
    (``keep_faces``). ``on_phase`` is told when each scale's targets are computed. A ``stop`` set
    before the first step raises :class:`~nst.errors.Stopped`.

    A video's later frames (:mod:`nst.video`) give ``start``, the picture to begin from instead of
    ``settings.init`` (the previous frame carried along the motion), and ``more_terms``, weighted terms
    added at the last scale (the temporal loss that holds the picture there).
    """
    began = time.perf_counter()
    history: list[dict[str, float]] = []
    notes = list(notes)
    # channels-last is the layout cuDNN and oneDNN convolve fastest (measured: benchmarks/results).
    net.to_memory_format(torch.channels_last)
    halo_px = halo(settings.backbone, settings.taps(with_content=content is not None))

    def tiles_for(canvas: Canvas) -> list[Tile] | None:
        core = pass_tile(canvas, settings, dev, halo_px)
        return plan_tiles(canvas, core, halo_px) if core else None

    x: torch.Tensor | None = None
    step, stopped = 1, False
    try:
        for k, scale in enumerate(scales):
            canvas = scale.canvas
            memory = plan_scale(canvas, settings, dev, halo_px, len(styles), guided=regions is not None)
            tiles = plan_tiles(canvas, memory.tile, halo_px) if memory.tile else None
            if tiles:
                notes.append(
                    f"scale {k + 1} ({canvas.width}x{canvas.height} px): optimized in {len(tiles)} tiles of up "
                    f"to {memory.tile} px with the whole picture's statistics"
                )
            content_t = image_to_tensor(resize_to(content, canvas), dev) if content is not None else None
            style_ts = [_style_tensor(s, canvas, settings, dev) for s in styles]
            kept = (
                face_mask(faces, Canvas.of(content), canvas).to(dev)
                if faces and content_t is not None
                else None
            )
            if on_phase is not None:
                on_phase(Preparing("targets", k, len(scales)))
            try:
                terms = build_terms(
                    settings.at_scale(canvas, last=k == len(scales) - 1),
                    net,
                    content_t,
                    style_ts,
                    regions=regions,
                    canvas=canvas,
                    stop=stop,
                    tiles_for=tiles_for,
                    face_mask=kept,
                )
                if k == len(scales) - 1:
                    terms += more_terms
            except Stopped:
                if x is None:
                    raise
                stopped = True
                break
            if x is None and start is not None:
                x = F.interpolate(start.to(dev), size=canvas.hw, mode="bicubic", align_corners=False).clamp_(
                    0, 1
                )
            elif x is None:
                x = _initial_image(settings, content_t, style_ts[0], canvas)
            else:
                x = F.interpolate(x, size=canvas.hw, mode="bicubic", align_corners=False).clamp_(0, 1)
            del content_t, style_ts
            x, stopped = optimize(
                x,
                net,
                terms,
                settings,
                scale.steps,
                first_step=step,
                total_steps=settings.steps,
                scale=k,
                scales=len(scales),
                callback=callback,
                image_every=image_every,
                history=history,
                stop=stop,
                tiles=tiles,
                lbfgs_history=memory.history,
            )
            step += scale.steps
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
    final = scales[-1].canvas
    if Canvas.of(x) != final:  # stopped at a coarse scale: the picture so far, at full size
        x = F.interpolate(x, size=final.hw, mode="bicubic", align_corners=False).clamp_(0, 1)
    if finish is not None:
        x = finish(x)
    return StyleResult(
        image=tensor_to_image(x),
        settings=settings,
        losses=history,
        steps=len(history),
        seconds=time.perf_counter() - began,
        stopped=stopped,
        device=str(dev),
        notes=notes,
        faces=None if faces is None else tuple(faces),
    )
