"""The optimization engine: pixels of the output are optimized so its VGG features match the
content image and its Gram statistics match the style image (Gatys, Ecker, Bethge, 2016).

Data flows one way: images in -> tensors -> targets (computed once per scale, without
gradients) -> optimization loop (one VGG forward/backward per step) -> image out.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Sequence

import torch
import torch.nn.functional as F
from PIL import Image

from .devices import pick_device
from .errors import ResourceError, SettingsError
from .images import ImageSource, fit_size, image_to_tensor, load_image, resize_longest, tensor_to_image
from .losses import ContentLoss, GramStyleLoss, LossTerm, TVLoss, gram_matrix
from .settings import Settings
from .vgg import VGGFeatures
from .weights import load_vgg

#: Largest output (longest side) per device type. CPU: 2048 px needs about 12 GB for VGG19
#: activations and their gradients, within a 24 GB machine. CUDA: see :func:`max_size_for`.
MAX_SIZE_CPU = 2048


@dataclass
class StepInfo:
    """What the step callback receives after every optimizer step."""

    step: int                      #: 1-based, counted over all scales
    total_steps: int
    scale: int                     #: 0-based index of the current scale (coarse to fine)
    size: tuple[int, int]          #: (width, height) being optimized now
    losses: dict[str, float]       #: weighted value of every term, and "total"
    image: Optional[torch.Tensor] = None  #: current image (1, 3, H, W) on the CPU, every ``image_every`` steps


#: Return True to stop the run early; the result so far is returned.
StepCallback = Callable[[StepInfo], Optional[bool]]


@dataclass
class StyleResult:
    """The picture and how it was made."""

    image: Image.Image
    settings: Settings
    losses: list[dict[str, float]] = field(default_factory=list)  #: one entry per step
    seconds: float = 0.0
    steps: int = 0                 #: steps actually run
    stopped: bool = False          #: True when the callback stopped the run
    device: str = "cpu"


def max_size_for(device: torch.device) -> int:
    """Largest longest-side the device can take for VGG19 optimization (see README, Limits)."""
    if device.type == "cuda":
        total = torch.cuda.get_device_properties(device).total_memory
        # About 3 GB per megapixel for VGG19 activations + gradients in fp32 (measured), 20% headroom.
        megapixels = total * 0.8 / 3e9
        return int(min(4096, math.sqrt(megapixels * 1e6 * 4 / 3)))
    return MAX_SIZE_CPU


def scale_sizes(width: int, height: int, settings: Settings) -> list[tuple[int, int]]:
    """(width, height) of each scale, coarse to fine, the last one being the output size."""
    out = []
    for k in range(settings.scales):
        longest = round(settings.size / 2 ** (settings.scales - 1 - k))
        out.append(fit_size(width, height, longest))
    return out


def steps_per_scale(settings: Settings) -> list[int]:
    """Split the steps over scales, most at the coarse (cheap) ones: weights 2^(n-1-k)."""
    n = settings.scales
    if n == 1:
        return [settings.steps]
    weights = [2.0 ** (n - 1 - k) for k in range(n)]
    raw = [settings.steps * w / sum(weights) for w in weights]
    steps = [max(1, int(r)) for r in raw]
    steps[-1] = max(1, settings.steps - sum(steps[:-1]))
    return steps


def _style_tensor(style: Image.Image, size: tuple[int, int], settings: Settings, device: torch.device) -> torch.Tensor:
    longest = max(16, round(max(size) * settings.style_scale))
    return image_to_tensor(resize_longest(style, longest), device)


def build_terms(settings: Settings, net: VGGFeatures, content: torch.Tensor,
                styles: Sequence[torch.Tensor]) -> list[tuple[LossTerm, float]]:
    """The weighted loss terms for one scale, with every target computed once, here."""
    with torch.inference_mode():
        content_feats = net(content, settings.content_layers)
        grams: dict[str, torch.Tensor] = {}
        for style in styles:
            feats = net(style, settings.style_layers)
            for layer in settings.style_layers:
                g = gram_matrix(feats[layer]) / len(styles)
                grams[layer] = grams[layer] + g if layer in grams else g
    terms: list[tuple[LossTerm, float]] = []
    if settings.content_weight:
        terms.append((ContentLoss({k: v.clone() for k, v in content_feats.items()}), settings.content_weight))
    if settings.style_weight:
        terms.append((GramStyleLoss({k: v.clone() for k, v in grams.items()}, settings.layer_weights), settings.style_weight))
    if settings.tv_weight:
        terms.append((TVLoss(), settings.tv_weight))
    return terms


def _initial_image(settings: Settings, content: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
    if settings.init == "content":
        return content.clone()
    if settings.init == "style":
        return F.interpolate(style, size=content.shape[-2:], mode="bicubic", align_corners=False,
                             antialias=True).clamp_(0, 1)
    gen = torch.Generator(device="cpu").manual_seed(settings.seed)
    return torch.rand(content.shape, generator=gen).to(content.device)


def _make_optimizer(settings: Settings, x: torch.Tensor) -> torch.optim.Optimizer:
    if settings.optimizer == "adam":
        return torch.optim.Adam([x], lr=settings.lr)
    # One L-BFGS iteration (one function evaluation, no line search) per .step(), so a "step"
    # is exactly one VGG forward/backward, as in the paper's implementation; history persists.
    return torch.optim.LBFGS([x], lr=settings.lr, max_iter=1, history_size=100,
                             tolerance_grad=0.0, tolerance_change=0.0)


def optimize(x: torch.Tensor, net: VGGFeatures, terms: list[tuple[LossTerm, float]], settings: Settings,
             steps: int, *, first_step: int = 1, total_steps: int | None = None, scale: int = 0,
             callback: StepCallback | None = None, image_every: int = 25,
             history: list[dict[str, float]] | None = None) -> tuple[torch.Tensor, bool]:
    """Run ``steps`` optimizer steps on the image ``x``; returns the image and whether it was stopped."""
    x = x.detach().clone(memory_format=torch.contiguous_format).requires_grad_(True)
    taps = sorted({layer for term, _ in terms for layer in term.layers})
    names = [term.name for term, _ in terms]
    optimizer = _make_optimizer(settings, x)
    last: list[torch.Tensor] = []
    total_steps = total_steps or steps

    def closure() -> torch.Tensor:
        optimizer.zero_grad(set_to_none=True)
        feats = net(x, taps) if taps else {}
        values = [weight * term(feats, x) for term, weight in terms]
        total = torch.stack(values).sum()
        total.backward()
        last[:] = values + [total]
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
            raise ResourceError("the optimization diverged (the loss became NaN or infinite); lower learning_rate or the weights")
        if history is not None:
            history.append(losses)
        step = first_step + i
        if callback is not None:
            show = step % image_every == 0 or i == steps - 1
            info = StepInfo(step, total_steps, scale, (x.shape[-1], x.shape[-2]), losses,
                            x.detach().clamp(0, 1).cpu() if show else None)
            if callback(info):
                stopped = True
                break
    return x.detach().clamp_(0, 1), stopped


def _as_style_list(style: ImageSource | Sequence[ImageSource]) -> list[ImageSource]:
    if isinstance(style, (list, tuple)):
        if not style:
            raise SettingsError("at least one style image is needed")
        return list(style)
    return [style]


def stylize(content: ImageSource, style: ImageSource | Sequence[ImageSource], settings: Settings | None = None, *,
            callback: StepCallback | None = None, image_every: int = 25, device: str | torch.device | None = None,
            vgg_weights: str | None = None, **overrides: Any) -> StyleResult:
    """Repaint ``content`` in the style of ``style`` (Gatys et al.).

    ``settings`` holds every picture-deciding choice; keyword ``overrides`` change single
    fields (``stylize(photo, painting, steps=100)``). ``callback`` sees every step (losses, and
    the image every ``image_every`` steps) and may stop the run by returning True.
    """
    settings = (settings or Settings()).replace(**overrides) if overrides else (settings or Settings())
    dev = pick_device(device)
    limit = max_size_for(dev)
    if settings.size > limit:
        raise SettingsError(f"size: {settings.size} px is above this device's limit of {limit} px ({dev.type})")
    content_img = load_image(content, "content image")
    style_imgs = [load_image(s, "style image") for s in _as_style_list(style)]
    net = load_vgg(settings.backbone, settings.pooling, vgg_weights, dev)
    net = net.truncated(list(settings.content_layers) + list(settings.style_layers))

    start = time.perf_counter()
    history: list[dict[str, float]] = []
    sizes = scale_sizes(*content_img.size, settings)
    plan = steps_per_scale(settings)
    x: torch.Tensor | None = None
    step, stopped = 1, False
    try:
        for k, (size, n_steps) in enumerate(zip(sizes, plan)):
            content_t = image_to_tensor(content_img.resize(size, Image.Resampling.LANCZOS), dev)
            style_ts = [_style_tensor(s, size, settings, dev) for s in style_imgs]
            terms = build_terms(settings, net, content_t, style_ts)
            if x is None:
                x = _initial_image(settings, content_t, style_ts[0])
            else:
                x = F.interpolate(x, size=(size[1], size[0]), mode="bicubic", align_corners=False).clamp_(0, 1)
            x, stopped = optimize(x, net, terms, settings, n_steps, first_step=step, total_steps=settings.steps,
                                  scale=k, callback=callback, image_every=image_every, history=history)
            step += n_steps
            if stopped:
                break
    except torch.cuda.OutOfMemoryError as exc:
        if dev.type == "cuda":
            torch.cuda.empty_cache()
        raise ResourceError(f"out of GPU memory at size {settings.size}; try a smaller size") from exc
    assert x is not None
    return StyleResult(image=tensor_to_image(x), settings=settings, losses=history,
                       seconds=time.perf_counter() - start, steps=len(history), stopped=stopped, device=str(dev))
