"""The API: one endpoint per method, its parameters named and described like the package's settings.

A parameter is a :class:`~nst.settings.Settings` field (lists as comma-separated text), an image, or
one of the few options of CycleGAN and texture synthesis. Defaults are the package's, except
``size``, ``steps`` and ``scales``, which follow the device exactly as the page's do
(:class:`~nst.ui.server.RunDefaults`), and ``backbone`` (``NST_BACKBONE``). Each endpoint streams
``(image, info)``: the latest preview (or None) while it runs, the result at the end.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import gradio as gr
from PIL import Image

from ..cyclegan import DEFAULT_PAINTER
from ..methods import METHODS, Method
from ..settings import MAX_STYLES, fields_info
from .components import lenient_number, upload_files, upload_image
from .jobs import api_job, painters
from .messages import api_error
from .run import Done, Runner, Waiting
from .server import ServerConfig
from .uploads import UploadGate

#: File parameters: how they are named in messages, and how many files a list takes (None: one).
FILES = {
    "content": ("content image", None),
    "style": ("style image", None),
    "extra_styles": ("extra style image", MAX_STYLES - 1),
    "masks": ("mask", MAX_STYLES),
    "content_segmentation": ("content segmentation", None),
    "style_segmentation": ("style segmentation", None),
}


@dataclass(frozen=True)
class ApiParam:
    name: str
    kind: str  #: image, files, int, optional-int, float, optional-float, choice, list, optional-list
    default: Any = inspect.Parameter.empty
    choices: tuple[str, ...] | None = None
    help: str = ""


def parameters(method: Method, config: ServerConfig) -> list[ApiParam]:
    """The parameters of ``method``'s endpoint, in order."""
    if method.kind == "cyclegan":
        offered = tuple(painters())
        return [
            ApiParam("content", "image", help="photo to repaint"),
            ApiParam(
                "painter",
                "choice",
                DEFAULT_PAINTER if DEFAULT_PAINTER in offered else None,
                offered,
                "catalogue painter (nst.catalogue)",
            ),
            ApiParam("strength", "float", 1.0, help="0 = the photo unchanged, 1 = the generator's painting"),
            ApiParam(
                "brush_scale",
                "float",
                1.0,
                help="paint at 1/brush_scale resolution: coarser strokes (1 to 4)",
            ),
            ApiParam(
                "max_size",
                "int",
                config.max_size,
                help="shrink the photo first so its longer side is at most this",
            ),
        ]
    params = [ApiParam("content", "image", help="photo to repaint")] if method.kind == "optimize" else []
    params.append(ApiParam("style", "image", help="painting whose style to use"))
    if method.kind == "texture":
        side = config.defaults.size
        params += [
            ApiParam("width", "int", side, help="texture width in pixels"),
            ApiParam("height", "int", side, help="texture height in pixels"),
        ]
    device = {
        "size": config.defaults.size,
        "steps": config.defaults.steps,
        "scales": config.defaults.scales,
        "backbone": config.backbone,
    }
    names = method.parameters()
    for info in fields_info():
        if info.name in names:
            default = device.get(info.name, method.default(info.name))
            if info.kind.endswith("list") and default is not None:
                default = ",".join(map(str, default))
            params.append(ApiParam(info.name, info.kind, default, info.choices, info.help))
    params.append(
        ApiParam("extra_styles", "files", None, help="up to 3 more style images, mixed with style_blend")
    )
    if method.kind == "optimize":
        params.append(
            ApiParam("masks", "files", None, help="one gray mask per style image, white where it goes")
        )
    if method.name == "photorealistic":
        params += [
            ApiParam("content_segmentation", "image", None, help="colour-coded regions of the photo"),
            ApiParam("style_segmentation", "image", None, help="the same colours on the style image"),
        ]
    return params


def component(param: ApiParam, gate: UploadGate) -> gr.components.Component:
    """The (hidden) input component of a parameter; file inputs go through the upload gate."""
    label, info = param.name, param.help or None
    default = None if param.default is inspect.Parameter.empty else param.default
    if param.kind == "image":
        return gate.register(
            upload_image("style" if param.name == "style" else "content", label=label, sources=["upload"]),
            *FILES[param.name],
        )
    if param.kind == "files":
        return gate.register(upload_files(label=label), *FILES[param.name])
    if param.kind in ("int", "optional-int"):
        return lenient_number(gr.Number(value=default, precision=0, label=label, info=info))
    if param.kind in ("float", "optional-float"):
        return lenient_number(gr.Number(value=default, label=label, info=info))
    if param.kind == "choice":
        return gr.Dropdown(choices=list(param.choices or ()), value=default, label=label, info=info)
    return gr.Textbox(value=default, label=label, info=info)


def info(
    method: str,
    done: Done | None = None,
    step: int = 0,
    total: int = 0,
    losses: dict[str, float] | None = None,
) -> dict[str, Any]:
    """The endpoint's second output: where the run is, and at the end how it went."""
    out: dict[str, Any] = {
        "method": method,
        "done": done is not None,
        "step": step,
        "total_steps": total,
        "losses": losses or {},
    }
    if done is not None:
        out.update(
            steps=done.steps,
            seconds=round(done.seconds, 3),
            stopped=done.stopped,
            device=done.device,
            width=done.image.width,
            height=done.image.height,
            notes=done.notes,
        )
    return out


def handler(
    method: Method, params: list[ApiParam], runner: Runner, config: ServerConfig
) -> Callable[..., AsyncIterator[tuple]]:
    """An async generator function whose signature is the endpoint's named parameters (Gradio reads it)."""
    names = [p.name for p in params]

    async def endpoint(*args: Any) -> AsyncIterator[tuple]:
        try:
            job = api_job(method, dict(zip(names, args)), config)
            losses: dict[str, float] = {}
            latest: Image.Image | None = None
            step = 0
            async for item in runner.stream(job):
                if isinstance(item, Done):
                    yield item.image, info(method.name, item, item.steps, item.steps, losses)
                    return
                if isinstance(item, Waiting):  # still there: the step it is at, unchanged
                    yield latest, info(method.name, None, step, job.steps, losses)
                    continue
                step = item.step
                losses, latest = item.losses[-1], item.image if item.image is not None else latest
                # Every update carries the latest preview (None before the first one), so a client
                # iterating over a job always gets an image path or None, never a Gradio update dict.
                yield latest, info(method.name, None, item.step, item.total, losses)
        except Exception as exc:
            raise api_error(exc) from exc

    endpoint.__name__ = endpoint.__qualname__ = method.name
    endpoint.__doc__ = method.description
    endpoint.__signature__ = inspect.Signature(
        [  # type: ignore[attr-defined]
            inspect.Parameter(p.name, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=p.default)
            for p in params
        ]
    )
    return endpoint


def add_endpoints(runner: Runner, config: ServerConfig, gate: UploadGate, concurrency_id: str) -> None:
    """One endpoint per method on hidden components (inside the Blocks being built), parameters shared."""
    with gr.Column(visible=False):
        image = gr.Image(label="image", type="pil", format="png")
        details = gr.JSON(label="info")
        trigger = gr.Button("api")
        shared: dict[tuple, gr.components.Component] = {}
        for method in METHODS.values():
            params = parameters(method, config)
            inputs = []
            for p in params:
                key = (p.name, p.kind, repr(p.default), p.choices)
                if key not in shared:
                    shared[key] = component(p, gate)
                inputs.append(shared[key])
            trigger.click(
                handler(method, params, runner, config),
                inputs,
                [image, details],
                api_name=method.name,
                api_description=method.description,
                concurrency_id=concurrency_id,
                concurrency_limit=config.concurrency,
                show_progress="hidden",
            )
