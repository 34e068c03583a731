"""Methods by name, and the app's plain-word dials mapped onto :class:`~nst.settings.Settings`.

Every front end (the Gradio app and its API, Python, the CLI) names the methods the same way:

==================  =========================================================================
``gatys``           Gatys et al.: Gram matrices of VGG features (the classic)
``histogram``       Gatys plus a histogram loss on feature distributions (Risser et al.)
``mmd``             style as a feature distribution matched by MMD or moments (Li et al.)
``photorealistic``  Gatys plus a photorealism term that keeps the photo's edges (Luan et al.)
``texture``         no photo: a new texture synthesized from the style image alone
``cyclegan``        one pass of a pretrained CycleGAN painter (see :mod:`nst.catalogue`)
==================  =========================================================================

A :class:`Method` says which settings it pins (``fixed``: e.g. ``gatys`` pins ``hist_weight``
to 0), which settings only it exposes (``own``, with its starting values in ``defaults``) and
which settings do not apply to it (``skip``: a texture has no content). The settings fields
added by the extension methods (``style_loss``, ``hist_weight``, ``photo_weight`` ...) are
looked up at run time, so a method whose fields this version of :class:`Settings` lacks is
reported as unavailable (:func:`Method.missing`) instead of failing at import.

The dials are what a person sees in the app, on scales where equal slider steps make equal
visual steps:

* **style strength** 0..10 -> ``style_weight = 10 ** (strength / 5)``: 1 .. 100, 5 gives the
  default 10 (the engine's useful range is about 1 to 100 on a log scale).
* **content fidelity** 0..10 -> ``content_weight = 10 ** ((fidelity - 5) / 5)``: 0.1 .. 10,
  5 gives the default 1.
* **smoothness** 0..10 -> ``tv_weight = 10 ** ((smoothness - 3) / 2)``, 0 turns it off:
  3 gives the default 1 (barely visible), 7 gives 100 (clearly smoother), 10 about 3000.
* **histogram strength** 0..10 -> ``hist_weight = 10 ** (h / 5)``, 0 turns it off (5 -> 10).
* **photorealism** 0..10 -> ``photo_weight = 10 ** (p / 2)``, 0 turns it off (8 -> 1e4).
* **colour preservation**: plain-word choices for ``preserve_color``.
"""

from __future__ import annotations

import dataclasses
import inspect
import math
import os
import typing
from dataclasses import dataclass, field
from typing import Any, Mapping

from . import settings as _settings_module
from .errors import SettingsError
from .settings import Settings

# ----------------------------------------------------------------------------- dials

STRENGTH_RANGE = (0.0, 10.0)
DEFAULT_STYLE_STRENGTH = 5.0
DEFAULT_CONTENT_FIDELITY = 5.0
DEFAULT_SMOOTHNESS = 3.0


def _dial(value: Any, name: str) -> float:
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise SettingsError(f"{name}: expected a number from 0 to 10, got {value!r}") from None
    if not math.isfinite(x) or not STRENGTH_RANGE[0] <= x <= STRENGTH_RANGE[1]:
        raise SettingsError(f"{name}: must be from 0 to 10, got {value!r}")
    return x


def style_weight_from_strength(strength: float) -> float:
    """Style strength 0..10 -> ``style_weight`` 1..100 (log scale; 5 -> 10, the default)."""
    return 10.0 ** (_dial(strength, "style strength") / 5.0)


def strength_from_style_weight(style_weight: float) -> float:
    """The inverse of :func:`style_weight_from_strength`, clipped to the dial's range."""
    if style_weight <= 0:
        return STRENGTH_RANGE[0]
    return min(max(5.0 * math.log10(style_weight), STRENGTH_RANGE[0]), STRENGTH_RANGE[1])


def content_weight_from_fidelity(fidelity: float) -> float:
    """Content fidelity 0..10 -> ``content_weight`` 0.1..10 (log scale; 5 -> 1, the default)."""
    return 10.0 ** ((_dial(fidelity, "content fidelity") - 5.0) / 5.0)


def tv_weight_from_smoothness(smoothness: float) -> float:
    """Smoothness 0..10 -> ``tv_weight``: 0 is off, then 10 ** ((s - 3) / 2) (3 -> 1, the default)."""
    s = _dial(smoothness, "smoothness")
    return 0.0 if s == 0 else 10.0 ** ((s - 3.0) / 2.0)


def hist_weight_from_strength(strength: float) -> float:
    """Histogram strength 0..10 -> ``hist_weight``: 0 is off, then 10 ** (h / 5) (5 -> 10, the
    histogram method's default, as strong as the default style weight)."""
    h = _dial(strength, "histogram strength")
    return 0.0 if h == 0 else 10.0 ** (h / 5.0)


def photo_weight_from_realism(realism: float) -> float:
    """Photorealism 0..10 -> ``photo_weight``: 0 is off, then 10 ** (p / 2) (8 -> 1e4, the
    photorealistic method's default: "about 1e4 keeps a photo a photo")."""
    p = _dial(realism, "photorealism")
    return 0.0 if p == 0 else 10.0 ** (p / 2.0)


DEFAULT_HIST_STRENGTH = 5.0
DEFAULT_REALISM = 8.0

#: Plain-word colour choices (what the app shows) -> ``preserve_color`` values.
COLOR_CHOICES: dict[str, str] = {
    "Painting's colours": "none",
    "Photo's colours (keep the photo's colour, take the painting's light and texture)": "luminance",
    "Photo's colours (match the colour histogram)": "histogram",
}


def preserve_color_from_choice(choice: str) -> str:
    """A plain-word colour choice (or a ``preserve_color`` value itself) -> ``preserve_color``."""
    if choice in COLOR_CHOICES:
        return COLOR_CHOICES[choice]
    if choice in COLOR_CHOICES.values():
        return choice
    raise SettingsError(f"colour preservation: {choice!r} is not one of {', '.join(COLOR_CHOICES)}")


# ----------------------------------------------------------------------------- settings fields

#: Choices of the fields that take one of a few words, for front ends (dropdowns, API types).
#: Fields added by extensions are read from :mod:`nst.settings` when it defines them.
_CHOICE_CONSTANTS = {
    "backbone": ("BACKBONES", ("vgg19", "vgg16")),
    "pooling": ("POOLINGS", ("avg", "max")),
    "init": ("INITS", ("content", "noise", "style")),
    "optimizer": ("OPTIMIZERS", ("lbfgs", "adam")),
    "style_loss": ("STYLE_LOSSES", ("gram", "mmd-linear", "mmd-poly", "mmd-gauss", "bn")),
    "preserve_color": ("PRESERVE_COLORS", ("none", "luminance", "histogram")),
}


def field_choices(name: str) -> tuple[str, ...] | None:
    """The allowed words of a choice field, or None for numbers, lists and free text."""
    if name not in _CHOICE_CONSTANTS:
        return None
    constant, fallback = _CHOICE_CONSTANTS[name]
    if name in ("backbone", "pooling"):
        from . import vgg

        return tuple(getattr(vgg, constant, fallback))
    for alias in (constant, constant.rstrip("S") + "_CHOICES", name.upper() + "S"):
        value = getattr(_settings_module, alias, None)
        if isinstance(value, (tuple, list)) and all(isinstance(v, str) for v in value):
            return tuple(value)
    return fallback


def settings_fields() -> list[dataclasses.Field]:
    """The fields of :class:`Settings` as this version of the package defines them."""
    return list(dataclasses.fields(Settings))


def has_field(name: str) -> bool:
    return any(f.name == name for f in settings_fields())


def field_help(name: str) -> str:
    for f in settings_fields():
        if f.name == name:
            return str(f.metadata.get("help", ""))
    return ""


def field_kind(name: str) -> str:
    """How a front end should show a field: ``int``, ``float``, ``optional-float``, ``choice``,
    ``list`` (comma-separated text; ``optional-list`` may be empty) or ``text``."""
    if field_choices(name):
        return "choice"
    hints = typing.get_type_hints(Settings)
    hint = hints.get(name)
    text = str(hint)
    optional = "None" in text
    if "tuple" in text or "list" in text or "Sequence" in text:
        return "optional-list" if optional else "list"
    if hint is int:
        return "int"
    if hint is float or "float" in text:
        return "optional-float" if optional else "float"
    if "int" in text:
        return "int"
    return "text"


# ----------------------------------------------------------------------------- methods

#: Settings that belong to one extension method; every other method pins them off.
EXTENSION_FIELDS = ("style_loss", "mmd_poly_c", "hist_weight", "hist_layers", "photo_weight")
#: Starting values of the extension methods' own settings (chosen by looking at pictures,
#: see README "Methods"); every other method pins ``OFF``.
HIST_WEIGHT = 10.0
MMD_STYLE_LOSS = "bn"
PHOTO_WEIGHT = 1e4
OFF: dict[str, Any] = {"style_loss": "gram", "hist_weight": 0.0, "photo_weight": 0.0}
#: Settings that do not apply to texture synthesis (there is no photo).
CONTENT_FIELDS = ("content_weight", "content_layers", "init", "preserve_color", "photo_weight", "size")
#: Settings the app's run button and the API do not take as plain settings fields
#: (``style_blend`` comes with the extra style images, as one weight per style).
NOT_PARAMETERS = ("style_blend",)


@dataclass(frozen=True)
class Method:
    """One way of making a picture, by the name every front end uses."""

    name: str
    label: str
    kind: str  #: "optimize" (stylize), "texture" (synthesize_texture) or "cyclegan" (paint)
    description: str
    fixed: Mapping[str, Any] = field(default_factory=dict)
    own: tuple[str, ...] = ()
    defaults: Mapping[str, Any] = field(default_factory=dict)
    skip: tuple[str, ...] = ()
    requires: tuple[str, ...] = ()

    def missing(self) -> str | None:
        """Why this method cannot run with this version of the package, or None when it can."""
        absent = [f for f in self.requires if not has_field(f)]
        if absent:
            return (f"the {self.label} method needs the setting(s) {', '.join(absent)}, which this version of "
                    f"nst does not have yet")
        if self.kind == "texture":
            import nst

            if not callable(getattr(nst, "synthesize_texture", None)):
                return "texture synthesis (nst.synthesize_texture) is not in this version of nst yet"
        if self.kind == "cyclegan":
            try:
                from . import cyclegan  # noqa: F401
            except ImportError as exc:
                return f"the CycleGAN painters are not available: {exc}"
        return None

    @property
    def available(self) -> bool:
        return self.missing() is None

    def parameters(self) -> list[str]:
        """The settings fields a caller may set for this method, in :class:`Settings` order."""
        if self.kind == "cyclegan":
            return []
        names = []
        for f in settings_fields():
            if f.name in self.skip or f.name in NOT_PARAMETERS:
                continue
            if f.name in EXTENSION_FIELDS and f.name not in self.own:
                continue
            names.append(f.name)
        return names

    def default(self, name: str) -> Any:
        """This method's default for a settings field: its own starting value, else the package's."""
        if name in self.defaults:
            return self.defaults[name]
        for f in settings_fields():
            if f.name == name:
                if f.default is not dataclasses.MISSING:
                    return f.default
                if f.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
                    return f.default_factory()  # type: ignore[misc]
        raise SettingsError(f"{name}: not a setting of this version of nst")

    def settings(self, base: Settings | None = None, **values: Any) -> Settings:
        """:class:`Settings` for this method: ``base`` (or the defaults), this method's starting
        values, then ``values``; the method's pinned settings last. Refuses settings the method
        does not take, naming them."""
        if self.kind == "cyclegan":
            raise SettingsError("the CycleGAN painters take no optimization settings")
        allowed = set(self.parameters()) | set(NOT_PARAMETERS) - set(self.skip)
        unknown = sorted(k for k in values if k not in allowed)
        if unknown:
            raise SettingsError(f"the {self.label} method does not take the setting(s) {', '.join(unknown)}")
        changes: dict[str, Any] = {}
        for name, value in {**OFF, **self.fixed}.items():
            if has_field(name):
                changes[name] = value
        for name, value in self.defaults.items():
            if has_field(name):
                changes[name] = value
        changes.update(values)
        for name, value in self.fixed.items():
            if has_field(name):
                changes[name] = value
        for name in [n for n in changes if not has_field(n)]:
            del changes[name]
        return (base or Settings()).replace(**changes)


METHODS: dict[str, Method] = {
    m.name: m
    for m in (
        Method(
            "gatys", "Gatys (Gram matrices)", "optimize",
            "The classic: the picture is optimized until its VGG feature correlations (Gram matrices) match "
            "the painting's while its deeper features still match the photo.",
        ),
        Method(
            "histogram", "Gatys with histogram loss", "optimize",
            "Gatys plus a loss that matches the histograms of feature activations, which keeps the painting's "
            "contrast and colour distribution more faithfully (Risser et al. 2017).",
            own=("hist_weight", "hist_layers"), defaults={"hist_weight": HIST_WEIGHT},
            requires=("hist_weight",),
        ),
        Method(
            "mmd", "MMD / moment matching", "optimize",
            "Style as a distribution of features, matched by maximum mean discrepancy with a kernel, or by "
            "the mean and spread of each feature channel ('bn'); Li et al. 2017.",
            own=("style_loss", "mmd_poly_c"), defaults={"style_loss": MMD_STYLE_LOSS},
            requires=("style_loss",),
        ),
        Method(
            "photorealistic", "Photorealistic", "optimize",
            "Gatys plus a photorealism term that keeps the photo's edges and local structure, for a result "
            "that still looks like a photograph (Luan et al. 2017).",
            own=("photo_weight",), defaults={"photo_weight": PHOTO_WEIGHT},
            requires=("photo_weight",),
        ),
        Method(
            "texture", "Texture synthesis", "texture",
            "No photo: a new image is optimized from noise until its feature statistics match the style "
            "image, giving a texture of any size in that style.",
            own=("style_loss", "mmd_poly_c", "hist_weight", "hist_layers"), skip=CONTENT_FIELDS,
        ),
        Method(
            "cyclegan", "CycleGAN painter", "cyclegan",
            "One pass through a network trained to turn photos into one painter's work (Zhu et al. 2017): "
            "seconds instead of minutes, but only the painters in the catalogue.",
        ),
    )
}


def get_method(name: str) -> Method:
    """The method called ``name`` (case-insensitive), or a SettingsError listing the names."""
    key = str(name).strip().lower()
    if key not in METHODS:
        raise SettingsError(f"method: {name!r} is not one of {', '.join(METHODS)}")
    return METHODS[key]


def available_methods() -> list[Method]:
    return [m for m in METHODS.values() if m.available]


def settings_from_dials(method: str, *, style_strength: float = DEFAULT_STYLE_STRENGTH,
                        content_fidelity: float = DEFAULT_CONTENT_FIDELITY, smoothness: float = DEFAULT_SMOOTHNESS,
                        colours: str = "none", hist_strength: float = DEFAULT_HIST_STRENGTH,
                        realism: float = DEFAULT_REALISM, base: Settings | None = None, **values: Any) -> Settings:
    """Settings for ``method`` from the app's dials plus any other settings fields in ``values``.

    Dials that are not ``method``'s are ignored: histogram strength and photorealism apply to the
    methods that switch them on by default (``histogram``, ``photorealistic``).
    """
    m = get_method(method)
    dials: dict[str, Any] = {"style_weight": style_weight_from_strength(style_strength),
                             "tv_weight": tv_weight_from_smoothness(smoothness)}
    if "hist_weight" in m.defaults:
        dials["hist_weight"] = hist_weight_from_strength(hist_strength)
    if "photo_weight" in m.defaults:
        dials["photo_weight"] = photo_weight_from_realism(realism)
    if "content_weight" in m.parameters():
        dials["content_weight"] = content_weight_from_fidelity(content_fidelity)
    colour = preserve_color_from_choice(colours)
    if "preserve_color" in m.parameters():
        dials["preserve_color"] = colour
    elif colour != "none" and m.kind == "optimize":
        raise SettingsError("colour preservation needs a version of nst with the preserve_color setting")
    return m.settings(base, **{**dials, **values})


# ----------------------------------------------------------------------------- app defaults


def default_backbone() -> str:
    """The backbone an app offers first: ``$NST_BACKBONE`` when set (e.g. ``vgg16`` for an operator
    who has only VGG16 weights), else the package default."""
    value = os.environ.get("NST_BACKBONE", "").strip().lower()
    if not value:
        return Settings().backbone
    choices = field_choices("backbone") or ()
    if value not in choices:
        raise SettingsError(f"NST_BACKBONE is {value!r}; use one of {', '.join(choices)}")
    return value


@dataclass(frozen=True)
class QuickStart:
    """Interactive defaults: the first picture in about a minute on a CPU, a good one on a GPU."""

    size: int
    steps: int
    scales: int
    max_size: int


#: CPU: 256 px, 60 steps over 2 scales (40 steps at 128 px, 20 at 256 px): 35-50 s with VGG16
#: on two busy cores, already clearly painted. GPU: 512 px, 300 steps over 2 scales
#: (a few seconds on a current GPU).
QUICK_CPU = QuickStart(size=256, steps=60, scales=2, max_size=1024)
QUICK_GPU = QuickStart(size=512, steps=300, scales=2, max_size=2048)


def quick_start(device_type: str) -> QuickStart:
    return QUICK_GPU if device_type == "cuda" else QUICK_CPU


def estimate_seconds(method: str, size: int, steps: int, *, backbone: str = "vgg19", width: int | None = None,
                     height: int | None = None, device_type: str = "cuda") -> int:
    """A generous estimate of a run's duration, for ZeroGPU's ``duration`` (which must not run short).

    GPU: about 15 ms per VGG19 step at 512 x 512 on a ZeroGPU-class card, scaling with the pixel
    count, VGG16 about 25% cheaper; plus 20 s for loading weights and warming up; times 2 for
    headroom. CPU: about 1 s per step at 256 x 256. Clamped to 30 s .. 600 s.
    """
    kind = get_method(method).kind
    pixels = (width or size) * (height or size)
    if kind == "cyclegan":
        return 30
    per_step = (0.015 * pixels / 512**2) if device_type == "cuda" else (1.0 * pixels / 256**2)
    if backbone == "vgg16":
        per_step *= 0.75
    seconds = 20 + 2 * steps * per_step
    return int(min(600, max(30, math.ceil(seconds))))


def signature_defaults(func: Any) -> dict[str, Any]:
    """Keyword defaults of a package function (e.g. ``synthesize_texture``'s width and height)."""
    try:
        params = inspect.signature(func).parameters.values()
    except (TypeError, ValueError):
        return {}
    return {p.name: p.default for p in params if p.default is not inspect.Parameter.empty}
