"""Running one job for the page or the API: in a worker thread, streamed, stoppable, one at a time.

A :class:`Job` is everything a run needs (images already decoded and shrunk, validated
settings); it is picklable, so on a ZeroGPU Space ``@spaces.GPU`` can hand it to its GPU
process. :meth:`Runner.stream` is what the Gradio handlers iterate: an async generator of
:class:`Progress` updates and one :class:`Done`.

Stopping never blocks the server. Closing the stream (Stop, a cancelled client job, a closed
page) sets the run's stop event, which the engine reads while it builds targets and after
every step, and returns at once; the worker thread ends by itself. The machine is not shared
twice over: every worker holds the runner's compute slot while it works, so a new run's
worker waits in its own thread, not on the event loop, for a stopping run to let go.
"""

from __future__ import annotations

import asyncio
import logging
import math
import queue
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import spaces
import torch
from PIL import Image

import nst
from nst.devices import autocast_dtype, pick_device
from nst.engine import StepInfo
from nst.errors import Stopped
from nst.images import tensor_to_image
from nst.settings import PAPER_STYLE_LAYERS
from nst.weights import load_vgg, local_vgg_weights

log = logging.getLogger("nst.server")

#: How often a waiting stream wakes up to see whether it was closed (seconds).
TICK = 0.2
#: How long a stream stays silent before it says it is still waiting (seconds).
QUIET = 1.0


@dataclass
class Job:
    """Everything one run needs; picklable, so ZeroGPU can hand it to its GPU worker."""

    method: str
    kind: str  #: "optimize", "texture" or "cyclegan"
    content: Image.Image | None = None
    styles: list[Image.Image] = field(default_factory=list)
    masks: list[Image.Image] | None = None
    segmentation: dict[str, Image.Image] = field(default_factory=dict)  #: content_/style_segmentation
    settings: nst.Settings | None = None
    width: int | None = None
    height: int | None = None
    painter: str | None = None
    strength: float = 1.0
    brush_scale: float = 1.0

    @property
    def steps(self) -> int:
        return self.settings.steps if self.settings is not None else 1

    @property
    def image_every(self) -> int:
        """Preview every few steps: about 15 pictures per run, at least every 10th step."""
        return max(1, min(10, math.ceil(self.steps / 15)))


@dataclass
class Progress:
    step: int
    total: int
    losses: list[dict[str, float]]  #: one entry per step since the last update
    image: Image.Image | None  #: a new preview, or None


@dataclass
class Waiting:
    """Nothing to show yet: the network loading, targets being built, or another run finishing."""

    seconds: float  #: since the run was asked for


@dataclass
class Done:
    image: Image.Image
    seconds: float
    steps: int
    stopped: bool
    device: str
    notes: list[str] = field(default_factory=list)


def execute(job: Job, callback: Any, stop: threading.Event, device: str | None) -> Done:
    """Run ``job`` with the package; ``callback`` sees every optimizer step."""
    start = time.perf_counter()
    if job.kind == "cyclegan":
        from nst import cyclegan

        assert job.content is not None and job.painter
        image = cyclegan.paint(
            job.content,
            painter=job.painter,
            strength=job.strength,
            brush_scale=job.brush_scale,
            device=device,
        )
        return Done(image, time.perf_counter() - start, 1, False, str(pick_device(device)))
    style: Any = job.styles if len(job.styles) > 1 else job.styles[0]
    if job.kind == "texture":
        result = nst.synthesize_texture(
            style,
            job.settings,
            width=job.width,
            height=job.height,
            callback=callback,
            image_every=job.image_every,
            device=device,
            stop=stop,
        )
    else:
        extra: dict[str, Any] = dict(job.segmentation)
        if job.masks:
            extra["masks"] = job.masks
        result = nst.stylize(
            job.content,
            style,
            job.settings,
            callback=callback,
            image_every=job.image_every,
            device=device,
            stop=stop,
            **extra,
        )
    return Done(result.image, result.seconds, result.steps, result.stopped, result.device, result.notes)


def gpu_seconds(job: Job) -> int:
    """A generous estimate of ``job``'s duration, for ZeroGPU's ``duration`` (which must not run short).

    About 15 ms per VGG19 step at 512 x 512 on a ZeroGPU-class card, scaling with the pixel count,
    VGG16 about 25% cheaper; plus 20 s for loading weights and warming up; times 2 for headroom;
    between 30 s and 600 s. A CycleGAN painting asks for 30 s.
    """
    if job.settings is None:
        return 30
    pixels = (job.width or job.settings.size) * (job.height or job.settings.size)
    per_step = 0.015 * pixels / 512**2 * (0.75 if job.settings.backbone == "vgg16" else 1.0)
    return int(min(600, max(30, math.ceil(20 + 2 * job.steps * per_step))))


class Runner:
    """Runs jobs one (or ``concurrency``) at a time on ``device``; see the module docstring."""

    def __init__(self, device: str | None, concurrency: int = 1) -> None:
        self.device = device
        self.slots = threading.BoundedSemaphore(concurrency)
        #: On ZeroGPU each run gets a GPU for ``gpu_seconds(job)``; elsewhere this is _compute itself.
        self.compute = spaces.GPU(duration=gpu_seconds)(self._compute)
        #: The page's Stop buttons: its session -> the event its run reads.
        self.stops: dict[str, asyncio.Event] = {}

    def warm_up(self, backbone: str) -> threading.Thread | None:
        """On a CPU, load the network in a background thread when its weights are already on this machine.

        Reading VGG's weights and the first passes (oneDNN picks its kernels, the bfloat16 probe of
        :func:`~nst.devices.cpu_bfloat16_is_faster`) cost the first person to press Run a few
        seconds on a CPU Space; done at startup, the first picture starts at once. Nothing is
        downloaded, and a failure here is only logged: the run that needs the network says what
        is wrong. On a GPU (ZeroGPU attaches it per run) loading is left to the run."""
        device = pick_device(self.device)
        if device.type != "cpu" or local_vgg_weights(backbone) is None:
            return None

        def load() -> None:
            start = time.perf_counter()
            try:
                net = load_vgg(backbone, "avg", None, device)
                dtype = autocast_dtype("auto", device)
                with torch.no_grad():
                    net.truncated(PAPER_STYLE_LAYERS, dtype)(torch.rand(1, 3, 64, 64), PAPER_STYLE_LAYERS)
            except Exception:
                log.exception("loading %s at startup failed; the first run will try again", backbone)
                return
            log.info("%s loaded at startup in %.1f s", backbone, time.perf_counter() - start)

        thread = threading.Thread(target=load, name="nst-warm-up", daemon=True)
        thread.start()
        return thread

    def request_stop(self, session: str) -> bool:
        """Ask the page's run of ``session`` to end after its current step; False when none is running."""
        event = self.stops.get(session)
        if event is None:
            return False
        event.set()
        return True

    def _compute(self, job: Job) -> Iterator[Progress | Done | None]:
        """Run ``job`` in a worker thread, yielding a :class:`Progress` at most every 0.25 s (at once when
        there is a new picture), ``None`` every ``TICK`` seconds while nothing happens (so a closed stream
        is noticed), then the :class:`Done`. Closing this generator stops the run; nobody waits for it."""
        updates: queue.Queue = queue.Queue()
        stop = threading.Event()

        def callback(info: StepInfo) -> bool:
            image = tensor_to_image(info.image) if info.image is not None else None
            updates.put(("step", info.step, info.total_steps, dict(info.losses), image))
            return stop.is_set()

        def work() -> None:
            with self.slots:
                try:
                    if stop.is_set():
                        raise Stopped("the run was stopped before it started")
                    updates.put(("done", execute(job, callback, stop, self.device)))
                except BaseException as exc:  # handed to the stream, raised there
                    updates.put(("error", exc))

        threading.Thread(target=work, name=f"nst-{job.method}", daemon=True).start()
        losses: list[dict[str, float]] = []
        last, step, total = 0.0, 0, job.steps
        try:
            while True:
                try:
                    item = updates.get(timeout=TICK)
                except queue.Empty:
                    yield None
                    continue
                if item[0] == "error":
                    raise item[1]
                if item[0] == "done":
                    if losses:
                        yield Progress(step, total, losses, None)
                    yield item[1]
                    return
                _, step, total, step_losses, image = item
                losses.append(step_losses)
                now = time.monotonic()
                if image is not None or now - last >= 0.25:
                    yield Progress(step, total, losses, image)
                    losses, last = [], now
        finally:
            stop.set()

    async def stream(self, job: Job) -> AsyncIterator[Progress | Waiting | Done]:
        """The updates of ``job`` for an async Gradio handler. Closing it (or cancelling the task that
        iterates it) ends the run within one step and returns at once.

        While nothing else happens (the network loading, the targets being built, the machine busy
        with another run), a :class:`Waiting` comes every ``QUIET`` seconds: Gradio notices a client
        that left only when it has something to send, and a run nobody waits for must stop."""
        loop = asyncio.get_running_loop()
        updates: asyncio.Queue = asyncio.Queue()
        closed = threading.Event()

        def send(kind: str, item: Any) -> None:
            if not closed.is_set():
                try:
                    loop.call_soon_threadsafe(updates.put_nowait, (kind, item))
                except RuntimeError:  # the event loop is gone: the server stopped
                    closed.set()

        def pump() -> None:
            generator = self.compute(job)
            try:
                for item in generator:
                    if closed.is_set():
                        break
                    send("item" if item is not None else "tick", item)
            except BaseException as exc:
                send("error", exc)
            finally:
                generator.close()
                send("end", None)

        threading.Thread(target=pump, name=f"nst-stream-{job.method}", daemon=True).start()
        started = last = time.monotonic()
        try:
            while True:
                kind, item = await updates.get()
                if kind == "error":
                    raise item
                if kind == "end":
                    return
                now = time.monotonic()
                if kind == "item":
                    yield item
                    last = now
                elif now - last >= QUIET:
                    yield Waiting(now - started)
                    last = now
        finally:
            closed.set()
