"""What the page does: its Run and Stop buttons, which controls each method shows, its examples.

``app.py`` lays the page out and wires these functions to it. The Run button hands over its
controls as one set (a dict keyed by component, read here by each component's ``elem_id``, which
is the control's one name: the dial, the setting, the file) and gets back, as the picture forms,
the live picture, the loss curve, the before/after pair, the PNG and a status line.
"""

from __future__ import annotations

import asyncio
import math
import time
import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr
import pandas as pd
from PIL import Image, ImageOps

from ..dials import DIALS
from ..engine import plan_scales
from ..errors import Stopped
from ..methods import get_method
from .jobs import page_dials, page_job
from .messages import for_person
from .run import Done, Job, Runner, Waiting
from .server import ServerConfig

#: The plain-word choices of ``preserve_color``, as the page shows them.
COLOURS = [
    ("Painting's colours", "none"),
    ("Photo's colours (keep the photo's colour, take the painting's light and texture)", "luminance"),
    ("Photo's colours (match the colour histogram)", "histogram"),
]


def visible(method_name: str) -> dict[str, bool]:
    """Which groups of controls, and which dials, the page shows for a method (``app.py`` names them so)."""
    method = get_method(method_name)
    optimize, texture, painting = (method.kind == k for k in ("optimize", "texture", "cyclegan"))
    shown = {
        "content_inputs": not texture,
        "style_inputs": not painting,
        "painter_controls": painting,
        "size_controls": optimize,
        "texture_controls": texture,
        "steps_controls": not painting,
        "colour_controls": optimize,
        "style_loss_controls": "style_loss" in method.own,
        "losses": not painting,
        "advanced": not painting,
        "content_advanced": optimize,
    }
    dials = {d.name for d in page_dials(method)}
    shown.update({name: name in dials for name in DIALS})
    return shown


def describe(method_name: str) -> str:
    return get_method(method_name).description


# ----------------------------------------------------------------------------- examples


@dataclass(frozen=True)
class Example:
    path: str
    caption: str


def pick_example(gallery: gr.Gallery) -> Any:
    """The handler of a click on an example thumbnail: the picture's copy in the cache, found by its index in
    the gallery's own list. The click's other data comes from the client and is never used as a path."""
    paths = [item["image"]["path"] for item in gallery.value or []]

    def pick(event: gr.SelectData) -> Any:
        index = event.index
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
            height=40 + 96 * rows,
            allow_preview=False,
            object_fit="cover",
            elem_classes=["nst-examples"],
        )
        shown.select(pick_example(shown), None, component, queue=False, api_visibility="private")


# ----------------------------------------------------------------------------- the run


def loss_frame(history: list[tuple[int, dict[str, float]]]) -> pd.DataFrame | None:
    """The loss curve as a long table (step, term, log10 of the weighted loss), numeric columns typed.

    Two quirks of Gradio's plot are avoided: after an empty table it draws no lines (so None is
    sent instead), and it draws only the series present in the first table it gets (so steps
    where some term is zero, like the content loss at step 1 of a content start, are left out).
    """
    rows = [
        (step, term, math.log10(value))
        for step, losses in history
        if all(v > 0 and math.isfinite(v) for v in losses.values())
        for term, value in losses.items()
    ]
    if not rows:
        return None
    frame = pd.DataFrame(rows, columns=["step", "term", "loss"])
    return frame.astype({"step": "int64", "term": "str", "loss": "float64"})


def scales_caption(job: Job) -> str:
    """Where the coarse-to-fine scales change: the loss curve jumps there, as the picture grows."""
    if job.settings is None:
        return ""
    canvas = (job.width, job.height) if job.kind == "texture" else job.content.size  # type: ignore[union-attr]
    settings = job.settings.replace(size=max(canvas)) if job.kind == "texture" else job.settings
    sizes, steps, _ = plan_scales(canvas, settings)
    if len(sizes) == 1:
        return f"{sizes[0][0]}×{sizes[0][1]} px, {steps[0]} steps"
    parts, first = [], 1
    for (w, h), n in zip(sizes, steps):
        parts.append(f"steps {first}–{first + n - 1} at {w}×{h} px")
        first += n
    return "Coarse to fine: " + ", ".join(parts) + ". The curve jumps where the picture grows."


def before(job: Job, size: tuple[int, int]) -> Image.Image:
    """The 'before' half of the comparison at the result's size: the photo, or for a texture the style,
    cropped to the result's shape rather than squashed into it."""
    source = job.content if job.content is not None else job.styles[0]
    if source.size == size:
        return source
    return ImageOps.fit(source, size, Image.Resampling.LANCZOS)


def save_png(image: Image.Image, method: str, folder: Path) -> str:
    """The PNG download, written into the cache folder, which deletes it in its time."""
    folder.mkdir(exist_ok=True)
    path = folder / f"nst-{method}-{uuid.uuid4().hex[:8]}.png"
    image.save(path, format="PNG")
    return str(path)


class Page:
    """The page's handlers, bound to the server's runner, configuration and cache folder."""

    def __init__(self, runner: Runner, config: ServerConfig, results: Path) -> None:
        self.runner, self.config, self.results = runner, config, results

    def stop(self, request: gr.Request) -> Any:
        if self.runner.request_stop(request.session_hash or ""):
            return "Stopping after the current step…"
        return gr.skip()

    async def run(
        self, controls: Mapping[Any, Any], request: gr.Request, progress: gr.Progress = gr.Progress()
    ) -> AsyncIterator[tuple]:
        """Stream (picture, loss plot, before/after, PNG, status, Stop button) for the Run button."""
        named = {getattr(c, "elem_id", c): v for c, v in controls.items()}
        started = time.perf_counter()
        try:
            job = page_job(named, self.config)
        except Exception as exc:
            yield self._failed(exc)
            return
        session = request.session_hash or uuid.uuid4().hex
        stop = self.runner.stops[session] = asyncio.Event()
        history: list[tuple[int, dict[str, float]]] = []
        latest: Image.Image | None = None
        plot = gr.update(value=None, caption=scales_caption(job), x_lim=[1, max(2, job.steps)])
        yield (
            gr.skip(),
            plot,
            None,
            None,
            "Painting…" if job.kind == "cyclegan" else "Loading the network…",
            gr.update(interactive=True),
        )
        stream = self.runner.stream(job)
        done: Done | None = None
        try:
            async for item in stream:
                if isinstance(item, Done):
                    done = item
                    break
                if isinstance(item, Waiting):
                    what = "Painting" if job.kind == "cyclegan" else "Loading the network and preparing"
                    yield (
                        gr.skip(),
                        gr.skip(),
                        gr.skip(),
                        gr.skip(),
                        f"{what}… {item.seconds:.0f} s",
                        gr.skip(),
                    )
                    if stop.is_set():
                        break
                    continue
                step, total = item.step, item.total
                history.extend(
                    (step - len(item.losses) + 1 + i, losses) for i, losses in enumerate(item.losses)
                )
                latest = item.image if item.image is not None else latest
                progress((step, total), unit="steps", desc=f"Step {step} of {total}")
                status = (
                    f"Step {step} of {total} · {time.perf_counter() - started:.0f} s · "
                    f"loss {item.losses[-1]['total']:.3g}"
                )
                yield (
                    item.image if item.image is not None else gr.skip(),
                    loss_frame(history),
                    gr.skip(),
                    gr.skip(),
                    status,
                    gr.skip(),
                )
                if stop.is_set():
                    break
        except Stopped:
            pass
        except Exception as exc:
            yield self._failed(exc)
            return
        finally:
            await stream.aclose()
            self.runner.stops.pop(session, None)
        if done is None:  # stopped: the last picture shown is the result
            if latest is None:
                yield (
                    gr.skip(),
                    gr.skip(),
                    None,
                    None,
                    "Stopped before the first picture.",
                    gr.update(interactive=False),
                )
                return
            done = Done(
                latest,
                time.perf_counter() - started,
                history[-1][0] if history else 0,
                True,
                str(self.config.device or self.config.device_type),
            )
        path = save_png(done.image, job.method, self.results)
        verb = "Stopped" if done.stopped else "Done"
        status = (
            f"{verb}: {done.image.width}×{done.image.height} px, {done.steps} step(s) in {done.seconds:.1f} s "
            f"on {done.device}. Download the PNG below." + "".join(f" Note: {n}." for n in done.notes)
        )
        yield (
            done.image,
            loss_frame(history),
            (before(job, done.image.size), done.image),
            path,
            status,
            gr.update(interactive=False),
        )

    @staticmethod
    def _failed(exc: BaseException) -> tuple:
        sentence = for_person(exc)
        gr.Warning(sentence)
        return (gr.skip(), gr.skip(), None, None, f"⚠️ {sentence}", gr.update(interactive=False))
