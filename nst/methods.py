"""The methods every front end offers, by name, and the settings each one takes.

==================  =========================================================================
``gatys``           Gatys et al.: Gram matrices of VGG features (the classic)
``histogram``       Gatys plus a histogram loss on feature distributions (Risser et al.)
``mmd``             style as a feature distribution matched by MMD or moments (Li et al.)
``photorealistic``  Gatys plus a photorealism term that keeps the photo's edges (Luan et al.)
``texture``         no photo: a new texture synthesized from the style image alone
``cyclegan``        one pass of a pretrained CycleGAN painter (see :mod:`nst.catalogue`)
==================  =========================================================================

This table is the one registry of what each method is: its request type (:mod:`nst.requests`:
what it takes and how it runs), and which settings it offers. Front ends never branch on a method:
they ask it. A method is a view of :class:`~nst.settings.Settings`: the extension settings belong to
the method that introduces them (``own``) and are off for every other one, ``defaults`` are the
method's starting values (the photorealistic method starts from the content in the style's
colours, ``init="matched"``: its photorealism term keeps the edges, so the colour and light must
come from somewhere), and a texture takes none of the content settings (``skip``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .dials import DIALS, Dial, settings_from_values
from .errors import SettingsError, shown
from .inputs import Input
from .requests import PaintRequest, StylizeRequest, TextureRequest
from .settings import Settings

#: Settings and inputs that belong to one extension method; every other method keeps them off.
EXTENSION_FIELDS = (
    "style_loss",
    "mmd_poly_c",
    "hist_weight",
    "hist_layers",
    "photo_weight",
    "content_segmentation",
    "style_segmentation",
)
OFF: Mapping[str, Any] = {"style_loss": "gram", "hist_weight": 0.0, "photo_weight": 0.0}
#: Settings that need a content image (a texture has none); its size is its width and height.
CONTENT_FIELDS = (
    "content_weight",
    "content_layers",
    "init",
    "preserve_color",
    "photo_weight",
    "size",
    "keep_faces",
    "face_strength",
)


Request = StylizeRequest | TextureRequest | PaintRequest


@dataclass(frozen=True)
class Method:
    """One way of making a picture, by the name every front end uses."""

    name: str
    label: str
    request: type[Request]  #: what a run of this method is, and what it takes besides settings
    description: str
    own: tuple[str, ...] = ()
    defaults: Mapping[str, Any] = field(default_factory=dict)
    skip: tuple[str, ...] = ()

    def _offers(self, name: str) -> bool:
        return name not in self.skip and (name not in EXTENSION_FIELDS or name in self.own)

    def setting_names(self) -> list[str]:
        """The settings a caller may set for this method, in :class:`Settings` order (none for a painter)."""
        if "settings" not in {f.name for f in dataclasses.fields(self.request)}:
            return []
        return [f.name for f in dataclasses.fields(Settings) if self._offers(f.name)]

    def inputs(self) -> list[Input]:
        """What this method's request takes besides settings (images, a painter, a canvas)."""
        return [i for i in self.request.INPUTS if not i.extension or i.name in self.own]

    def parameters(self) -> list[str]:
        """Every parameter of this method by name, in the order the API and the CLI list them: its first
        inputs, its settings, then its other inputs."""
        inputs = self.inputs()
        return (
            [i.name for i in inputs if not i.last] + self.setting_names() + [i.name for i in inputs if i.last]
        )

    def dials(self) -> list[Dial]:
        """The dials of its settings, the extension ones only where this method switches them on by
        default (histogram strength for ``histogram``, realism for ``photorealistic``)."""
        names = self.setting_names()
        return [
            d
            for d in DIALS.values()
            if d.setting in names and (d.setting not in EXTENSION_FIELDS or d.setting in self.defaults)
        ]

    def takes(self, name: str) -> bool:
        """Whether a page control, an API parameter or a CLI flag of this name means anything here."""
        return name in self.parameters() or any(d.name == name for d in self.dials())

    def default(self, name: str) -> Any:
        """This method's default for a setting: its own starting value, else the package's."""
        return self.defaults[name] if name in self.defaults else getattr(Settings(), name)

    def settings(self, values: Mapping[str, Any] | None = None) -> Settings:
        """Settings for this method from values by name (settings, and the dials it shows): its starting
        values, then ``values``; the extensions it does not own stay off. Refuses anything else by name."""
        values = dict(values or {})
        if not self.setting_names() and values:
            raise SettingsError(f"the {self.label} method takes no optimization settings")
        unknown = sorted(set(values) - set(self.setting_names()) - {d.name for d in self.dials()})
        if unknown:
            raise SettingsError(f"the {self.label} method does not take the setting(s) {', '.join(unknown)}")
        return settings_from_values(values, {**OFF, **self.defaults})

    def pick(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """The settings and dials this method takes among a front end's values (the page sends every
        control, whichever method is chosen)."""
        names = set(self.setting_names()) | {d.name for d in self.dials()}
        return {k: v for k, v in values.items() if k in names}

    def request_from(self, values: Mapping[str, Any], **fixed: Any) -> Request:
        """This method's request from a front end's values by name (the page's controls, an API call's
        parameters): its inputs, and its settings from the settings and dials it takes (``fixed``: the device)."""
        taken = {i.name: values.get(i.name) for i in self.inputs()}
        if self.setting_names():
            taken["settings"] = self.settings(self.pick(values))
        return self.request(**taken, **fixed)  # type: ignore[arg-type]


#: Starting values of the extension methods' own settings, chosen by looking at pictures (README, "Methods").
HIST_WEIGHT = 10.0
MMD_STYLE_LOSS = "bn"
PHOTO_WEIGHT = 1e4

METHODS: dict[str, Method] = {
    m.name: m
    for m in (
        Method(
            "gatys",
            "Gatys (Gram matrices)",
            StylizeRequest,
            "The classic: the picture is optimized until its VGG feature correlations (Gram matrices) match "
            "the painting's while its deeper features still match the photo.",
        ),
        Method(
            "histogram",
            "Gatys with histogram loss",
            StylizeRequest,
            "Gatys plus a loss that matches the histograms of feature activations, which keeps the painting's "
            "contrast and colour distribution more faithfully (Risser et al. 2017).",
            own=("hist_weight", "hist_layers"),
            defaults={"hist_weight": HIST_WEIGHT},
        ),
        Method(
            "mmd",
            "MMD / moment matching",
            StylizeRequest,
            "Style as a distribution of features, matched by maximum mean discrepancy with a kernel, or by "
            "the mean and spread of each feature channel ('bn'); Li et al. 2017.",
            own=("style_loss", "mmd_poly_c"),
            defaults={"style_loss": MMD_STYLE_LOSS},
        ),
        Method(
            "photorealistic",
            "Photorealistic",
            StylizeRequest,
            "Gatys plus a photorealism term that keeps the photo's edges and local structure, for a result "
            "that still looks like a photograph (Luan et al. 2017).",
            own=("photo_weight", "content_segmentation", "style_segmentation"),
            defaults={"photo_weight": PHOTO_WEIGHT, "init": "matched"},
        ),
        Method(
            "texture",
            "Texture synthesis",
            TextureRequest,
            "No photo: a new image is optimized from noise until its feature statistics match the style "
            "image, giving a texture of any size in that style.",
            own=("style_loss", "mmd_poly_c", "hist_weight", "hist_layers"),
            skip=CONTENT_FIELDS,
        ),
        Method(
            "cyclegan",
            "CycleGAN painter",
            PaintRequest,
            "One pass through a network trained to turn photos into one painter's work (Zhu et al. 2017): "
            "seconds instead of minutes, but only the painters in the catalogue.",
        ),
    )
}


def get_method(name: str) -> Method:
    """The method called ``name`` (case-insensitive), or a SettingsError listing the names."""
    key = str(name).strip().lower()
    if key not in METHODS:
        raise SettingsError(f"method: {shown(name)} is not one of {', '.join(METHODS)}")
    return METHODS[key]
