"""The API: one endpoint per method, its parameters those of the method (:meth:`Method.parameters`),
named and described as in the package, and ``/stop``.

A parameter is an input of the method's request (images, a painter, a canvas) or a
:class:`~nst.settings.Settings` field (lists as comma-separated text). Defaults are the package's,
except ``size``, ``steps`` and ``scales``, which follow the device exactly as the page's do
(:class:`~nst.ui.server.RunDefaults`), ``backbone`` (``NST_BACKBONE``), the texture's canvas, the
painter (the first that can run here) and ``max_size`` (the server's limit). Each endpoint streams
``(image, info)``: the latest preview (or None) and where the run is (its state, place in line, step
and losses), then the result. ``/stop`` stops the caller's runs after their current step: they end with
the best picture so far, at full size.
"""

from __future__ import annotations

import contextlib
import dataclasses
import inspect
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import gradio as gr

from .. import inputs
from ..engine import StyleResult
from ..flow import FLOW_METHODS
from ..inputs import FRAME_METHODS
from ..methods import METHODS, Method
from ..readiness import Model
from ..settings import MAX_STYLES, fields_info
from ..video import VideoRequest, VideoResult
from .cache import CacheFolder
from .components import described, lenient_number, upload_files, upload_image, upload_video
from .lifecycle import State
from .messages import api_error
from .page import checked, checked_video
from .runner import Runner
from .server import ServerConfig
from .uploads import UploadGate

#: How file parameters are named in messages, and how many files a list takes (None: one).
FILES = {
    "video": ("video", None),
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
    kind: str  #: image, images, int, optional-int, float, optional-float, choice, list, optional-list
    default: Any = inspect.Parameter.empty
    choices: tuple[str, ...] | None = None
    help: str = ""


def parameters(method: Method, config: ServerConfig, painters: list[Model]) -> list[ApiParam]:
    """The parameters of ``method``'s endpoint, in the method's order."""
    server = {
        "size": config.defaults.size,
        "steps": config.defaults.steps,
        "scales": config.defaults.scales,
        "backbone": config.backbone,
        "width": config.defaults.size,
        "height": config.defaults.size,
        "max_size": config.max_size,
        "painter": painters[0].name if painters else None,  # in readiness order: one that can run, if any
    }
    settings = {info.name: info for info in fields_info()}
    limits = config.limits
    ranges = {name: f"{low}–{high}" for name, (low, high) in limits.bounds().items()}
    if limits.min_tile is not None and config.max_size:
        ranges["tile_size"] = f"{limits.min_tile}–{config.max_size}"
    inputs = {i.name: i for i in method.inputs()}
    fields = {f.name: f for f in dataclasses.fields(method.request)}
    out = []
    for name in method.parameters():
        if name in inputs:
            item, field = inputs[name], fields[name]
            default = server.get(name, None if field.default == () else field.default)  # no files: None
            if item.required and name not in server:
                default = inspect.Parameter.empty
            choices = tuple(m.name for m in painters) if name == "painter" else None
            out.append(
                ApiParam(name, item.kind, default, choices, on_this_server(item.help, ranges.get(name)))
            )
        else:
            info = settings[name]
            default = server.get(name, method.default(name))
            if info.kind.endswith("list") and default is not None:
                default = ",".join(map(str, default))
            out.append(
                ApiParam(name, info.kind, default, info.choices, on_this_server(info.help, ranges.get(name)))
            )
    return out


def on_this_server(text: str, bounds: str | None) -> str:
    """A parameter's help, with the range this server takes where it bounds the value more tightly."""
    return f"{text} ({bounds} on this server)" if bounds else text


def component(param: ApiParam, gate: UploadGate) -> gr.components.Component:
    """The (hidden) input component of a parameter; file inputs go through the upload gate."""
    label, info = param.name, param.help or None
    default = None if param.default is inspect.Parameter.empty else param.default
    if param.kind == "image":
        example = "style" if param.name == "style" else "content"
        made = gate.register(upload_image(example, label=label, sources=["upload"]), *FILES[param.name])
    elif param.kind == "video":
        made = gate.register(upload_video(label=label), *FILES[param.name], kind="video")
    elif param.kind == "images":
        made = gate.register(upload_files(label=label), *FILES[param.name])
    elif param.kind in ("int", "optional-int"):
        made = lenient_number(gr.Number(value=default, precision=0, label=label, info=info))
    elif param.kind in ("float", "optional-float"):
        made = lenient_number(gr.Number(value=default, label=label, info=info))
    elif param.kind == "choice":
        # Any text reaches the package, which matches it as documented (any case, spaces around) and names
        # the parameter when nothing matches; Gradio's own check did neither.
        choices = list(param.choices or ())
        made = gr.Dropdown(choices=choices, value=default, label=label, info=info, allow_custom_value=True)
    else:
        made = gr.Textbox(value=default, label=label, info=info)
    return described(made, param.help)


def info(
    method: str, state: State, losses: dict[str, float], result: StyleResult | None = None
) -> dict[str, Any]:
    """The endpoint's second output: where the run is, and at the end how it went."""
    out: dict[str, Any] = {"method": method, "done": state.final, **state.info(), "losses": losses}
    if result is not None:
        out.update(
            steps=result.steps,
            seconds=round(result.seconds, 3),
            stopped=result.stopped,
            device=result.device,
            width=result.image.width,
            height=result.image.height,
            notes=result.notes,
            faces=None if result.faces is None else len(result.faces),
        )
    if isinstance(result, VideoResult):
        out.update(frames_written=result.frames, fps=float(result.fps))
    return out


async def _stream(
    name: str, job: Any, runner: Runner, cache: CacheFolder, session: str | None
) -> AsyncIterator[tuple[str | None, dict[str, Any], StyleResult | None]]:
    """A run's updates as an endpoint reports them: (the latest picture's path or None, info, the result at
    the end)."""
    latest: str | None = None
    losses: dict[str, float] = {}
    async with contextlib.aclosing(runner.stream(job, session)) as run:
        async for update in run:
            result = update.result
            picture = result.image if result else update.image
            latest = cache.picture(picture, name) if picture is not None else latest
            losses = update.losses[-1][1] if update.losses else losses
            yield latest, info(name, update.state, losses, result), result


def _endpoint(
    name: str, description: str, params: list[ApiParam], run: Callable[..., AsyncIterator[tuple]]
) -> Callable[..., AsyncIterator[tuple]]:
    """``run(values, request)`` as an async generator function whose signature is the endpoint's named
    parameters (Gradio reads it); every failure is answered with its sentence."""
    names = [p.name for p in params]

    async def endpoint(*args: Any) -> AsyncIterator[tuple]:
        try:
            async for outputs in run(dict(zip(names, args[:-1])), args[-1]):
                yield outputs
        except Exception as exc:
            raise api_error(exc) from exc

    endpoint.__name__ = endpoint.__qualname__ = name
    endpoint.__doc__ = description
    endpoint.__annotations__ = {"request": gr.Request}
    endpoint.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [
            inspect.Parameter(p.name, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=p.default)
            for p in params
        ]
        + [inspect.Parameter("request", inspect.Parameter.POSITIONAL_OR_KEYWORD, default=None)]
    )
    return endpoint


def handler(
    method: Method, params: list[ApiParam], runner: Runner, config: ServerConfig, cache: CacheFolder
) -> Callable[..., AsyncIterator[tuple]]:
    """A method's endpoint: it streams (the latest preview, or None; info), then the result. Every update
    carries the latest preview (None before the first one), so a client iterating over a job always gets an
    image path or None, never a Gradio update dict."""

    async def run(values: dict[str, Any], request: gr.Request) -> AsyncIterator[tuple]:
        job = await checked(method, values, runner, config, cache)
        async for latest, details, _ in _stream(method.name, job, runner, cache, request.session_hash):
            yield latest, details

    return _endpoint(method.name, method.description, params, run)


#: What /video does, as the API page says it.
VIDEO_DESCRIPTION = (
    "A video repainted frame by frame without flicker (Ruder et al. 2016): the first frame as a picture of "
    "the chosen method, every next one from the previous result carried along the optical flow and held "
    "there by a temporal loss; CycleGAN paints each frame in one pass. Streams (the latest finished frame, "
    "None, info) and ends with (the last frame, the MP4, info)."
)


def video_parameters(config: ServerConfig, painters: list[Model]) -> list[ApiParam]:
    """The /video endpoint's parameters: the video, the method, every parameter of the methods a frame can
    be made with (but the photo's own), then the video's own. A setting whose default differs between those
    methods defaults to None: the chosen method's own (the photorealistic method starts from the matched
    photo)."""
    video, *own = inputs.VIDEO
    out = [
        ApiParam(video.name, video.kind, inspect.Parameter.empty, help=video.help),
        ApiParam("method", "choice", "gatys", FRAME_METHODS, "how each frame is made"),
    ]
    settings = {info.name for info in fields_info()}
    found: dict[str, list[ApiParam]] = {}
    for name in FRAME_METHODS:
        for param in parameters(METHODS[name], config, painters):
            if param.name not in ("content", "content_segmentation", "style_segmentation"):
                found.setdefault(param.name, []).append(param)
    for name, seen in found.items():
        # a style is needed by the optimizations only (their refusal names it), and a default that differs
        # between methods is the chosen one's
        mixed = name in settings and len({repr(p.default) for p in seen}) > 1
        unset = seen[0].default is inspect.Parameter.empty
        out.append(dataclasses.replace(seen[0], default=None) if mixed or unset else seen[0])
    defaults = {f.name: f.default for f in dataclasses.fields(VideoRequest)}  # the package's, as they are
    for item in own:
        choices = FLOW_METHODS if item.name == "flow" else None
        out.append(ApiParam(item.name, item.kind, defaults[item.name], choices, item.help))
    return out


def video_handler(
    params: list[ApiParam], runner: Runner, config: ServerConfig, cache: CacheFolder
) -> Callable[..., AsyncIterator[tuple]]:
    """The /video endpoint: (the latest finished frame or None, the MP4 or None, info)."""

    async def run(values: dict[str, Any], request: gr.Request) -> AsyncIterator[tuple]:
        job = await checked_video(values, runner, config, cache)
        async for latest, details, result in _stream("video", job, runner, cache, request.session_hash):
            yield latest, str(result.video) if isinstance(result, VideoResult) else None, details

    return _endpoint("video", VIDEO_DESCRIPTION, params, run)


def add_endpoints(
    runner: Runner, config: ServerConfig, gate: UploadGate, cache: CacheFolder, painters: list[Model]
) -> None:
    """One endpoint per method on hidden components (inside the Blocks being built), parameters shared,
    and ``/stop``."""
    with gr.Column(visible=False):
        image = gr.Image(label="image", type="pil", format="png")
        details = gr.JSON(label="info")
        trigger = gr.Button("api")
        shared: dict[tuple, gr.components.Component] = {}

        def shared_component(p: ApiParam) -> gr.components.Component:
            key = (p.name, p.kind, repr(p.default), p.choices, p.help)
            if key not in shared:
                shared[key] = component(p, gate)
            return shared[key]

        for method in METHODS.values():
            params = parameters(method, config, painters)
            trigger.click(
                handler(method, params, runner, config, cache),
                [shared_component(p) for p in params],
                [image, details],
                api_name=method.name,
                api_description=method.description,
                concurrency_limit=None,  # every run waits in the runner's line, which knows its place
                show_progress="hidden",
            )

        params = video_parameters(config, painters)
        trigger.click(
            video_handler(params, runner, config, cache),
            [shared_component(p) for p in params],
            [image, gr.Video(label="video"), details],
            api_name="video",
            api_description=VIDEO_DESCRIPTION,
            concurrency_limit=None,
            show_progress="hidden",
        )

        def stop(request: gr.Request) -> bool:
            """Stop this client's runs after their current step; they end with the best picture so far."""
            return runner.request_stop(request.session_hash or "")

        trigger.click(stop, None, gr.Checkbox(visible=False), api_name="stop", queue=False)
