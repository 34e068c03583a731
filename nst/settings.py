"""The one settings object of the optimization engine, validated on creation.

Names follow the field (Gatys et al.): ``content_weight`` is the paper's alpha, ``style_weight``
its beta. The paper's ratios alpha/beta of 1e-3 to 1e-4 are for its raw Caffe-scale losses;
this engine divides each layer's loss by a constant taken from its target (see
:mod:`nst.losses`), so the same ratio gives the same picture with any weights file, and the
useful range of ``style_weight`` (content_weight 1) is about 1 (photo barely touched) to 100
(the photo dissolves into the painting); 10, the default, was chosen by looking at pictures.

The extensions are fields too, so they combine freely: ``style_loss`` (the statistic that
defines style, :mod:`nst.style_losses`), ``hist_weight``/``hist_layers`` (Risser et al.'s
histogram loss, added to the style loss), ``photo_weight`` (Luan et al.'s matting-Laplacian
regularizer, :mod:`nst.photo`), ``preserve_color`` (:mod:`nst.color`) and ``style_blend`` (the
mix of several style images). Each new term is normalized like the Gram loss, so the same
weights mean roughly the same strength for every style statistic and weights file.

Every field is checked in ``__post_init__`` so a bad value fails at once, with the field's
name and the reason, wherever the settings came from (Python, CLI, app, API).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from .errors import SettingsError
from .vgg import BACKBONES, POOLINGS, check_layers

#: Output size limits (longest side, pixels). Devices may impose a lower limit (see engine).
MIN_SIZE = 32
MAX_SIZE = 4096
#: Smallest coarse scale of a coarse-to-fine run (VGG's pools need something to pool).
MIN_SCALE_SIZE = 16
MAX_STEPS = 10_000
INITS = ("content", "noise", "style")
OPTIMIZERS = ("lbfgs", "adam")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
PAPER_STYLE_LAYERS = ("conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1")
#: Style statistics (see :mod:`nst.style_losses`): Gram matrices (Gatys), MMD with three kernels
#: and batch-norm statistics (Li et al., "Demystifying Neural Style Transfer").
STYLE_LOSSES = ("gram", "mmd-linear", "mmd-poly", "mmd-gauss", "bn")
#: Risser et al. apply their histogram loss at relu1_1 and relu4_1.
HISTOGRAM_LAYERS = ("relu1_1", "relu4_1")
PRESERVE_COLORS = ("none", "luminance", "histogram")


def _as_layers(value: Any, name: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [v for v in value.replace(";", ",").split(",")]
    try:
        layers = tuple(str(v).strip() for v in value if str(v).strip())
    except TypeError:
        raise SettingsError(f"{name}: expected a list of layer names, got {value!r}") from None
    if not layers:
        raise SettingsError(f"{name}: at least one layer is needed")
    return layers


def _as_floats(value: Any, name: str) -> tuple[float, ...]:
    if isinstance(value, str):
        value = [v for v in value.replace(";", ",").split(",") if v.strip()]
    try:
        return tuple(_as_float(v, name) for v in value)
    except TypeError:
        raise SettingsError(f"{name}: expected a list of numbers, got {value!r}") from None


def _as_float(value: Any, name: str, low: float = 0.0, high: float = math.inf) -> float:
    if isinstance(value, bool):
        raise SettingsError(f"{name}: expected a number, got {value!r}")
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise SettingsError(f"{name}: expected a number, got {value!r}") from None
    if not math.isfinite(x):
        raise SettingsError(f"{name}: must be a finite number, got {value!r}")
    if x < low:
        raise SettingsError(f"{name}: must be at least {low:g}, got {x:g}" if low else f"{name}: must not be negative, got {x:g}")
    if x > high:
        raise SettingsError(f"{name}: must be at most {high:g}, got {x:g}")
    return x


def _as_int(value: Any, name: str, low: int, high: int) -> int:
    if isinstance(value, bool):
        raise SettingsError(f"{name}: expected a whole number, got {value!r}")
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise SettingsError(f"{name}: expected a whole number, got {value!r}") from None
    if not math.isfinite(x) or x != int(x):
        raise SettingsError(f"{name}: expected a whole number, got {value!r}")
    x = int(x)
    if not low <= x <= high:
        raise SettingsError(f"{name}: must be between {low} and {high}, got {x}")
    return x


def _as_choice(value: Any, name: str, choices: Iterable[str]) -> str:
    choices = tuple(choices)
    v = str(value).strip().lower() if value is not None else ""
    if v not in choices:
        raise SettingsError(f"{name}: {value!r} is not one of {', '.join(choices)}")
    return v


def _f(default: Any, help: str) -> Any:
    """A settings field with its one-line help (shown by the CLI and the API docs)."""
    return field(default=default, metadata={"help": help})


@dataclass(frozen=True)
class Settings:
    """Everything that decides the picture. Defaults give a good result at 384 px."""

    size: int = _f(384, "longest side of the output, in pixels")
    steps: int = _f(300, "optimizer iterations (one VGG forward+backward each), over all scales together")
    content_weight: float = _f(1.0, "alpha: weight of the content loss (feature MSE on content_layers)")
    style_weight: float = _f(10.0, "beta: weight of the style loss (the statistic chosen by style_loss, on style_layers)")
    tv_weight: float = _f(1.0, "weight of the total-variation (smoothness) loss; 0 turns it off")
    backbone: str = _f("vgg19", "feature network: vgg19 (the paper's) or vgg16 (lighter)")
    content_layers: tuple[str, ...] = _f(("conv4_2",), "VGG layers compared with the content image, comma-separated")
    style_layers: tuple[str, ...] = _f(PAPER_STYLE_LAYERS, "VGG layers whose style statistics are matched, comma-separated")
    style_layer_weights: tuple[float, ...] | None = _f(
        None, "one weight per style layer, comma-separated; default equal weights (the paper's w_l = 1/5)")
    pooling: str = _f("avg", "pooling in VGG: avg (the paper's choice, smoother) or max")
    init: str = _f("content", "starting image: content (fast, faithful), noise (the paper's white noise) or style")
    optimizer: str = _f("lbfgs", "lbfgs (the paper's) or adam")
    learning_rate: float | None = _f(None, "step size; default 1.0 for lbfgs, 0.02 for adam (pixels in [0, 1])")
    seed: int = _f(0, "seed for noise init; same seed and device give the same picture")
    style_scale: float = _f(1.0, "size of the style image relative to the output (smaller: finer strokes)")
    scales: int = _f(1, "coarse-to-fine: number of scales, each twice the previous, ending at size")
    precision: str = _f("auto", "arithmetic of the VGG passes: auto (bf16 where the hardware has it, else fp32), "
                                "fp32, bf16 or fp16 (CUDA only); Gram matrices and losses are always fp32")
    style_loss: str = _f("gram", "style statistic: gram (Gatys), mmd-linear, mmd-poly, mmd-gauss (MMD kernels, Li et al.) "
                                 "or bn (per-channel mean and std)")
    mmd_poly_c: float = _f(1.0, "c of the mmd-poly kernel (x.y + c)^2, in units of the style features' mean squared "
                                "norm; 0 makes mmd-poly the Gram loss exactly")
    hist_weight: float = _f(0.0, "weight of the histogram loss (Risser et al.) on hist_layers; 0 turns it off")
    hist_layers: tuple[str, ...] = _f(HISTOGRAM_LAYERS, "VGG layers whose per-channel histograms are matched, comma-separated")
    photo_weight: float = _f(0.0, "weight of the photorealism loss (matting Laplacian, Luan et al.); 0 turns it off, "
                                  "about 1e4 keeps a photo a photo")
    preserve_color: str = _f("none", "keep the content's colours: none, luminance (stylize luminance only) or "
                                     "histogram (recolour the style to the content's colour statistics first)")
    style_blend: tuple[float, ...] | None = _f(None, "one weight per style image, comma-separated; default equal weights")

    def __post_init__(self) -> None:
        set_ = lambda name, value: object.__setattr__(self, name, value)  # noqa: E731 (frozen dataclass)
        set_("size", _as_int(self.size, "size", MIN_SIZE, MAX_SIZE))
        set_("steps", _as_int(self.steps, "steps", 1, MAX_STEPS))
        for name in ("content_weight", "style_weight", "tv_weight"):
            set_(name, _as_float(getattr(self, name), name))
        set_("backbone", _as_choice(self.backbone, "backbone", BACKBONES))
        set_("content_layers", _as_layers(self.content_layers, "content_layers"))
        set_("style_layers", _as_layers(self.style_layers, "style_layers"))
        check_layers(self.backbone, self.content_layers, "content_layers")
        check_layers(self.backbone, self.style_layers, "style_layers")
        if self.style_layer_weights is not None:
            weights = _as_floats(self.style_layer_weights, "style_layer_weights")
            if len(weights) != len(self.style_layers):
                raise SettingsError(
                    f"style_layer_weights: {len(weights)} weights given for {len(self.style_layers)} style layers; give one per layer"
                )
            if not any(weights):
                raise SettingsError("style_layer_weights: at least one weight must be above zero")
            set_("style_layer_weights", weights)
        set_("pooling", _as_choice(self.pooling, "pooling", POOLINGS))
        set_("init", _as_choice(self.init, "init", INITS))
        set_("optimizer", _as_choice(self.optimizer, "optimizer", OPTIMIZERS))
        if self.learning_rate is not None:
            set_("learning_rate", _as_float(self.learning_rate, "learning_rate", 1e-6, 1e3))
        set_("seed", _as_int(self.seed, "seed", 0, 2**63 - 1))
        set_("style_scale", _as_float(self.style_scale, "style_scale", 0.05, 4.0))
        set_("scales", _as_int(self.scales, "scales", 1, 6))
        set_("precision", _as_choice(self.precision, "precision", PRECISIONS))
        if self.size / 2 ** (self.scales - 1) < MIN_SCALE_SIZE:
            raise SettingsError(
                f"scales: {self.scales} scales from size {self.size} would start below {MIN_SCALE_SIZE} px; use fewer scales"
            )
        set_("style_loss", _as_choice(self.style_loss, "style_loss", STYLE_LOSSES))
        set_("mmd_poly_c", _as_float(self.mmd_poly_c, "mmd_poly_c", 0.0, 1e6))
        for name in ("hist_weight", "photo_weight"):
            set_(name, _as_float(getattr(self, name), name))
        set_("hist_layers", _as_layers(self.hist_layers, "hist_layers"))
        check_layers(self.backbone, self.hist_layers, "hist_layers")
        set_("preserve_color", _as_choice(self.preserve_color, "preserve_color", PRESERVE_COLORS))
        if self.style_blend is not None:
            blend = _as_floats(self.style_blend, "style_blend")
            if not blend:
                raise SettingsError("style_blend: give one weight per style image, e.g. 0.7,0.3")
            if not any(blend):
                raise SettingsError("style_blend: at least one weight must be above zero")
            set_("style_blend", blend)
        if self.content_weight == 0 and self.style_weight == 0 and self.hist_weight == 0:
            raise SettingsError("content_weight, style_weight and hist_weight are all 0: there would be nothing to optimize")

    @property
    def layer_weights(self) -> tuple[float, ...]:
        """Per-style-layer weights, normalized to sum to 1 (equal when not given)."""
        w = self.style_layer_weights or (1.0,) * len(self.style_layers)
        total = sum(w)
        return tuple(x / total for x in w)

    def blend_weights(self, n_styles: int) -> tuple[float, ...]:
        """Per-style weights for ``n_styles`` style images, normalized to sum to 1 (equal when not given)."""
        if self.style_blend is None:
            return (1.0 / n_styles,) * n_styles
        if len(self.style_blend) != n_styles:
            raise SettingsError(
                f"style_blend: {len(self.style_blend)} weight(s) given for {n_styles} style image(s); give one per style"
            )
        total = sum(self.style_blend)
        return tuple(w / total for w in self.style_blend)

    @property
    def lr(self) -> float:
        if self.learning_rate is not None:
            return self.learning_rate
        return 1.0 if self.optimizer == "lbfgs" else 0.02

    def replace(self, **changes: Any) -> "Settings":
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> "Settings":
        """Build from a plain mapping (API, config files), refusing unknown names."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise SettingsError(f"unknown setting(s) {', '.join(unknown)}; known settings are {', '.join(sorted(known))}")
        return cls(**dict(values))

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def field_names() -> list[str]:
    return [f.name for f in dataclasses.fields(Settings)]

