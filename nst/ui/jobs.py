"""Turning what the page or an API call sent into a :class:`~nst.ui.run.Job`, checked before any work.

The page sends its controls by name (dials, settings, files); an API call sends settings by name.
Both go the same way: settings are validated by :class:`~nst.settings.Settings` itself, the
server's limits (``NST_MAX_SIZE``, ``NST_MAX_STEPS``) and the device's memory are checked from the
settings alone, and only then are the images decoded, each shrunk at once to the size the run
uses.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from PIL import Image

from .. import cyclegan
from ..catalogue import get_entry
from ..devices import pick_device
from ..dials import DIALS, Dial, settings_from_dials
from ..engine import style_side
from ..errors import SettingsError
from ..images import load_image
from ..memory import check_memory
from ..methods import EXTENSION_FIELDS, Method, get_method
from ..settings import MIN_SCALE_SIZE, Settings, as_int, fields_info
from ..texture import check_canvas
from .run import Job
from .server import ServerConfig

#: The image inputs of a run by name, and how they are called in messages.
IMAGES = {
    "content": "content image",
    "style": "style image",
    "content_segmentation": "content segmentation",
    "style_segmentation": "style segmentation",
}


def page_dials(method: Method) -> list[Dial]:
    """The dials the page shows for ``method``: those of its settings, the extension ones only where the
    method switches them on by default (histogram strength for ``histogram``, realism for ``photorealistic``)."""
    params = method.parameters()
    return [
        d
        for d in DIALS.values()
        if d.setting in params and (d.setting not in EXTENSION_FIELDS or d.setting in method.defaults)
    ]


def painters() -> list[str]:
    """The painters this server offers, page and API alike: the catalogue's painting styles that have a source."""
    return [e.name for e in cyclegan.painters(available_only=True) if e.kind == "painting"]


def _blank(value: Any) -> Any:
    return None if value is None or (isinstance(value, str) and not value.strip()) else value


#: Smallest tile a client may ask for: a 16 px tile with its 80 px halo computes 121 times the pixels it answers for.
MIN_SERVER_TILE = 256

#: Settings that may be left empty (an empty box on the page, None in the API): they then take their default.
OPTIONAL = {f.name for f in fields_info() if f.kind.startswith("optional")}


def _given(value: Any, what: str) -> Any:
    if _blank(value) is None or value == []:
        raise SettingsError(f"{what}: please upload an image")
    return value


def _files(value: Any) -> list[Any]:
    if _blank(value) is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _check_limits(settings: Settings, config: ServerConfig, **sides: int) -> None:
    for name, side in (sides or {"size": settings.size}).items():
        if side > config.max_size:
            raise SettingsError(f"{name}: {side} px is above this server's limit of {config.max_size} px")
    if settings.steps > config.max_steps:
        raise SettingsError(f"steps: {settings.steps} is above this server's limit of {config.max_steps}")
    if settings.tile_size is not None and settings.tile_size < MIN_SERVER_TILE:
        raise SettingsError(
            f"tile_size: this server takes tiles of at least {MIN_SERVER_TILE} px (smaller tiles repeat "
            "most of the work in their overlaps); leave it empty to tile only when needed"
        )


def _styles(values: Mapping[str, Any], settings: Settings) -> list[Image.Image]:
    extra = _files(values.get("extra_styles"))
    side = style_side(settings)
    return [load_image(_given(values.get("style"), "style image"), "style image", side)] + [
        load_image(p, f"extra style image {k + 1}", side) for k, p in enumerate(extra)
    ]


def _settings(method: Method, values: Mapping[str, Any]) -> Settings:
    """Settings for ``method`` from the values of its parameters; anything else sent along is ignored."""
    return method.settings(
        **{k: _blank(v) if k in OPTIONAL else v for k, v in values.items() if k in method.parameters()}
    )


def _painting_job(method: Method, values: Mapping[str, Any], max_size: Any, config: ServerConfig) -> Job:
    painter = get_entry(values.get("painter")).name  # only catalogue names, even at strength 0
    if painter not in painters():
        raise SettingsError(
            f"painter: {painter} is not offered on this server; choose one of {', '.join(painters())}"
        )
    strength, brush_scale = cyclegan.check_options(values.get("strength"), values.get("brush_scale"))
    max_size = as_int(max_size, "max_size", MIN_SCALE_SIZE, config.max_size)
    photo = cyclegan.load_photo(_given(values.get("content"), "content image"), max_size)
    return Job(
        method.name, method.kind, content=photo, painter=painter, strength=strength, brush_scale=brush_scale
    )


def _texture_job(method: Method, settings: Settings, values: Mapping[str, Any], config: ServerConfig) -> Job:
    width, height = check_canvas(values.get("width"), values.get("height"))
    _check_limits(settings, config, width=width, height=height)
    canvas = settings.replace(size=max(width, height))
    check_memory(canvas, 1 + len(_files(values.get("extra_styles"))), pick_device(config.device))
    return Job(
        method.name,
        method.kind,
        styles=_styles(values, canvas),
        settings=settings,
        width=width,
        height=height,
    )


def _optimize_job(method: Method, settings: Settings, values: Mapping[str, Any], config: ServerConfig) -> Job:
    _check_limits(settings, config)
    check_memory(settings, 1 + len(_files(values.get("extra_styles"))), pick_device(config.device))
    styles = _styles(values, settings)
    masks = _files(values.get("masks"))
    if masks and len(masks) != len(styles):
        raise SettingsError(
            f"masks: give one mask per style image ({len(styles)} style image(s), {len(masks)} mask(s))"
        )
    segmentation = {
        key: load_image(values[key], IMAGES[key], side)
        for key, side in (
            ("content_segmentation", settings.size),
            ("style_segmentation", style_side(settings)),
        )
        if _blank(values.get(key)) is not None
    }
    content = load_image(_given(values.get("content"), "content image"), "content image", settings.size)
    return Job(
        method.name,
        method.kind,
        content=content,
        styles=styles,
        masks=[load_image(m, f"mask {k + 1}", settings.size) for k, m in enumerate(masks)] or None,
        segmentation=segmentation,
        settings=settings,
    )


def api_job(method: Method, values: Mapping[str, Any], config: ServerConfig) -> Job:
    """The job of an API call to ``method``'s endpoint (parameters named as in :class:`Settings`)."""
    if method.kind == "cyclegan":
        return _painting_job(method, values, values.get("max_size"), config)
    settings = _settings(method, values)
    if method.kind == "texture":
        return _texture_job(method, settings, values, config)
    return _optimize_job(method, settings, values, config)


def page_job(controls: Mapping[str, Any], config: ServerConfig) -> Job:
    """The job of the page's Run button: its controls by name, the dials turned into their settings."""
    method = get_method(controls.get("method"))
    if method.kind == "cyclegan":
        return _painting_job(method, controls, controls.get("max_size"), config)
    dials = settings_from_dials({d.name: controls[d.name] for d in page_dials(method)})
    settings = _settings(method, {**controls, **dials})
    if method.kind == "texture":
        return _texture_job(method, settings, controls, config)
    return _optimize_job(method, settings, controls, config)
