"""The states a run goes through on a server, and the sentence the page's status line shows for each.

queued (with its place in line) -> preparing (the network, then each scale's targets) -> running
(step k of n, scale s of S) -> done; or, after Stop, stopping -> stopped; or failed. The page shows
exactly the state the run is in, and the API reports it in each update's ``info``. The runner
(:mod:`nst.ui.runner`) is the only one who decides a state; nobody guesses one from silence.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

#: Every phase, in the order a run meets them.
PHASES = ("queued", "preparing", "running", "stopping", "stopped", "done", "failed")
#: What a run prepares, as a person reads it.
PREPARING = {
    "pictures": "checking the pictures",
    "network": "loading the network",
    "targets": "taking in the photo and the painting",
    "painter": "loading the painter",
}


@dataclass(frozen=True)
class State:
    """Where a run is. ``seconds`` counts from the moment it was asked for."""

    phase: str
    seconds: float = 0.0
    position: int = 0  #: queued: 1 is next
    what: str = ""  #: preparing: a key of PREPARING; running: "painting" for a one-pass painter
    step: int = 0
    steps: int = 0
    scale: int = 0  #: 0-based
    scales: int = 1
    loss: float | None = None
    frame: int = 1  #: a video's frame being repainted (1-based); a picture is frame 1 of 1
    frames: int = 1
    left: float | None = None  #: running: the seconds still to go, from the pace of the steps so far

    def replace(self, **changes: Any) -> State:
        return dataclasses.replace(self, **changes)

    @property
    def final(self) -> bool:
        return self.phase in ("stopped", "done", "failed")

    def _scale(self) -> str:
        return f" · scale {self.scale + 1} of {self.scales}" if self.scales > 1 else ""

    def sentence(self) -> str:
        """The status line (done, stopped and failed runs say more: see :func:`finished`)."""
        seconds = f" · {self.seconds:.0f} s"
        if self.phase == "queued":
            ahead = self.position - 1
            if ahead <= 0:
                return f"Waiting for the machine: yours is next{seconds}"
            return f"Waiting for the machine: {ahead} run{'s' if ahead > 1 else ''} ahead of yours{seconds}"
        if self.phase == "preparing":
            scale = (
                f" (scale {self.scale + 1} of {self.scales})"
                if self.what == "targets" and self.scales > 1
                else ""
            )
            return f"Preparing: {PREPARING.get(self.what, self.what)}{scale}…{seconds}"
        if self.phase == "running" and self.what == "painting" and self.frames == 1:
            return f"Painting…{seconds}"
        left = f" · about {self.left:.0f} s left" if self.left is not None else ""
        if self.phase == "running" and self.frames > 1:
            return f"Frame {self.frame} of {self.frames} · step {self.step} of {self.steps}{seconds}{left}"
        if self.phase == "running":
            loss = f" · loss {self.loss:.3g}" if self.loss is not None else ""
            return f"Step {self.step} of {self.steps}{self._scale()}{seconds}{loss}"
        if self.phase == "stopping":
            return f"Stopping after the current step…{seconds}"
        if self.phase == "stopped":
            return "Stopped before the first picture."
        if self.phase == "done":
            return "Done."
        return "Failed."

    def info(self) -> dict[str, Any]:
        """The state as the API's ``info`` reports it."""
        return {
            "state": self.phase,
            "position": self.position,
            "step": self.step,
            "total_steps": self.steps,
            "scale": self.scale + 1,
            "scales": self.scales,
            "frame": self.frame,
            "frames": self.frames,
            "seconds_left": None if self.left is None else round(self.left, 1),
        }


#: How a finished video's status line ends (the page then shows the video: :data:`nst.ui.assets.SHOW_RESULT`).
VIDEO_READY = "Download the video below."


def finished(
    state: State, width: int, height: int, steps: int, seconds: float, device: str, frames: int = 0
) -> str:
    """The status line of a run that made a picture (done, or stopped with the best picture so far), or a
    video of ``frames`` frames."""
    size, took = f"{width}×{height} px", f"in {seconds:.1f} s on {device}"
    if frames:
        stopped = f"Stopped at frame {frames} of {state.frames}" if state.phase == "stopped" else "Done"
        return f"{stopped}: {frames} frames at {size} {took}. {VIDEO_READY}"
    if state.phase == "stopped":
        made = f"Stopped at step {steps} of {state.steps}: {size} {took}, the best picture so far"
    elif state.what == "painting":
        made = f"Done: {size} painted {took}"
    else:
        made = f"Done: {size}, {steps} steps {took}"
    return f"{made}. Download the PNG below."
