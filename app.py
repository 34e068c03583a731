"""The nst studio: a Gradio app over the ``nst`` package, in the browser and through the client API.

Run ``python app.py`` (local, prints the URL), ``python app.py --share`` (public link) or
``python app.py --host 0.0.0.0 --port 7860``. On a Hugging Face Space the same file runs
unchanged; on ZeroGPU hardware ``@spaces.GPU`` asks for a GPU per run, elsewhere it does nothing.

This file is a thin layer: the methods, their settings and the plain-word dials live in
:mod:`nst.presets`, the pictures are made by :func:`nst.stylize`,
``nst.synthesize_texture`` and :func:`nst.cyclegan.paint`, and every message a person can
cause comes from an :class:`nst.NSTError`. What is here: the page, streaming a run's
intermediate pictures and losses to it, stopping, and one API endpoint per method.

Environment (set by whoever runs the server, never by its clients):

* ``NST_BACKBONE``: the backbone offered first (``vgg19`` or ``vgg16``; e.g. ``vgg16`` when only
  ``NST_VGG16_WEIGHTS`` is available); ``NST_VGG19_WEIGHTS`` / ``NST_VGG16_WEIGHTS``: weights files.
* ``NST_DEVICE``: ``auto`` (default), ``cpu``, ``cuda``, ``cuda:N``.
* ``NST_MAX_SIZE`` (px, default 1024 on CPU, 2048 on GPU), ``NST_MAX_STEPS`` (default 2000),
  ``NST_MAX_FILE_SIZE`` (upload limit, default ``20mb``), ``NST_CONCURRENCY`` (runs at once,
  default 1: one GPU), ``NST_QUEUE_SIZE`` (waiting runs, default 32), ``NST_CACHE_SECONDS``
  (uploads, results and PNGs are deleted once this old, default 3600; 0: kept until the server stops).
"""

from __future__ import annotations

import spaces  # noqa: F401, I001  first: on ZeroGPU it must be imported before anything initialises CUDA

import argparse
import inspect
import math
import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, AsyncIterator, Callable, Sequence

import gradio as gr
import pandas as pd
import torch
from PIL import Image

import nst
from nst import presets
from nst.devices import pick_device
from nst.engine import style_side
from nst.errors import NSTError, SettingsError, Stopped
from nst.images import load_image
from nst.memory import check_memory
from nst.presets import Method
from nst.settings import MAX_STYLES, as_float, as_int
from nst.ui.run import Done, Job, Runner
from nst.ui.server import ServerConfig, launch, stop_on_sigterm
from nst.ui.uploads import UploadGate

HERE = Path(__file__).resolve().parent
EXAMPLES = HERE / "examples"
TITLE = "nst: neural style transfer studio"

CONFIG = ServerConfig.from_env()
DEVICE = CONFIG.device
DEVICE_TYPE = CONFIG.device_type
QUICK = presets.quick_start(DEVICE_TYPE)
MAX_SIZE = CONFIG.max_size
MAX_STEPS = CONFIG.max_steps
MAX_FILE_SIZE = CONFIG.max_file_size
CONCURRENCY = CONFIG.concurrency
QUEUE_SIZE = CONFIG.queue_size
#: The one folder the server writes to (uploads, results, PNGs), swept by age (NST_CACHE_SECONDS).
CACHE = CONFIG.open_cache()
#: All runs share one queue slot group: one GPU (or CPU) does one picture at a time by default.
COMPUTE = "compute"


# ----------------------------------------------------------------------------- inputs


def upload_image(**kwargs: Any) -> gr.Image:
    """A ``gr.Image(type="filepath")`` that hands every upload to the package as it came.

    Gradio does not open, decode or convert the file (its ``convert("RGB")`` would clip 16-bit
    images and drop transparency onto black, and it would open a 100-megapixel upload before the
    package's size check); ``nst.load_image`` makes the documented conversions and refusals. The
    path is one the upload gate (:mod:`nst.ui.uploads`) let through: a file in the upload folder.

    (The instance's ``preprocess`` is replaced rather than subclassing ``gr.Image``: Gradio
    writes a ``.pyi`` stub next to any module that defines a component class.)
    """
    image = gr.Image(type="filepath", image_mode=None, **kwargs)
    image.preprocess = lambda payload: None if payload is None else str(payload.path)  # type: ignore[method-assign]
    return image


def lenient_number(number: gr.Number) -> gr.Number:
    """A ``gr.Number`` that hands a value it cannot round (NaN, infinity, text, a list) to the
    package unchanged, whose checks then say which parameter is wrong and why."""
    decode = number.preprocess

    def preprocess(payload: Any) -> Any:
        try:
            return decode(payload)
        except (TypeError, ValueError, OverflowError):
            return payload

    number.preprocess = preprocess  # type: ignore[method-assign]
    return number


def _api_number(value: Any, name: str) -> float:
    return as_float(value, name, low=-math.inf)


def _api_whole(value: Any, name: str) -> int:
    return as_int(value, name, 16, MAX_SIZE)


def _given_image(source: Any, what: str = "content image") -> Any:
    if source is None or source == "":
        raise SettingsError(f"{what}: please upload an image")
    return source


def _load(source: Any, what: str, max_side: int | None = None) -> Image.Image:
    return load_image(_given_image(source, what), what=what, max_side=max_side)


def _paths(files: Any) -> list[str]:
    if not files:
        return []
    if isinstance(files, (str, os.PathLike)):
        return [os.fspath(files)]
    return [os.fspath(getattr(f, "name", f)) for f in files]


def _check_limits(settings: nst.Settings | None = None, *, check_size: bool = True, **sides: int | None) -> None:
    """The app's limits (NST_MAX_SIZE, NST_MAX_STEPS) on ``settings`` and on named sides in px."""
    if settings is not None:
        if check_size and settings.size > MAX_SIZE:
            raise SettingsError(f"size: {settings.size} px is above this app's limit of {MAX_SIZE} px (NST_MAX_SIZE)")
        if settings.steps > MAX_STEPS:
            raise SettingsError(f"steps: {settings.steps} is above this app's limit of {MAX_STEPS} (NST_MAX_STEPS)")
    for name, value in sides.items():
        if value is not None and not 16 <= value <= MAX_SIZE:
            raise SettingsError(f"{name}: {value} px must be from 16 to this app's limit of {MAX_SIZE} px")


# ----------------------------------------------------------------------------- running a job


def _duration(job: Job) -> int:
    """ZeroGPU's time request for ``job``, from its size and steps (see presets.estimate_seconds)."""
    s = job.settings
    return presets.estimate_seconds(job.method, s.size if s else 512, s.steps if s else 1,
                                    backbone=s.backbone if s else "vgg19", width=job.width, height=job.height)


RUNNER = Runner(DEVICE, CONCURRENCY, duration=_duration)


def _check_memory(settings: nst.Settings, n_styles: int) -> None:
    check_memory(settings, n_styles, pick_device(DEVICE))


def _before(job: Job, size: tuple[int, int]) -> Image.Image:
    """The 'before' half of the comparison: the photo (or, for a texture, the style) at the result's size."""
    source = job.content if job.content is not None else job.styles[0]
    return source.resize(size, Image.Resampling.LANCZOS) if source.size != size else source


def _save_png(image: Image.Image, method: str) -> str:
    """Write the page's PNG download into the cache folder, which deletes it in its time."""
    folder = CACHE.path / "results"
    folder.mkdir(exist_ok=True)
    path = folder / f"nst-{method}-{uuid.uuid4().hex[:8]}.png"
    image.save(path, format="PNG")
    return str(path)


def _user_error(exc: Exception) -> gr.Error:
    """What a person sees when a run fails, always a sentence: the package's own message; for an
    allocation failure that escaped it, a plain one; anything else is a bug, logged in full."""
    if isinstance(exc, gr.Error):
        return exc
    if isinstance(exc, NSTError):
        return gr.Error(str(exc), print_exception=False)
    if isinstance(exc, (MemoryError, torch.OutOfMemoryError)) or "can't allocate memory" in str(exc):
        return gr.Error("the server ran out of memory for this picture; try a smaller size, or try again when "
                        "fewer people are using it", print_exception=True)
    return gr.Error(f"something went wrong on the server ({type(exc).__name__}); it has been logged. Try again, "
                    "or with other settings", print_exception=True)


# ----------------------------------------------------------------------------- the page's run


def _loss_frame(history: list[tuple[int, dict[str, float]]]) -> pd.DataFrame | None:
    """The loss curve as a long table (step, term, log10 of the weighted loss), numeric columns typed.

    Two quirks of Gradio's plot are avoided: after an empty table it draws no lines (so None is
    sent instead), and it draws only the series present in the first table it gets (so steps
    where some term is zero, like the content loss at step 1 of a content start, are left out).
    """
    rows = [(step, term, math.log10(value)) for step, losses in history
            if all(v > 0 and math.isfinite(v) for v in losses.values()) for term, value in losses.items()]
    if not rows:
        return None
    frame = pd.DataFrame(rows, columns=["step", "term", "loss"])
    return frame.astype({"step": "int64", "term": "str", "loss": "float64"})


_UI_METHODS: dict[str, tuple[str, str | None]] = {}  # radio value -> (method name, painter)


def _method_choices() -> list[tuple[str, str]]:
    choices = []
    for method in presets.available_methods():
        if method.kind != "cyclegan":
            choices.append((method.label, method.name))
            _UI_METHODS[method.name] = (method.name, None)
    if presets.METHODS["cyclegan"].available:
        from nst import cyclegan

        for entry in cyclegan.styles():
            if entry.kind == "painting":
                value = f"cyclegan:{entry.name}"
                choices.append((f"CycleGAN painter: {entry.display_name}", value))
                _UI_METHODS[value] = ("cyclegan", entry.name)
    return choices


def _ui_job(choice: str, content: Any, style: Any, style_strength: float, content_fidelity: float,
            smoothness: float, colours: str, size: float, steps: float, hist_weight: float, mmd_loss: str,
            photo_weight: float, cg_strength: float, brush_scale: float, backbone: str, content_layers: str,
            style_layers: str, style_layer_weights: str, pooling: str, optimizer: str, init: str, seed: float,
            scales: float, style_scale: float, extra_styles: Any, style_blend: str, masks: Any) -> Job:
    """Turn the page's controls into a Job (dials mapped by nst.presets)."""
    if choice not in _UI_METHODS:
        raise SettingsError(f"method: {choice!r} is not available here")
    name, painter = _UI_METHODS[choice]
    method = presets.get_method(name)
    size = int(size)
    if method.kind == "cyclegan":
        from nst import cyclegan

        return Job(name, method.kind, content=cyclegan.load_photo(_given_image(content), size), painter=painter,
                   strength=float(cg_strength), brush_scale=float(brush_scale))
    values: dict[str, Any] = dict(steps=int(steps), scales=int(scales), backbone=backbone, style_layers=style_layers,
                                  style_layer_weights=style_layer_weights.strip() or None, pooling=pooling,
                                  optimizer=optimizer, seed=int(seed), style_scale=float(style_scale))
    if "style_loss" in method.own:
        values["style_loss"] = mmd_loss
    dials = dict(style_strength=style_strength, smoothness=smoothness, hist_strength=hist_weight, realism=photo_weight)
    if method.kind == "texture":
        # The texture is square at the output size; scales must leave at least 16 px at the coarsest.
        settings = presets.settings_from_dials(name, **dials, **values)
        _check_limits(settings, width=size, height=size, check_size=False)
        _check_memory(settings.replace(size=size), 1)
        return Job(name, method.kind, styles=[_load(style, "style image", style_side(settings.replace(size=size)))],
                   settings=settings, width=size, height=size)
    values.update(size=size, content_layers=content_layers, init=init)
    extra = _paths(extra_styles)
    if style_blend.strip():
        values["style_blend"] = style_blend
    settings = presets.settings_from_dials(name, content_fidelity=content_fidelity, colours=colours, **dials, **values)
    _check_limits(settings)
    _check_memory(settings, 1 + len(extra))
    styles = _load_styles(style, extra, settings)
    return Job(name, method.kind, content=_load(content, "content image", settings.size), styles=styles,
               masks=_load_masks(masks, len(styles), settings.size), settings=settings)


def _load_styles(style: Any, extra: Sequence[Any], settings: nst.Settings) -> list[Image.Image]:
    side = style_side(settings)
    return [_load(style, "style image", side)] + [_load(p, f"extra style image {i + 1}", side)
                                                  for i, p in enumerate(extra)]


def _load_masks(masks: Any, n_styles: int, size: int) -> list[Image.Image] | None:
    paths = _paths(masks)
    if not paths:
        return None
    if len(paths) != n_styles:
        raise SettingsError(f"masks: give one mask per style image ({n_styles} style image(s), {len(paths)} mask(s))")
    return [_load(p, f"mask {i + 1}", size) for i, p in enumerate(paths)]


_STOPS: dict[str, Any] = {}


def request_stop(request: gr.Request) -> str:
    event = _STOPS.get(request.session_hash or "")
    if event is None:
        return gr.skip()
    event.set()
    return "Stopping after the current step…"


async def run_ui(choice, content, style, style_strength, content_fidelity, smoothness, colours, size, steps, hist_weight,
                 mmd_loss, photo_weight, cg_strength, brush_scale, backbone, content_layers, style_layers,
                 style_layer_weights, pooling, optimizer, init, seed, scales, style_scale, extra_styles, style_blend,
                 masks, request: gr.Request, progress=gr.Progress()):
    """The page's Run button: stream (live picture, loss curve, before/after, PNG file, status)."""
    import asyncio

    try:
        job = _ui_job(choice, content, style, style_strength, content_fidelity, smoothness, colours, size, steps,
                      hist_weight, mmd_loss, photo_weight, cg_strength, brush_scale, backbone, content_layers,
                      style_layers, style_layer_weights, pooling, optimizer, init, seed, scales, style_scale,
                      extra_styles, style_blend, masks)
    except Exception as exc:
        raise _user_error(exc) from exc
    key = request.session_hash or uuid.uuid4().hex
    stop = _STOPS[key] = asyncio.Event()
    history: list[tuple[int, dict[str, float]]] = []
    latest: Image.Image | None = None
    started = time.perf_counter()
    yield (gr.skip(), _loss_frame([]), None, None,
           "Loading the network…" if job.kind != "cyclegan" else "Painting…")
    stream = RUNNER.stream(job)
    done: Done | None = None
    try:
        async for item in stream:
            if isinstance(item, Done):
                done = item
                break
            step, total, losses, image = item.step, item.total, item.losses, item.image
            history.extend((step - len(losses) + 1 + i, l) for i, l in enumerate(losses))
            latest = image if image is not None else latest
            progress((step, total), unit="steps", desc=f"Step {step} of {total}")
            status = f"Step {step} of {total} · {time.perf_counter() - started:.0f} s · loss {losses[-1]['total']:.3g}"
            yield (image if image is not None else gr.skip(), _loss_frame(history), gr.skip(), gr.skip(), status)
            if stop.is_set():
                break
    except Stopped:
        pass
    except Exception as exc:
        raise _user_error(exc) from exc
    finally:
        await stream.aclose()
        _STOPS.pop(key, None)
    if done is None:  # stopped: the last picture shown is the result
        if latest is None:
            yield (gr.skip(), gr.skip(), None, None, "Stopped before the first picture.")
            return
        done = Done(latest, time.perf_counter() - started, history[-1][0] if history else 0, True, str(DEVICE or DEVICE_TYPE))
    path = _save_png(done.image, job.method)
    verb = "Stopped" if done.stopped else "Done"
    status = (f"{verb}: {done.image.width}×{done.image.height} px, {done.steps} step(s) in {done.seconds:.1f} s "
              f"on {done.device}. Download the PNG below." + "".join(f" Note: {n}." for n in done.notes))
    yield (done.image, _loss_frame(history), (_before(job, done.image.size), done.image), path, status)


def on_method(choice: str):
    """Show only the controls that apply to the chosen method."""
    name = _UI_METHODS.get(choice, ("gatys", None))[0]
    method = presets.get_method(name)
    optimize, texture, cyclegan = method.kind == "optimize", method.kind == "texture", method.kind == "cyclegan"
    text = method.description
    if cyclegan:
        from nst import catalogue

        entry = catalogue.get_entry(_UI_METHODS[choice][1])
        text = f"{entry.description} {method.description}"
    show = lambda flag: gr.update(visible=flag)  # noqa: E731
    return (
        text,
        show(not texture),  # content image
        show(not cyclegan),  # style image
        show(not cyclegan),  # style strength
        show(not cyclegan),  # smoothness
        show(not cyclegan),  # steps
        show(optimize),  # content fidelity, colours
        show(name == "histogram"),
        show(name == "mmd"),
        show(name == "photorealistic"),
        show(cyclegan),  # strength, brush scale
        show(not cyclegan),  # advanced
        show(optimize),  # advanced: content-only settings
        gr.update(label="Texture size (px, square)" if texture else
                  "Largest side (px): bigger photos are shrunk first" if cyclegan else "Output size (longest side, px)"),
    )


# ----------------------------------------------------------------------------- the API


@dataclass
class ApiParam:
    name: str
    kind: str  # image, files, int, float, optional-float, choice, list, optional-list, text
    default: Any = inspect.Parameter.empty
    choices: tuple[str, ...] | None = None
    help: str = ""


def api_parameters(method: Method) -> list[ApiParam]:
    """The parameters of ``method``'s endpoint: named and defaulted as in the package."""
    if method.kind == "cyclegan":
        from nst import cyclegan

        names = tuple(e.name for e in cyclegan.styles())
        return [
            ApiParam("content", "image", help="photo to repaint"),
            ApiParam("style", "choice", cyclegan.DEFAULT_STYLE, names, "catalogue painter (nst.catalogue)"),
            ApiParam("strength", "float", 1.0, help="0 = the photo unchanged, 1 = the generator's painting"),
            ApiParam("brush_scale", "float", 1.0, help="paint at 1/brush_scale resolution: coarser strokes (1 to 4)"),
            ApiParam("max_size", "int", MAX_SIZE, help="shrink the photo first so its longer side is at most this"),
        ]
    params: list[ApiParam] = []
    if method.kind == "optimize":
        params.append(ApiParam("content", "image", help="photo to repaint"))
    params.append(ApiParam("style", "image", help="painting whose style to use"))
    if method.kind == "texture":
        defaults = presets.signature_defaults(getattr(nst, "synthesize_texture", lambda: None))
        params += [ApiParam("width", "int", defaults.get("width") or 256, help="texture width in pixels"),
                   ApiParam("height", "int", defaults.get("height") or 256, help="texture height in pixels")]
    for name in method.parameters():
        default = method.default(name)
        if name == "backbone":
            default = presets.default_backbone()
        kind = presets.field_kind(name)
        if kind in ("list", "optional-list") and default is not None:
            default = ",".join(map(str, default))
        params.append(ApiParam(name, kind, default if default is not None else None,
                               presets.field_choices(name), presets.field_help(name)))
    params.append(ApiParam("extra_styles", "files", None, help="more style images, blended with the first"))
    if presets.has_field("style_blend"):
        params.append(ApiParam("style_blend", "optional-list", None, help=presets.field_help("style_blend")))
    if method.kind == "optimize" and "masks" in _stylize_options():
        params.append(ApiParam("masks", "files", None, help="one gray mask per style image, white where that style goes"))
    if method.name == "photorealistic" and "content_segmentation" in _stylize_options():
        params += [ApiParam("content_segmentation", "image", None, help="colour-coded regions of the photo (optional)"),
                   ApiParam("style_segmentation", "image", None, help="the same colours on the style image (optional)")]
    return params


def _stylize_options() -> set[str]:
    """Keyword arguments this version of nst.stylize takes (masks, segmentations...)."""
    return set(inspect.signature(nst.stylize).parameters)


#: How the API's file parameters are named in messages, and how many files a list takes.
_API_FILES = {"content": ("content image", None), "style": ("style image", None),
              "extra_styles": ("extra style image", MAX_STYLES - 1), "masks": ("mask", MAX_STYLES),
              "content_segmentation": ("content segmentation", None), "style_segmentation": ("style segmentation", None)}


def _api_component(p: ApiParam, gate: UploadGate) -> gr.components.Component:
    label, info = p.name, p.help or None
    default = None if p.default is inspect.Parameter.empty else p.default
    if p.kind == "image":
        return gate.register(upload_image(label=label, sources=["upload"]), *_API_FILES[p.name])
    if p.kind == "files":
        return gate.register(gr.File(file_count="multiple", type="filepath", label=label), *_API_FILES[p.name])
    if p.kind == "int":
        return lenient_number(gr.Number(value=default, precision=0, label=label, info=info))
    if p.kind in ("float", "optional-float"):
        return lenient_number(gr.Number(value=default, label=label, info=info))
    if p.kind == "choice":
        return gr.Dropdown(choices=list(p.choices or ()), value=default, label=label, info=info)
    return gr.Textbox(value=default, label=label, info=info)


def _convert(p: ApiParam, value: Any) -> Any:
    if p.kind == "optional-list" and (value is None or str(value).strip() == ""):
        return None
    if p.kind == "optional-float" and value in (None, ""):
        return None
    return value


def _api_job(method: Method, params: Sequence[ApiParam], values: dict[str, Any]) -> Job:
    given = {p.name: _convert(p, values.get(p.name)) for p in params}
    if method.kind == "cyclegan":
        from nst import catalogue, cyclegan

        max_size = _api_whole(given["max_size"], "max_size")
        _check_limits(max_size=max_size)
        painter = catalogue.get_entry(given["style"]).name  # only catalogue names, even at strength 0
        strength, brush_scale = _api_number(given["strength"], "strength"), _api_number(given["brush_scale"], "brush_scale")
        photo = cyclegan.load_photo(_given_image(given["content"]), max_size)
        return Job(method.name, method.kind, content=photo, painter=painter, strength=strength, brush_scale=brush_scale)
    fields = {k: v for k, v in given.items() if k in method.parameters() or k == "style_blend"}
    if fields.get("style_blend") is None:
        fields.pop("style_blend", None)
    settings = method.settings(**fields)
    extra = _paths(given.get("extra_styles"))
    if method.kind == "texture":
        width, height = _api_whole(given["width"], "width"), _api_whole(given["height"], "height")
        _check_limits(settings, width=width, height=height, check_size=False)
        canvas = settings.replace(size=max(width, height))
        _check_memory(canvas, 1 + len(extra))
        return Job(method.name, method.kind, styles=_load_styles(given["style"], extra, canvas), settings=settings,
                   width=width, height=height)
    _check_limits(settings)
    _check_memory(settings, 1 + len(extra))
    styles = _load_styles(given["style"], extra, settings)
    segmentation = {}
    for key, side in (("content_segmentation", settings.size), ("style_segmentation", style_side(settings))):
        if given.get(key):
            segmentation[key] = _load(given[key], key.replace("_", " "), side)
    return Job(method.name, method.kind, content=_load(given["content"], "content image", settings.size),
               styles=styles, masks=_load_masks(given.get("masks"), len(styles), settings.size),
               segmentation=segmentation, settings=settings)


def _api_info(method: str, done: Done | None = None, step: int = 0, total: int = 0,
              losses: dict[str, float] | None = None) -> dict[str, Any]:
    info: dict[str, Any] = {"method": method, "done": done is not None, "step": step, "total_steps": total,
                            "losses": losses or {}}
    if done is not None:
        info.update(steps=done.steps, seconds=round(done.seconds, 3), stopped=done.stopped, device=done.device,
                    width=done.image.width, height=done.image.height, notes=done.notes)
    return info


def make_api_handler(method: Method, params: Sequence[ApiParam]) -> Callable[..., AsyncIterator[tuple]]:
    """An async generator function whose signature is the endpoint's named parameters (Gradio reads it)."""
    names = [p.name for p in params]

    async def handler(*args: Any) -> AsyncIterator[tuple]:
        values = dict(zip(names, args))
        try:
            job = _api_job(method, params, values)
            losses: dict[str, float] = {}
            latest: Image.Image | None = None
            async for item in RUNNER.stream(job):
                if isinstance(item, Done):
                    yield item.image, _api_info(method.name, item, item.steps, item.steps, losses)
                    return
                losses, latest = item.losses[-1], item.image if item.image is not None else latest
                # Every update carries the latest preview (None before the first one), so a client
                # iterating over a job always gets an image path or None, never a Gradio update dict.
                yield latest, _api_info(method.name, None, item.step, item.total, losses)
        except Exception as exc:
            raise _user_error(exc) from exc

    handler.__name__ = handler.__qualname__ = method.name
    handler.__doc__ = method.description
    handler.__signature__ = inspect.Signature([  # type: ignore[attr-defined]
        inspect.Parameter(p.name, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=p.default) for p in params
    ])
    return handler


# ----------------------------------------------------------------------------- the page


def _examples(folder: str) -> list[str]:
    path = EXAMPLES / folder
    return sorted(str(p) for p in path.glob("*.jpg")) if path.is_dir() else []


CSS = """
#output img, #compare img { object-fit: contain; }
.nst-note { font-size: 0.9em; opacity: 0.8; }
"""


def build_demo() -> gr.Blocks:
    """The page and its API; nothing heavy happens here (models load on the first run)."""
    choices = _method_choices()
    backbone = presets.default_backbone()
    defaults = nst.Settings()
    color_labels = list(presets.COLOR_CHOICES)
    mmd_choices = [c for c in (presets.field_choices("style_loss") or ()) if c != "gram"]
    gate = UploadGate(CACHE.path, CONFIG.max_bytes)
    with gr.Blocks(title=TITLE, analytics_enabled=False) as demo:
        gr.Markdown(f"# {TITLE}\nUpload a photo, pick or upload a style, choose a method and press **Run**. "
                    f"The picture forms as you watch; stop it whenever you like. Running on **{DEVICE_TYPE.upper()}**"
                    + (" (defaults chosen so a first result shows in about a minute)." if DEVICE_TYPE == "cpu" else "."))
        with gr.Row(equal_height=False):
            with gr.Column(scale=5):
                method = gr.Radio(choices, value=choices[0][1] if choices else None, label="Method", elem_id="method")
                about = gr.Markdown(presets.METHODS["gatys"].description, elem_classes=["nst-note"])
                with gr.Row():
                    with gr.Column() as content_col:
                        content = gate.register(upload_image(label="Photo (content)", elem_id="content",
                                                             sources=["upload", "webcam", "clipboard"], height=260,
                                                             webcam_options=gr.WebcamOptions(mirror=False)),
                                                "content image")
                        content_examples = _examples("content")
                        if content_examples:
                            gr.Examples(content_examples, inputs=[content], label="Example photos",
                                        examples_per_page=8, cache_examples=False)
                    with gr.Column() as style_col:
                        style = gate.register(upload_image(label="Style", elem_id="style",
                                                           sources=["upload", "clipboard"], height=260), "style image")
                        style_examples = _examples("styles")
                        if style_examples:
                            gr.Examples(style_examples, inputs=[style], label="Example styles",
                                        examples_per_page=8, cache_examples=False)
                with gr.Group():
                    with gr.Column() as style_dials:
                        style_strength = gr.Slider(0, 10, presets.DEFAULT_STYLE_STRENGTH, step=0.5,
                                                   label="Style strength", info="how strongly the painting's look takes over")
                    with gr.Column() as content_dials:
                        content_fidelity = gr.Slider(0, 10, presets.DEFAULT_CONTENT_FIDELITY, step=0.5,
                                                     label="Content fidelity", info="how closely the photo's shapes are kept")
                        colours = gr.Radio(color_labels, value=color_labels[0], label="Colours",
                                           visible=presets.has_field("preserve_color"))
                    with gr.Column() as smooth_dials:
                        smoothness = gr.Slider(0, 10, presets.DEFAULT_SMOOTHNESS, step=0.5, label="Smoothness",
                                               info="0 = off; higher evens out noise and fine speckle")
                    with gr.Column(visible=False) as hist_dials:
                        hist_weight = gr.Slider(0, 10, presets.DEFAULT_HIST_STRENGTH, step=0.5, label="Histogram strength",
                                                info="how closely the painting's contrast and colour spread are matched")
                    with gr.Column(visible=False) as mmd_dials:
                        mmd_loss = gr.Radio(mmd_choices, value=presets.MMD_STYLE_LOSS if presets.MMD_STYLE_LOSS in mmd_choices
                                            else (mmd_choices[0] if mmd_choices else None), label="Statistic",
                                            info="bn: mean and spread of each feature; mmd-*: kernel MMD")
                    with gr.Column(visible=False) as photo_dials:
                        photo_weight = gr.Slider(0, 10, presets.DEFAULT_REALISM, step=0.5, label="Photorealism",
                                                 info="how strictly the photo's edges are kept: 0 = off")
                    with gr.Column(visible=False) as cyclegan_dials:
                        cg_strength = gr.Slider(0, 1, 1.0, step=0.05, label="CycleGAN strength",
                                                info="0 = the photo, 1 = the full painting")
                        brush_scale = gr.Slider(1, 4, 1.0, step=0.25, label="Brush scale",
                                                info="bigger = coarser strokes (and faster)")
                    size = gr.Slider(64, MAX_SIZE, min(QUICK.size, MAX_SIZE), step=32, label="Output size (longest side, px)",
                                     elem_id="size")
                    steps = gr.Slider(10, MAX_STEPS, min(QUICK.steps, MAX_STEPS), step=10, label="Steps",
                                      info="more steps: a more finished picture, more time", elem_id="steps")
                with gr.Accordion("Advanced", open=False) as advanced:
                    with gr.Row():
                        backbone_in = gr.Dropdown(list(presets.field_choices("backbone") or ()), value=backbone,
                                                  label="Backbone", info="feature network (NST_BACKBONE sets the default)")
                        pooling = gr.Radio(list(presets.field_choices("pooling") or ()), value=defaults.pooling, label="Pooling")
                        optimizer = gr.Radio(list(presets.field_choices("optimizer") or ()), value=defaults.optimizer,
                                             label="Optimizer")
                    style_layers = gr.Textbox(",".join(defaults.style_layers), label="Style layers")
                    style_layer_weights = gr.Textbox("", label="Style layer weights",
                                                     placeholder="equal; or one number per style layer, e.g. 1,1,1,0.5,0.5")
                    with gr.Row():
                        seed = gr.Number(defaults.seed, precision=0, label="Seed")
                        scales = gr.Slider(1, 4, QUICK.scales, step=1, label="Coarse-to-fine scales")
                        style_scale = gr.Slider(0.25, 2, defaults.style_scale, step=0.05, label="Style scale",
                                                info="size of the painting's features (smaller: finer)")
                    with gr.Column() as content_advanced:
                        content_layers = gr.Textbox(",".join(defaults.content_layers), label="Content layers")
                        init = gr.Radio(list(presets.field_choices("init") or ()), value=defaults.init, label="Start from")
                        extra_styles = gate.register(
                            gr.File(file_count="multiple", file_types=["image"], type="filepath",
                                    label=f"More style images (blended with the first; up to {MAX_STYLES - 1})"),
                            "extra style image", most=MAX_STYLES - 1)
                        style_blend = gr.Textbox("", label="Style weights", visible=presets.has_field("style_blend"),
                                                 placeholder="one per style, first the main style, e.g. 1, 0.5")
                        masks = gate.register(
                            gr.File(file_count="multiple", file_types=["image"], type="filepath",
                                    label="Masks (one per style: white = this style goes here)"),
                            "mask", most=MAX_STYLES)
            with gr.Column(scale=4):
                output = gr.Image(label="Result", type="pil", format="png", elem_id="output", interactive=False,
                                  height=420, buttons=["download", "share", "fullscreen"])
                with gr.Row():
                    run = gr.Button("Run", variant="primary", elem_id="run")
                    stop_btn = gr.Button("Stop", variant="stop", elem_id="stop")
                status = gr.Markdown("", elem_id="status")
                losses = gr.LinePlot(x="step", y="loss", color="term", label="Loss",
                                     x_title="step", y_title="log10 loss", elem_id="losses")
                compare = gr.ImageSlider(label="Before / after", type="pil", format="png", elem_id="compare",
                                         interactive=False)
                download = gr.File(label="PNG", elem_id="download", interactive=False)

        method.change(on_method, method,
                      [about, content_col, style_col, style_dials, smooth_dials, steps, content_dials, hist_dials,
                       mmd_dials, photo_dials, cyclegan_dials, advanced, content_advanced, size],
                      queue=False, api_visibility="private")
        run.click(run_ui,
                  [method, content, style, style_strength, content_fidelity, smoothness, colours, size, steps, hist_weight,
                   mmd_loss, photo_weight, cg_strength, brush_scale, backbone_in, content_layers, style_layers,
                   style_layer_weights, pooling, optimizer, init, seed, scales, style_scale, extra_styles, style_blend,
                   masks],
                  [output, losses, compare, download, status],
                  api_visibility="private", concurrency_id=COMPUTE, concurrency_limit=CONCURRENCY,
                  show_progress="minimal")
        stop_btn.click(request_stop, None, status, queue=False, api_visibility="private")

        # The API: one endpoint per method, parameters named as in the package, on hidden inputs.
        with gr.Column(visible=False):
            api_image = gr.Image(label="image", type="pil", format="png")
            api_info = gr.JSON(label="info")
            trigger = gr.Button("api")
            shared: dict[tuple, gr.components.Component] = {}
            for m in presets.METHODS.values():
                params = api_parameters(m)
                inputs = []
                for p in params:
                    key = (p.name, p.kind, repr(p.default), p.choices)
                    if key not in shared:
                        shared[key] = _api_component(p, gate)
                    inputs.append(shared[key])
                trigger.click(make_api_handler(m, params), inputs, [api_image, api_info], api_name=m.name,
                              api_description=m.description, concurrency_id=COMPUTE, concurrency_limit=CONCURRENCY,
                              show_progress="hidden")
    demo.queue(default_concurrency_limit=CONCURRENCY, max_size=QUEUE_SIZE)
    gate.install(demo)
    return demo


demo = build_demo()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Run the nst studio (Gradio).")
    parser.add_argument("--host", default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
                        help="interface to listen on; 0.0.0.0 for all [127.0.0.1]")
    parser.add_argument("--port", type=int, default=None,
                        help="port [GRADIO_SERVER_PORT, else the first free one from 7860]")
    parser.add_argument("--share", action="store_true", help="also make a temporary public gradio.live link")
    args = parser.parse_args(argv)
    stop_on_sigterm()
    launch(demo, CACHE, server_name=args.host, server_port=args.port, share=args.share, max_file_size=MAX_FILE_SIZE,
           show_error=True, css=CSS)


if __name__ == "__main__":
    main()
