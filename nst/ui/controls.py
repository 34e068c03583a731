"""The page as a table of controls: one row per control, named as in the package.

A row's ``name`` is the package's name for what it sets (a dial, a setting, an input of a request;
see :mod:`nst.methods`), never renamed on the way: the same name is the widget's ``elem_id``, the
key of the Run handler's values, the request's field or setting, and the API's and the CLI's
parameter. ``group`` says where ``app.py`` lays it out; its help is the package's own (a setting's
help, a dial's, a request input's). Which methods show a control is not written here: a method shows
the controls it takes (:meth:`~nst.methods.Method.takes`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import gradio as gr

from ..dials import DIALS
from ..flow import FLOW_METHODS
from ..inputs import VIDEO
from ..layers import BACKBONES, POOLINGS
from ..methods import METHODS, Method
from ..readiness import Model
from ..settings import INITS, MAX_STYLES, OPTIMIZERS, STYLE_LOSSES, Settings, fields_info
from ..temporal import DEFAULT_TEMPORAL_WEIGHT
from .components import upload_files, upload_image, upload_video
from .server import ServerConfig
from .uploads import UploadGate

#: The plain-word choices of ``preserve_color``, as the page shows them.
COLOURS = [
    ("Painting's colours", "none"),
    ("Photo's colours (keep the photo's colour, take the painting's light and texture)", "luminance"),
    ("Photo's colours (match the colour histogram)", "histogram"),
]
#: Where each group of controls sits: the pictures, the painter's options, the dials under Run, Advanced.
GROUPS = ("content", "style", "painter", "dials", "advanced")
#: The Video tab beside the photo (shown whichever the method: a texture refuses a video with a sentence):
#: the upload, and the video's own options folded under it.
VIDEO_GROUP, VIDEO_OPTIONS = "video", "video options"


def help_for(name: str) -> str:
    """The package's help for a name: a setting's, a dial's, or a request input's."""
    for info in fields_info():
        if info.name == name:
            return info.help
    if name in DIALS:
        return DIALS[name].info
    for item in [*VIDEO, *(i for method in METHODS.values() for i in method.request.INPUTS)]:
        if item.name == name:
            return item.help
    return ""


@dataclass(frozen=True)
class Context:
    """What widgets need to know of the server: its configuration, its painters, its upload gate."""

    config: ServerConfig
    painters: list[Model]
    gate: UploadGate


@dataclass(frozen=True)
class Control:
    """One control: its package name, its group, and its widget (made with the server's context)."""

    name: str
    group: str
    widget: Callable[[Context, str], gr.components.Component]  #: (context, help) -> component

    def make(self, context: Context, visible: bool = True) -> gr.components.Component:
        component = self.widget(context, help_for(self.name))
        component.elem_id, component.visible = self.name, visible
        return component


def _dial(name: str) -> Control:
    dial = DIALS[name]
    return Control(
        name, "dials", lambda c, h: gr.Slider(0, 10, dial.default, step=0.5, label=dial.label, info=h)
    )


def _painters(context: Context, help: str) -> gr.Dropdown:
    """The painters in readiness order (those that can run here first), the others marked; the first is chosen."""
    marks = {"ready": "", "download": " (downloaded on first use)", "missing": " (not installed here)"}
    return gr.Dropdown(
        [(m.label.removesuffix(" painter") + marks[m.state], m.name) for m in context.painters],
        value=context.painters[0].name if context.painters else None,
        label="Painter",
        info=help,
    )


def _side(name: str, label: str) -> Control:
    """A texture's width or height."""
    return Control(
        name,
        "dials",
        lambda c, h: gr.Slider(16, c.config.max_size, c.config.defaults.size, step=16, label=label),
    )


def _text(label: str, **kwargs: Any) -> Callable[[Context, str], gr.Textbox]:
    return lambda c, h: gr.Textbox(label=label, info=h, **kwargs)


DEFAULTS = Settings()

CONTROLS: tuple[Control, ...] = (
    Control(
        "method",
        "method",
        lambda c, h: gr.Dropdown(
            [(m.label, m.name) for m in METHODS.values()], value="gatys", label="Method"
        ),
    ),
    Control(
        "content",
        "content",
        lambda c, h: c.gate.register(
            upload_image(
                label="Photo",
                sources=["upload", "webcam", "clipboard"],
                height=180,
                webcam_options=gr.WebcamOptions(mirror=False),
            ),
            "content image",
        ),
    ),
    Control(
        "keep_faces",
        "content",
        lambda c, h: gr.Checkbox(
            DEFAULTS.keep_faces == "auto",
            label="Keep faces",
            info="faces painted lightly, so eyes and mouths stay clear",
        ),
    ),
    Control(
        "style",
        "style",
        lambda c, h: c.gate.register(
            upload_image("style", label="Style", sources=["upload", "clipboard"], height=180), "style image"
        ),
    ),
    Control(
        "video",
        VIDEO_GROUP,
        lambda c, h: c.gate.register(upload_video(label="Video", height=180), "video", kind="video"),
    ),
    Control(
        "temporal_weight",
        VIDEO_OPTIONS,
        lambda c, h: gr.Number(DEFAULT_TEMPORAL_WEIGHT, label="Steadiness (temporal weight)", info=h),
    ),
    Control(
        "frame_steps",
        VIDEO_OPTIONS,
        lambda c, h: gr.Number(0, precision=0, label="Steps per later frame", info=h),
    ),
    Control("max_frames", VIDEO_OPTIONS, lambda c, h: gr.Number(0, precision=0, label="Frames", info=h)),
    Control(
        "flow", VIDEO_OPTIONS, lambda c, h: gr.Radio(list(FLOW_METHODS), value=FLOW_METHODS[0], label="Flow")
    ),
    Control("painter", "painter", _painters),
    Control("strength", "painter", lambda c, h: gr.Slider(0, 1, 1.0, step=0.05, label="Strength", info=h)),
    Control(
        "brush_scale", "painter", lambda c, h: gr.Slider(1, 4, 1.0, step=0.25, label="Brush scale", info=h)
    ),
    Control(
        "max_size",
        "painter",
        lambda c, h: gr.Slider(
            64, c.config.max_size, c.config.max_size, step=32, label="Largest side (px)", info=h
        ),
    ),
    *(_dial(name) for name in DIALS),
    Control("preserve_color", "dials", lambda c, h: gr.Radio(COLOURS, value="none", label="Colours")),
    Control(
        "style_loss",
        "dials",
        lambda c, h: gr.Radio(list(STYLE_LOSSES), value=DEFAULTS.style_loss, label="Statistic", info=h),
    ),
    Control(
        "face_strength",
        "dials",
        lambda c, h: gr.Slider(0, 1, DEFAULTS.face_strength, step=0.05, label="Face keeping", info=h),
    ),
    Control(
        "size",
        "dials",
        lambda c, h: gr.Slider(
            64, c.config.max_size, c.config.defaults.size, step=32, label="Output size (px)", info=h
        ),
    ),
    _side("width", "Width (px)"),
    _side("height", "Height (px)"),
    Control(
        "steps",
        "dials",
        lambda c, h: gr.Slider(
            10, c.config.max_steps, c.config.defaults.steps, step=10, label="Steps", info=h
        ),
    ),
    Control(
        "backbone",
        "advanced",
        lambda c, h: gr.Dropdown(list(BACKBONES), value=c.config.backbone, label="Backbone", info=h),
    ),
    Control(
        "pooling", "advanced", lambda c, h: gr.Radio(list(POOLINGS), value=DEFAULTS.pooling, label="Pooling")
    ),
    Control(
        "optimizer",
        "advanced",
        lambda c, h: gr.Radio(list(OPTIMIZERS), value=DEFAULTS.optimizer, label="Optimizer"),
    ),
    Control("style_layers", "advanced", _text("Style layers", value=",".join(DEFAULTS.style_layers))),
    Control(
        "style_layer_weights", "advanced", _text("Style layer weights", value="", placeholder="1,1,1,0.5,0.5")
    ),
    Control("seed", "advanced", lambda c, h: gr.Number(DEFAULTS.seed, precision=0, label="Seed", info=h)),
    Control(
        "scales",
        "advanced",
        lambda c, h: gr.Slider(1, 4, c.config.defaults.scales, step=1, label="Coarse-to-fine scales", info=h),
    ),
    Control(
        "style_scale",
        "advanced",
        lambda c, h: gr.Slider(0.25, 2, DEFAULTS.style_scale, step=0.05, label="Style scale", info=h),
    ),
    Control(
        "extra_styles",
        "advanced",
        lambda c, h: c.gate.register(
            upload_files(label=f"More style images (up to {MAX_STYLES - 1})"),
            "extra style image",
            MAX_STYLES - 1,
        ),
    ),
    Control(
        "style_blend",
        "advanced",
        _text("Style weights", value="", placeholder="first the main style, e.g. 1, 0.5"),
    ),
    Control("content_layers", "advanced", _text("Content layers", value=",".join(DEFAULTS.content_layers))),
    Control(
        "init",
        "advanced",
        lambda c, h: gr.Radio(list(INITS), value=DEFAULTS.init, label="Start from", info=h),
    ),
    Control(
        "masks",
        "advanced",
        lambda c, h: c.gate.register(
            upload_files(label="Masks (one per style, white where it goes)"), "mask", MAX_STYLES
        ),
    ),
)


def in_group(group: str) -> list[Control]:
    return [c for c in CONTROLS if c.group == group]


#: The controls a method may show or hide (all but the method menu), in the table's order.
TOGGLED = tuple(c.name for c in CONTROLS if c.group in GROUPS)


def shown(method: Method) -> dict[str, bool]:
    """Which controls and groups the page shows for ``method``: those it takes, and a group when any of
    its controls is shown; ``losses`` (the plot) for the methods that take steps."""
    controls = {name: method.takes(name) for name in TOGGLED}
    groups = {g: any(controls[c.name] for c in in_group(g)) for g in GROUPS}
    return {**controls, **groups, "losses": method.takes("steps")}


def method_defaults(method: Method) -> dict[str, Any]:
    """The controls whose starting value depends on the method (the mmd method's statistic, the
    photorealistic method's start)."""
    return {name: method.default(name) for name in ("style_loss", "init")}


def named(values: Mapping[Any, Any], widgets: Mapping[str, Any]) -> dict[str, Any]:
    """The Run button's values (keyed by component, as Gradio hands over a set of inputs) by name."""
    names = {id(component): name for name, component in widgets.items()}
    return {names[id(component)]: value for component, value in values.items() if id(component) in names}
