"""Running prepared requests for the page and the API: in line, one (or ``concurrency``) at a time,
in a worker thread, streamed, stoppable.

:meth:`Runner.stream` is what the Gradio handlers iterate: an async generator of :class:`Update`, each
carrying the run's :class:`~nst.ui.lifecycle.State`, ending with the result. The runner keeps its own
line of waiting runs, so every run knows its place in it (Gradio admits the handlers at once).

Stopping never blocks the server. A Stop (the page's button, the API's ``/stop``) sets the run's
:class:`StopSignal`; the engine reads it while it builds targets and after every step, and the
run ends with its best picture at full size. Closing the stream (a client that hangs up, a cancelled
job) sets it too and stops listening at once; the worker thread ends by itself after the step in
hand, and only then lets the next run have the machine: a slot is held from the start of a run's
work to the end of its worker, in a thread of its own, never on the event loop.

On a ZeroGPU Space ``@spaces.GPU`` runs :meth:`Runner._compute` in a forked GPU process, so what
crosses into it must be picklable (the prepared request and the stop signal), and the stop must
reach that process: the signal is a file (see :class:`StopSignal`).
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import math
import queue
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import spaces
import torch
from PIL import Image

from ..devices import autocast_dtype, pick_device
from ..engine import Preparing, StepInfo, StyleResult
from ..errors import ResourceError, Stopped
from ..faces import find_faces
from ..images import tensor_to_image
from ..methods import Request
from ..requests import Limits
from ..settings import PAPER_STYLE_LAYERS, Settings
from ..weights import load_vgg, local_vgg_weights
from .lifecycle import State

log = logging.getLogger("nst.server")

#: How often a waiting stream looks at its place in line, its stop and its worker (seconds).
TICK = 0.2
#: The longest a stream stays silent: the current state again (its seconds updated), so a client
#: that left is noticed (Gradio only finds out when it has something to send).
QUIET = 1.0


class StopSignal:
    """A run's stop, set by the server and read by the engine after every step and target layer. It must
    reach a run in another process too (ZeroGPU's GPU worker is a fork of the server), so it is a file:
    ``set`` creates it, ``is_set`` looks for it (a stat per step). Picklable."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / f"stop-{uuid.uuid4().hex}"

    def set(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)  # a sweep may have pruned the empty folder
            self.path.touch()
        except OSError as exc:  # the folder is gone: the server is stopping anyway
            log.warning("could not set a stop (%s)", exc)

    def is_set(self) -> bool:
        return self.path.exists()

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)


@dataclass
class Update:
    """One message of a run's stream: its state, the losses of the steps since the last update, a new
    preview, and at the end its result (done, or stopped after its first step)."""

    state: State
    losses: list[tuple[int, dict[str, float]]] = field(default_factory=list)  #: (step, losses)
    image: Image.Image | None = None
    result: StyleResult | None = None


def image_every(steps: int) -> int:
    """Preview every few steps: about 15 pictures per run, at least every 10th step."""
    return max(1, min(10, math.ceil(steps / 15)))


def _gpu_seconds(request: Request, stop: StopSignal) -> int:
    return request.gpu_seconds()


class Runner:
    """Runs prepared requests in line, ``concurrency`` at a time on ``device``, with at most ``capacity``
    waiting (see the module docstring); stop signals live in ``folder``."""

    def __init__(self, device: str | None, folder: Path, concurrency: int = 1, capacity: int = 32) -> None:
        self.device, self.folder = device, Path(folder)
        self.concurrency, self.capacity = concurrency, capacity
        self._turns = threading.Condition()
        self._waiting: list[object] = []
        self._running = 0
        self._preparing = threading.BoundedSemaphore(2)
        #: The stops of each session's runs (the page's Stop button, the API's /stop).
        self._sessions: dict[str, set[StopSignal]] = {}
        #: On ZeroGPU each run gets a GPU for its request's ``gpu_seconds()``; elsewhere this is _compute.
        self.compute = spaces.GPU(duration=_gpu_seconds)(self._compute)

    # ------------------------------------------------------------------ starting

    def warm_up(self, backbone: str) -> threading.Thread | None:
        """On a CPU, load the network in a background thread when its weights are already on this machine.

        Reading VGG's weights (and the face detector's) and the first passes (oneDNN picks its kernels,
        the bfloat16 probe of :func:`~nst.devices.cpu_bfloat16_is_faster`) cost the first person to press Run a few
        seconds on a CPU Space; done at startup, the first picture starts at once. Nothing is
        downloaded, and a failure here is only logged: the run that needs the network says what
        is wrong. On a GPU (ZeroGPU attaches it per run) loading is left to the run."""
        device = pick_device(self.device)
        if device.type != "cpu" or local_vgg_weights(backbone) is None:
            return None

        def load() -> None:
            start = time.perf_counter()
            try:
                find_faces(
                    Image.new("RGB", (64, 64), "gray")
                )  # keep_faces' detector: about 1 s the first time
                net = load_vgg(backbone, Settings().pooling, None, device)
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

    # ------------------------------------------------------------------ checking

    async def prepare(self, request: Request, limits: Limits) -> Request:
        """``request`` checked and its images decoded (its ``prepare``), in a thread; two at most at once, since
        decoding takes memory (a flood of uploads decodes two by two)."""

        def work() -> Request:
            with self._preparing:
                return request.prepare(limits)

        self._check_room()  # a flood is refused before its images are decoded
        return await asyncio.to_thread(work)

    def _check_room(self) -> None:
        if len(self._waiting) >= self.capacity:
            raise ResourceError(
                f"the server is busy: {len(self._waiting)} runs are waiting; try again in a few minutes"
            )

    # ------------------------------------------------------------------ stopping

    def request_stop(self, session: str) -> bool:
        """Stop every run of ``session`` (after its current step); False when it has none."""
        signals = list(self._sessions.get(session, ()))  # a copy: a run of the session may end meanwhile
        for signal in signals:
            signal.set()
        return bool(signals)

    # ------------------------------------------------------------------ the line

    def _place(self, ticket: object) -> int:
        with self._turns:
            return self._waiting.index(ticket) + 1 if ticket in self._waiting else 0

    def _wait_turn(self, ticket: object, signal: StopSignal, closed: threading.Event) -> bool:
        """Block until ``ticket`` is first in line and a slot is free (True), or it is stopped (False)."""
        with self._turns:
            while not (self._waiting[0] is ticket and self._running < self.concurrency):
                if signal.is_set() or closed.is_set():
                    self._waiting.remove(ticket)
                    self._turns.notify_all()
                    return False
                self._turns.wait(TICK)
            self._waiting.remove(ticket)
            self._running += 1
            self._turns.notify_all()
            return True

    def _free(self) -> None:
        with self._turns:
            self._running -= 1
            self._turns.notify_all()

    # ------------------------------------------------------------------ computing

    def _compute(self, request: Request, signal: StopSignal) -> Iterator[tuple[str, Any] | None]:
        """Run ``request`` in a worker thread: yields ("phase", Preparing), ("step", StepInfo with its image
        made a picture) and ("done", StyleResult), or None every ``TICK`` seconds while nothing happens (so
        a closed stream is noticed). Closing it sets the stop and returns once the worker has ended (at
        most the step in hand): the caller holds the machine until then."""
        updates: queue.Queue = queue.Queue()

        def on_step(info: StepInfo) -> None:
            picture = tensor_to_image(info.image) if info.image is not None else None
            updates.put(("step", StepInfo(**{**vars(info), "image": picture})))

        def work() -> None:
            try:
                result = request.run(
                    on_step,
                    signal,  # type: ignore[arg-type]
                    on_phase=lambda phase: updates.put(("phase", phase)),
                    image_every=image_every(request.steps),
                )
                updates.put(("done", result))
            except BaseException as exc:  # handed to the stream, raised there
                updates.put(("error", exc))

        worker = threading.Thread(target=work, name="nst-worker", daemon=True)
        worker.start()
        try:
            while True:
                try:
                    item = updates.get(timeout=TICK)
                except queue.Empty:
                    yield None
                    continue
                if item[0] == "error":
                    raise item[1]
                yield item
                if item[0] == "done":
                    return
        finally:
            if worker.is_alive():  # closed early: stop the run, and hold the machine until it has
                signal.set()
                worker.join()

    async def stream(self, request: Request, session: str | None = None) -> AsyncIterator[Update]:
        """The updates of a prepared ``request`` for an async Gradio handler, the last one final (done or
        stopped). Closing it (or cancelling the task that iterates it) ends the run within one step and
        returns at once. ``session`` lets :meth:`request_stop` reach the run."""
        with self._turns:
            self._check_room()
            ticket = object()
            self._waiting.append(ticket)
        loop = asyncio.get_running_loop()
        items: asyncio.Queue = asyncio.Queue()
        closed = threading.Event()
        left: list[float] = []  #: when the consumer left before the end
        signal = StopSignal(self.folder)
        if session is not None:
            self._sessions.setdefault(session, set()).add(signal)

        def send(kind: str, item: Any) -> None:
            if not closed.is_set():
                try:
                    loop.call_soon_threadsafe(items.put_nowait, (kind, item))
                except RuntimeError:  # the event loop is gone: the server stopped
                    closed.set()

        def pump() -> None:
            if not self._wait_turn(ticket, signal, closed):
                send("end", None)
                return
            send("started", None)
            generator = self.compute(request, signal)
            try:
                for item in generator:
                    if closed.is_set():
                        break
                    if item is not None:
                        send(*item)
            except BaseException as exc:
                send("error", exc)
            finally:
                generator.close()  # waits here, in this thread, for the worker to end
                self._free()
                signal.clear()
                if left:  # what the load test reads: how soon a client's leaving freed the machine
                    log.info(
                        "a run freed the machine %.2f s after its client left", time.monotonic() - left[0]
                    )
                send("end", None)

        context = contextvars.copy_context()  # ZeroGPU reads the Gradio request from it
        threading.Thread(target=context.run, args=(pump,), name="nst-stream", daemon=True).start()
        started = time.monotonic()
        state = State("queued", position=self._place(ticket), steps=request.steps)
        last_sent = -math.inf
        pending: list[tuple[int, dict[str, float]]] = []
        pace: list[
            tuple[float, int]
        ] = []  #: (when, step) of the first step and the latest, for the time left
        over = False  #: the run has ended: nothing left to stop
        try:
            yield Update(state)
            last_sent = time.monotonic()
            while True:
                try:
                    kind, item = await asyncio.wait_for(items.get(), TICK)
                except (TimeoutError, asyncio.TimeoutError):
                    kind, item = "tick", None
                now = time.monotonic()
                before = state
                image: Image.Image | None = None
                over = kind in ("error", "end", "done")
                if kind == "error" and isinstance(item, Stopped):  # before its first step: no picture
                    yield Update(state.replace(phase="stopped", seconds=now - started))
                    return
                if kind == "error":
                    raise item
                if kind == "end":  # stopped in line
                    yield Update(state.replace(phase="stopped", seconds=now - started))
                    return
                if kind == "started":  # said by the phase that follows at once (the network, the painter)
                    state = state.replace(phase="preparing", position=0, what="")
                    continue
                if kind == "phase":
                    state = _after_phase(state, item)
                elif kind == "step":
                    pending.append((item.step, item.losses))
                    image = item.image
                    pace[1:] = [(now, item.step)]
                    state = state.replace(
                        phase="stopping" if state.phase == "stopping" else "running",
                        what="",
                        step=item.step,
                        steps=item.total_steps,
                        scale=item.scale,
                        scales=item.scales,
                        loss=item.losses.get("total"),
                        frame=item.frame,
                        frames=item.frames,
                        left=_left(pace, item.total_steps),
                    )
                elif kind == "done":
                    phase = "stopped" if item.stopped else "done"
                    if item.stopped and state.phase != "stopping":  # the stop landed between two looks here
                        yield Update(state.replace(phase="stopping", seconds=now - started), pending)
                        pending = []
                    yield Update(state.replace(phase=phase, seconds=now - started), pending, None, item)
                    return
                if state.phase == "queued":
                    state = state.replace(position=self._place(ticket))
                if signal.is_set() and state.phase in ("queued", "preparing", "running"):
                    state = state.replace(phase="stopping")
                state = state.replace(seconds=now - started)
                changed = _shown(state) != _shown(before)
                if (
                    image is not None
                    or changed
                    or (pending and now - last_sent >= 0.25)
                    or now - last_sent >= QUIET
                ):
                    yield Update(state, pending, image)
                    pending, last_sent = [], now
        finally:
            if not over:  # the consumer left before the end: stop the run
                left.append(time.monotonic())
                signal.set()
            closed.set()
            if session is not None:
                signals = self._sessions.get(session, set())
                signals.discard(signal)
                if not signals:
                    self._sessions.pop(session, None)


def _shown(state: State) -> tuple:
    """What of a state deserves an update of its own (steps and seconds wait for the next one)."""
    return state.phase, state.what, state.position, state.scale, state.scales, state.frame


def _left(pace: list[tuple[float, int]], total: int) -> float | None:
    """Seconds still to go at the pace since the first step (None until there is a pace to go by)."""
    if len(pace) < 2:
        return None
    (began, first), (now, step) = pace[0], pace[-1]
    if step <= first or now <= began:
        return None
    return (now - began) / (step - first) * (total - step)


def _after_phase(state: State, phase: Preparing) -> State:
    if phase.what == "painting":
        return state.replace(phase="running", what="painting")
    running = "stopping" if state.phase == "stopping" else "preparing"
    return state.replace(phase=running, what=phase.what, scale=phase.scale, scales=phase.scales)
