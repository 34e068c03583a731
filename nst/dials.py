"""The plain-word dials of the page (and the CLI), each mapped onto one setting, and how the values a
front end sends by name become :class:`~nst.settings.Settings` (:func:`settings_from_values`).

A dial goes from 0 to 10 on a scale where equal steps look like equal changes, which for loss
weights means a log scale. It keeps its name everywhere: the page's slider, the CLI flag
(``--style-strength``), :func:`settings_from_dials`; the setting it sets keeps the
:class:`~nst.settings.Settings` name.

============================  ================  =================================  =========
dial                          setting           mapping                            default
============================  ================  =================================  =========
``style_strength``            ``style_weight``  ``10 ** (s / 5)``: 1 .. 100         5 -> 10
``content_fidelity``          ``content_weight`` ``10 ** ((f - 5) / 5)``: 0.1 .. 10  5 -> 1
``smoothness``                ``tv_weight``     0 = off, else ``10 ** ((s - 3) / 2)`` 3 -> 1
``hist_strength``             ``hist_weight``   0 = off, else ``10 ** (h / 5)``      5 -> 10
``realism``                   ``photo_weight``  0 = off, else ``10 ** (r / 2)``      8 -> 1e4
============================  ================  =================================  =========
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .checks import as_float
from .errors import SettingsError
from .settings import Settings, fields_info

LOW, HIGH = 0.0, 10.0


@dataclass(frozen=True)
class Dial:
    name: str
    setting: str
    label: str
    info: str
    default: float
    formula: Callable[[float], float]

    def weight(self, value: Any) -> float:
        """The setting's value for a dial position (0 to 10)."""
        return self.formula(as_float(value, self.name, LOW, HIGH))


def _off_at_zero(formula: Callable[[float], float]) -> Callable[[float], float]:
    return lambda x: 0.0 if x == 0 else formula(x)


DIALS: dict[str, Dial] = {
    d.name: d
    for d in (
        Dial(
            "style_strength",
            "style_weight",
            "Style strength",
            "how strongly the painting's look takes over",
            5.0,
            lambda s: 10.0 ** (s / 5.0),
        ),
        Dial(
            "content_fidelity",
            "content_weight",
            "Content fidelity",
            "how closely the photo's shapes are kept",
            5.0,
            lambda f: 10.0 ** ((f - 5.0) / 5.0),
        ),
        Dial(
            "smoothness",
            "tv_weight",
            "Smoothness",
            "0 = off; higher evens out noise and fine speckle",
            3.0,
            _off_at_zero(lambda s: 10.0 ** ((s - 3.0) / 2.0)),
        ),
        Dial(
            "hist_strength",
            "hist_weight",
            "Histogram strength",
            "how closely the painting's contrast and colour spread are matched; 0 = off",
            5.0,
            _off_at_zero(lambda h: 10.0 ** (h / 5.0)),
        ),
        Dial(
            "realism",
            "photo_weight",
            "Photorealism",
            "how strictly the photo's edges are kept: 0 = off",
            8.0,
            _off_at_zero(lambda r: 10.0 ** (r / 2.0)),
        ),
    )
}
#: The dial that sets each setting.
BY_SETTING: dict[str, Dial] = {d.setting: d for d in DIALS.values()}


def settings_from_dials(dials: Mapping[str, Any]) -> dict[str, float]:
    """The settings the given dials set, e.g. ``{"style_strength": 7}`` -> ``{"style_weight": 25.1}``."""
    unknown = sorted(set(dials) - set(DIALS))
    if unknown:
        raise SettingsError(f"unknown dial(s) {', '.join(unknown)}; the dials are {', '.join(DIALS)}")
    return {DIALS[name].setting: DIALS[name].weight(value) for name, value in dials.items()}


#: Settings that may be left empty (an empty box on the page, None in the API): they then take their default.
OPTIONAL = frozenset(f.name for f in fields_info() if f.kind.startswith("optional"))


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def settings_from_values(values: Mapping[str, Any], base: Mapping[str, Any] | None = None) -> Settings:
    """Settings from what a front end sends by name (the page's controls, an API call, the CLI's flags):
    settings, and dials in place of the settings they set. Empty text or None for a setting that may be
    empty means its default; a dial given with its own setting, and any unknown name, are refused.
    ``base`` holds starting values (a method's) that the values override."""
    given = {
        name: None if name in OPTIONAL and _blank(value) else value
        for name, value in values.items()
        if name not in DIALS
    }
    for name, weight in settings_from_dials({k: v for k, v in values.items() if k in DIALS}).items():
        if name in given:
            raise SettingsError(f"{name}: give either {name} or its dial {BY_SETTING[name].name}, not both")
        given[name] = weight
    return Settings.from_dict({**(base or {}), **given})
