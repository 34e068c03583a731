"""The methods every front end offers, by name, and the settings each one takes.

==================  =========================================================================
``gatys``           Gatys et al.: Gram matrices of VGG features (the classic)
``histogram``       Gatys plus a histogram loss on feature distributions (Risser et al.)
``mmd``             style as a feature distribution matched by MMD or moments (Li et al.)
``photorealistic``  Gatys plus a photorealism term that keeps the photo's edges (Luan et al.)
``texture``         no photo: a new texture synthesized from the style image alone
``cyclegan``        one pass of a pretrained CycleGAN painter (see :mod:`nst.catalogue`)
==================  =========================================================================

A method is a view of :class:`~nst.settings.Settings`: the extension settings belong to the
method that introduces them (``own``) and are off for every other one, ``defaults`` are the
method's starting values (the photorealistic method starts from the content in the style's
colours, ``init="matched"``: its photorealism term keeps the edges, so the colour and light must
come from somewhere), and a texture takes none of the content settings (``skip``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import SettingsError, shown
from .settings import Settings

#: Settings that belong to one extension method; every other method keeps them off.
EXTENSION_FIELDS = ("style_loss", "mmd_poly_c", "hist_weight", "hist_layers", "photo_weight")
OFF: Mapping[str, Any] = {"style_loss": "gram", "hist_weight": 0.0, "photo_weight": 0.0}
#: Settings that need a content image (a texture has none); its size is its width and height.
CONTENT_FIELDS = ("content_weight", "content_layers", "init", "preserve_color", "photo_weight", "size")


@dataclass(frozen=True)
class Method:
    """One way of making a picture, by the name every front end uses."""

    name: str
    label: str
    kind: str  #: "optimize" (nst.stylize), "texture" (nst.synthesize_texture) or "cyclegan" (cyclegan.paint)
    description: str
    own: tuple[str, ...] = ()
    defaults: Mapping[str, Any] = field(default_factory=dict)
    skip: tuple[str, ...] = ()

    def parameters(self) -> list[str]:
        """The settings a caller may set for this method, in :class:`Settings` order."""
        if self.kind == "cyclegan":
            return []
        return [
            f.name
            for f in dataclasses.fields(Settings)
            if f.name not in self.skip and (f.name not in EXTENSION_FIELDS or f.name in self.own)
        ]

    def default(self, name: str) -> Any:
        """This method's default for a setting: its own starting value, else the package's."""
        return self.defaults[name] if name in self.defaults else getattr(Settings(), name)

    def settings(self, **values: Any) -> Settings:
        """Settings for this method: its starting values, then ``values``; the extensions it does not
        own stay off. Refuses settings the method does not take, by name."""
        if self.kind == "cyclegan":
            raise SettingsError("the CycleGAN painters take no optimization settings")
        unknown = sorted(set(values) - set(self.parameters()))
        if unknown:
            raise SettingsError(f"the {self.label} method does not take the setting(s) {', '.join(unknown)}")
        return Settings(**{**OFF, **self.defaults, **values})


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
            "optimize",
            "The classic: the picture is optimized until its VGG feature correlations (Gram matrices) match "
            "the painting's while its deeper features still match the photo.",
        ),
        Method(
            "histogram",
            "Gatys with histogram loss",
            "optimize",
            "Gatys plus a loss that matches the histograms of feature activations, which keeps the painting's "
            "contrast and colour distribution more faithfully (Risser et al. 2017).",
            own=("hist_weight", "hist_layers"),
            defaults={"hist_weight": HIST_WEIGHT},
        ),
        Method(
            "mmd",
            "MMD / moment matching",
            "optimize",
            "Style as a distribution of features, matched by maximum mean discrepancy with a kernel, or by "
            "the mean and spread of each feature channel ('bn'); Li et al. 2017.",
            own=("style_loss", "mmd_poly_c"),
            defaults={"style_loss": MMD_STYLE_LOSS},
        ),
        Method(
            "photorealistic",
            "Photorealistic",
            "optimize",
            "Gatys plus a photorealism term that keeps the photo's edges and local structure, for a result "
            "that still looks like a photograph (Luan et al. 2017).",
            own=("photo_weight",),
            defaults={"photo_weight": PHOTO_WEIGHT, "init": "matched"},
        ),
        Method(
            "texture",
            "Texture synthesis",
            "texture",
            "No photo: a new image is optimized from noise until its feature statistics match the style "
            "image, giving a texture of any size in that style.",
            own=("style_loss", "mmd_poly_c", "hist_weight", "hist_layers"),
            skip=CONTENT_FIELDS,
        ),
        Method(
            "cyclegan",
            "CycleGAN painter",
            "cyclegan",
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
