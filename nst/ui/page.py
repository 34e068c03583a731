"""What the page does: its Run and Stop buttons, the method menu, the start-up banner, its examples.

``app.py`` lays the page out from the table of controls (:mod:`nst.ui.controls`) and wires these
handlers to it. The Run button hands over its controls as one set, read here by their names; the
handler builds the method's request, has it checked (the uploads held meanwhile), and streams, as
the picture forms, the live picture, the loss curve, the before/after pair, the PNG and a status
line that says exactly which state the run is in (:mod:`nst.ui.lifecycle`).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import re
import uuid
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr
import pandas as pd
from PIL import Image, ImageOps

from ..clips import probe
from ..engine import StyleResult
from ..errors import ImageError
from ..faces import faces_kept
from ..geometry import Canvas
from ..images import load_image
from ..methods import Method, Request, get_method
from ..readiness import DOWNLOAD, MISSING, READY, Model
from ..video import VideoRequest, VideoResult, video_request
from .cache import CacheFolder
from .controls import GROUPS, TOGGLED, VIDEO_GROUP, VIDEO_OPTIONS, method_defaults, named, shown
from .lifecycle import State, finished
from .messages import for_person
from .runner import Runner
from .server import ServerConfig


def banner(networks: list[Model], painters: list[Model]) -> str:
    """The start-up banner: what can run on this server, what cannot, and how it could."""
    models = networks + painters
    ready = [m.label for m in models if m.state == READY]
    later = [m.label for m in models if m.state == DOWNLOAD]
    missing = [m for m in models if m.state == MISSING]
    parts = []
    if ready:
        parts.append("**Ready here:** " + ", ".join(ready) + ".")
    if later:
        parts.append("**Downloaded on first use:** " + ", ".join(later) + " (the first run takes longer).")
    if missing:
        parts.append("**Not available on this server:** " + ", ".join(m.label for m in missing) + ".")
    if not any(m.runnable for m in networks):
        parts.append("The optimization methods cannot run here until a network is added.")
    text = " ".join(parts)
    if missing:  # folded: a person can skip it, whoever runs the server finds what to do
        hints = "".join(f"<li>{m.label}: {m.hint}.</li>" for m in missing)
        summary = "How to add them (for whoever runs this server)"
        text += f"\n\n<details><summary>{summary}</summary><ul>{hints}</ul></details>"
    return text


def files_in(values: Mapping[str, Any]) -> list[str]:
    """Every file path among a run's values (the uploads it reads)."""
    found: list[str] = []
    for value in values.values():
        for item in value if isinstance(value, (list, tuple)) else [value]:
            if isinstance(item, str) and Path(item).is_absolute():
                found.append(item)
    return found


async def checked(
    method: Method, values: Mapping[str, Any], runner: Runner, config: ServerConfig, cache: CacheFolder
) -> Request:
    """A run as the page and the API start one: ``method``'s request from the values by name, checked and
    its pictures decoded on arrival (before it waits in line), the uploads it names held meanwhile."""
    limits = config.limits
    limits.check_values(values)
    with cache.holding(files_in(values)):
        return await runner.prepare(method.request_from(values, device=config.device), limits)


async def checked_video(
    values: Mapping[str, Any], runner: Runner, config: ServerConfig, cache: CacheFolder
) -> VideoRequest:
    """A video run as the page and the API start one (:func:`nst.video.video_request`), checked as
    :func:`checked` checks a picture's; the video is written into the cache folder as its frames finish."""
    limits = config.limits
    limits.check_values(values)
    with cache.holding(files_in(values)):
        request = video_request(values, cache.new_file("video", ".mp4"), device=config.device)
        return await runner.prepare(request, limits)  # type: ignore[return-value]


def change_method(name: str) -> list[Any]:
    """The page after the method menu changed: the description, then each of the ``TOGGLED`` controls
    (shown or not, with the method's starting value where it has one), each of the ``GROUPS``, the example
    photos and styles (shown with their input), the plot."""
    method = get_method(name)
    show, starting = shown(method), method_defaults(method)
    return [
        method.description,
        *(gr.update(visible=show[n], **({"value": starting[n]} if n in starting else {})) for n in TOGGLED),
        *(gr.update(visible=show[g]) for g in GROUPS),
        gr.update(visible=show["content"]),
        gr.update(visible=show["style"]),
        gr.update(visible=show["losses"]),
    ]


# ----------------------------------------------------------------------------- examples


@dataclass(frozen=True)
class Example:
    path: str
    caption: str


def pick_example(gallery: gr.Gallery) -> Any:
    """The handler of a click on an example thumbnail: the picture's copy in the cache, found by its index in
    the gallery's own list. The click's other data comes from the client and is never used as a path."""
    paths = [item["image"]["path"] for item in gallery.value or []]

    def pick(event: gr.EventData) -> Any:
        # Read from the event's raw data: gr.SelectData raised KeyError on a click sent without a "value".
        data = event._data if isinstance(event._data, dict) else {}
        index = data.get("index")
        if isinstance(index, int) and not isinstance(index, bool) and 0 <= index < len(paths):
            return paths[index]
        return gr.skip()

    return pick


def examples(folders: list[Path], kind: str) -> list[Example]:
    """The example pictures of ``kind`` (content or styles) in each folder's subfolder of that name,
    captioned by file name (``starry_night.jpg`` -> "starry night")."""
    found = []
    for folder in folders:
        sub = folder / kind
        for path in sorted(sub.iterdir()) if sub.is_dir() else ():
            if path.suffix.lower() in (".jpg", ".jpeg", ".png", ".webp"):
                found.append(Example(str(path), path.stem.replace("_", " ").replace("-", " ")))
    return found


def example_gallery(component: gr.Image, folders: list[Path], kind: str, label: str) -> None:
    """Captioned thumbnails of the example pictures of ``kind`` in ``folders``; a click puts one in ``component``."""
    found = examples(folders, kind)
    if found:
        rows = -(-len(found) // 3)
        shown = gr.Gallery(
            [(e.path, e.caption) for e in found],
            label=label,
            columns=3,
            rows=rows,
            height=None,
            allow_preview=False,
            object_fit="cover",
            elem_classes=["nst-examples"],
        )
        shown.select(pick_example(shown), None, component, queue=False, api_visibility="private")


def example_video(component: gr.Video, folders: list[Path]) -> None:
    """The example videos in ``folders``' ``videos`` subfolders, a click away from ``component``."""
    found = [str(p) for folder in folders for p in sorted((folder / "videos").glob("*.mp4"))]
    if found:
        gr.Examples([[path] for path in found], component, label="Example video", cache_examples=False)


def medium_tabs(place: Callable[[str], None], widgets: dict[str, Any], folders: list[Path]) -> None:
    """The photo and the video, each on its tab (``place`` lays out a group of controls); the tab shown is
    kept as ``widgets["medium"]``, which tells Run whether to make a picture of the photo or the video."""
    with gr.Tabs(elem_id="medium"):
        with gr.Tab("Photo", elem_id="photo-tab") as photo_tab:
            place("content")
        with gr.Tab("Video", elem_id="video-tab") as video_tab:
            place(VIDEO_GROUP)
            with gr.Accordion("Video options", open=False, elem_id="video-options"):
                place(VIDEO_OPTIONS)
            example_video(widgets["video"], folders)
    widgets["medium"] = gr.State("photo")
    for tab, medium in ((photo_tab, "photo"), (video_tab, "video")):
        tab.select(lambda m=medium: m, None, widgets["medium"], queue=False, api_visibility="private")


# ----------------------------------------------------------------------------- the run


#: The package's names of the page's inputs, and the page's own words for them (its labels).
PAGE_WORDS = {
    "extra style image": "Extra style",
    "content image": "Photo",
    "style image": "Style",
    "painter:": "Painter:",
}


def in_page_words(sentence: str) -> str:
    """A sentence about a run, naming the inputs as the page labels them ("Photo", not "content image")."""
    for name, label in PAGE_WORDS.items():
        sentence = re.sub(rf"(?<![\w-]){re.escape(name)}", label, sentence)
    return sentence


def checked_upload(what: str) -> Any:
    """The handler of an upload to the input ``what`` (the package's name for it): a file the package
    cannot read is told at once, in the page's words, not when Run is pressed. Only the header and a small
    decode are needed (``max_size``), so a big photo costs little here; a video is only probed (its
    declared numbers, :func:`nst.clips.probe`)."""

    def read(path: str) -> Any:
        return probe(path) if what == "video" else load_image(path, what, 64)

    async def check(path: str | None) -> Any:
        if not path:
            return gr.skip()
        try:
            await asyncio.to_thread(read, path)
        except ImageError as exc:
            sentence = in_page_words(for_person(exc))
            gr.Warning(sentence)
            return f"⚠️ {sentence}"
        return ""

    return check


def loss_frame(
    history: list[tuple[int, dict[str, float]]], starts: Iterable[int] = (1,)
) -> pd.DataFrame | None:
    """The loss of the best picture so far, by step: a long table (step, term, log10 of the weighted loss),
    numeric columns typed. ``starts`` are the first steps of the scales, where the best starts again.

    Each step's evaluation is not plotted as it is: without a line search L-BFGS overshoots now and then
    and comes back, which read as a saw-tooth of instability, while the picture a run returns is the best
    one evaluated. So each step shows the terms of the best point of its scale so far.

    Two quirks of Gradio's plot are avoided: after an empty table it draws no lines (so None is
    sent instead), and it draws only the series present in the first table it gets (so steps
    where some term is zero, like the content loss at step 1 of a content start, are left out).
    """
    firsts, best, rows = set(starts), None, []
    for step, losses in history:
        if step in firsts or best is None or losses.get("total", math.inf) < best.get("total", math.inf):
            best = losses
        if all(v > 0 and math.isfinite(v) for v in best.values()):
            rows += [(step, term, math.log10(value)) for term, value in best.items()]
    if not rows:
        return None
    frame = pd.DataFrame(rows, columns=["step", "term", "loss"])
    return frame.astype({"step": "int64", "term": "str", "loss": "float64"})


def faces_sentence(result: StyleResult) -> str:
    """How many faces keep_faces kept, as a sentence after the status line; nothing when it kept none (a
    landscape needs no word on faces)."""
    if not result.faces:
        return ""
    words = faces_kept(result.faces)
    return f" {words[0].upper()}{words[1:]}."


def scale_starts(request: Request | VideoRequest) -> list[int]:
    """The first step of each of the run's scales (of a video: of its first frame's, then of each frame)."""
    if isinstance(request, VideoRequest):
        plan, each = request.plan, max(1, request.frame_steps or 1)
        return scale_starts(plan.first) + [plan.first.steps + 1 + j * each for j in range(plan.frames - 1)]  # type: ignore[union-attr]
    starts, first = [], 1
    for scale in request.plan.scales if request.plan is not None else ():
        starts.append(first)
        first += scale.steps
    return starts or [1]


def scales_caption(request: Request | VideoRequest) -> str:
    """Where the coarse-to-fine scales change: the loss curve jumps there, as the picture grows (a video:
    where each frame starts)."""
    if isinstance(request, VideoRequest):
        plan = request.plan
        first = ", then ".join(
            f"{s.steps} steps at {s.canvas.width}×{s.canvas.height} px" for s in plan.first.plan.scales
        )  # type: ignore[union-attr]
        later = (
            f"; frames 2–{plan.frames} at most {request.frame_steps} steps each" if plan.frames > 1 else ""
        )  # type: ignore[union-attr]
        return f"Frame 1: {first}{later}. The curve starts again at each frame and where the picture grows."
    scales = request.plan.scales if request.plan is not None else ()
    if len(scales) <= 1:
        return "".join(f"{s.canvas.width}×{s.canvas.height} px, {s.steps} steps" for s in scales)
    parts, first = [], 1
    for scale in scales:
        parts.append(
            f"steps {first}–{first + scale.steps - 1} at {scale.canvas.width}×{scale.canvas.height} px"
        )
        first += scale.steps
    return "Coarse to fine: " + ", ".join(parts) + ". The curve starts again where the picture grows."


def before(request: Request, canvas: Canvas) -> Image.Image:
    """The 'before' half of the comparison at the result's size: the photo, or for a texture the style,
    cropped to the result's shape rather than squashed into it."""
    source = request.compare_with  # decoded by prepare()
    return source if Canvas.of(source) == canvas else ImageOps.fit(source, canvas, Image.Resampling.LANCZOS)


@dataclass
class Page:
    """The page's handlers, bound to the server's runner, configuration, cache folder and controls."""

    runner: Runner
    config: ServerConfig
    cache: CacheFolder
    widgets: Mapping[str, Any]  #: the controls by name (nst.ui.controls)

    def stop(self, request: gr.Request) -> Any:
        """Stop this page's run after its current step; the status line then says it is stopping."""
        self.runner.request_stop(request.session_hash or "")
        return gr.update(interactive=False)

    async def run(
        self, values: Mapping[Any, Any], request: gr.Request, progress: gr.Progress = gr.Progress()
    ) -> AsyncIterator[tuple]:
        """Stream (picture, loss plot, before/after, download, status, Stop button, video) for the Run button:
        a picture of the photo, or on the Video tab the video, its frames shown as they finish."""
        controls = named(values, self.widgets)
        yield (*[gr.skip()] * 4, State("preparing", what="pictures").sentence(), gr.skip(), gr.skip())
        try:
            method = get_method(controls.get("method"))
            if controls.get("medium") == "video":
                job: Any = await checked_video(controls, self.runner, self.config, self.cache)
            else:
                job = await checked(method, controls, self.runner, self.config, self.cache)
        except Exception as exc:
            yield self._failed(exc)
            return
        history: list[tuple[int, dict[str, float]]] = []
        starts = scale_starts(job)
        plot = gr.update(value=None, caption=scales_caption(job), x_lim=[1, max(2, job.steps)])
        hidden = gr.update(value=None, visible=False)
        yield gr.skip(), plot, None, hidden, gr.skip(), gr.update(interactive=True), hidden
        try:
            async with contextlib.aclosing(
                self.runner.stream(job, request.session_hash or uuid.uuid4().hex)
            ) as run:
                async for update in run:
                    history.extend(update.losses)
                    state = update.state
                    if state.final:
                        break
                    if state.phase == "running" and state.steps > 1:
                        progress((state.step, state.steps), unit="steps", desc=state.sentence())
                    yield (
                        self.cache.picture(update.image, "preview")
                        if update.image is not None
                        else gr.skip(),
                        loss_frame(history, starts) if update.losses else gr.skip(),
                        gr.skip(),
                        gr.skip(),
                        state.sentence(),
                        gr.skip(),
                        gr.skip(),
                    )
        except Exception as exc:
            yield self._failed(exc)
            return
        result = update.result
        if result is None:  # stopped in line or before the first step
            yield gr.skip(), gr.skip(), None, None, state.sentence(), gr.update(interactive=False), gr.skip()
            return
        image = result.image
        frames = result.frames if isinstance(result, VideoResult) else 0
        status = finished(
            state, image.width, image.height, result.steps, result.seconds, result.device, frames
        )
        picture = self.cache.picture(image, method.name)  # the result, the after half and the PNG download
        original = result.original if isinstance(result, VideoResult) else before(job, Canvas.of(image))
        made = str(result.video) if isinstance(result, VideoResult) else picture
        yield (
            picture,
            loss_frame(history, starts),
            (self.cache.picture(original, "before"), picture),
            gr.update(value=made, visible=True, label="MP4" if frames else "PNG"),  # shown once there is one
            status + faces_sentence(result) + "".join(f" Note: {n}." for n in result.notes),
            gr.update(interactive=False),
            gr.update(value=made, visible=True) if frames else gr.skip(),
        )

    @staticmethod
    def _failed(exc: BaseException) -> tuple:
        sentence = in_page_words(for_person(exc))
        gr.Warning(sentence)
        return gr.skip(), gr.skip(), None, None, f"⚠️ {sentence}", gr.update(interactive=False), gr.skip()
