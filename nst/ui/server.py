"""The server's configuration from its environment, its defaults per device, and launching it.

Every variable is set by whoever runs the server, never by its clients; they are read once,
when the app is built. The page's starting values and the API's defaults are one definition
(:class:`RunDefaults`), chosen for the device. Launching ties the cache folder to the server's
life: swept while it runs, emptied when it stops (also on SIGTERM).
"""

from __future__ import annotations

import contextlib
import os
import signal
import tempfile
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr
import torch
from starlette.middleware import Middleware

from .. import catalogue
from ..errors import SettingsError
from ..inputs import MAX_STYLES
from ..requests import Limits
from ..settings import default_backbone
from .cache import CacheFolder
from .request_limit import RequestLimit, request_limit
from .uploads import parse_size


@dataclass(frozen=True)
class RunDefaults:
    """Where the page's dials start and what the API uses when a caller leaves a setting out."""

    size: int
    steps: int
    scales: int


#: CPU: 256 px, 40 steps over 2 scales (27 steps at 128 px, 13 at 256 px): about 6 s on two cores with
#: VGG16, the fastest schedule tried whose pictures are as good as the 60-step one's by the judge's
#: distances and by eye (benchmarks/results/time-to-picture-cpu.md; starting at 64 px was faster but
#: lost the photo's detail). GPU: 512 px, 300 steps over 2 scales (seconds).
CPU_DEFAULTS = RunDefaults(size=256, steps=40, scales=2)
GPU_DEFAULTS = RunDefaults(size=512, steps=300, scales=2)
#: The longest video run a server takes by default, by the time model (nst.video): 5 minutes of one
#: person's work holds the line for everyone behind it; on ZeroGPU it asks for twice that plus loading,
#: within the 600 s a run may ask for (nst.video.MAX_GPU_SECONDS).
MAX_VIDEO_SECONDS = 290
#: Smallest tile a client may ask for: a 16 px tile with its 80 px halo computes 121 times the pixels it answers for.
MIN_SERVER_TILE = 256


def _env_int(env: Mapping[str, str], name: str, default: int) -> int:
    value = env.get(name, "").strip()
    if not value:
        return default
    try:
        return int(value)
    except ValueError:
        raise SettingsError(f"{name} is {value!r}; expected a whole number") from None


@dataclass(frozen=True)
class ServerConfig:
    """What the operator decided (see README, "The app": environment)."""

    device: str | None  #: NST_DEVICE; None: CUDA when present, else CPU
    device_type: str  #: "cuda" or "cpu"
    max_size: int  #: NST_MAX_SIZE
    max_steps: int  #: NST_MAX_STEPS
    max_video_seconds: int  #: NST_MAX_VIDEO_SECONDS: the longest video run, by the time model (nst.video)
    max_file_size: str  #: NST_MAX_FILE_SIZE, as Gradio reads it
    max_request_bytes: int  #: NST_MAX_REQUEST_SIZE; default: one upload inline as a data: URL, and 1 MB
    concurrency: int  #: NST_CONCURRENCY
    queue_size: int  #: NST_QUEUE_SIZE
    cache_seconds: int  #: NST_CACHE_SECONDS; 0 keeps files until the server stops
    cache_dir: Path | None  #: NST_CACHE_DIR; None: <temp>/nst-cache (or -2, -3... when taken)
    backbone: str  #: NST_BACKBONE: the backbone offered first and the API's default
    examples_dir: Path | None  #: NST_EXAMPLES_DIR: the operator's own example photos and styles

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> ServerConfig:
        device = env.get("NST_DEVICE", "").strip() or None
        cuda = (device or "auto").startswith("cuda") or (
            device in (None, "auto") and torch.cuda.is_available()
        )
        device_type = "cuda" if cuda else "cpu"
        max_file_size = env.get("NST_MAX_FILE_SIZE", "").strip() or "20mb"
        try:
            parse_size(max_file_size)
        except ValueError:
            raise SettingsError(f"NST_MAX_FILE_SIZE is {max_file_size!r}; expected e.g. 20mb") from None
        max_request_size = env.get("NST_MAX_REQUEST_SIZE", "").strip()
        try:
            max_request_bytes = (
                parse_size(max_request_size) if max_request_size else request_limit(parse_size(max_file_size))
            )
        except ValueError:
            raise SettingsError(f"NST_MAX_REQUEST_SIZE is {max_request_size!r}; expected e.g. 30mb") from None
        cache_dir = env.get("NST_CACHE_DIR", "").strip()
        examples_dir = env.get("NST_EXAMPLES_DIR", "").strip()
        if examples_dir and not Path(examples_dir).is_dir():
            raise SettingsError(f"NST_EXAMPLES_DIR is {examples_dir!r}, which is not a folder")
        return cls(
            device=device,
            device_type=device_type,
            max_size=_env_int(env, "NST_MAX_SIZE", 2048 if cuda else 1024),
            max_steps=_env_int(env, "NST_MAX_STEPS", 2000),
            max_video_seconds=_env_int(env, "NST_MAX_VIDEO_SECONDS", MAX_VIDEO_SECONDS),
            max_file_size=max_file_size,
            max_request_bytes=max_request_bytes,
            concurrency=_env_int(env, "NST_CONCURRENCY", 1),
            queue_size=_env_int(env, "NST_QUEUE_SIZE", 32),
            cache_seconds=_env_int(env, "NST_CACHE_SECONDS", 3600),
            cache_dir=Path(cache_dir) if cache_dir else None,
            backbone=default_backbone(),
            examples_dir=Path(examples_dir) if examples_dir else None,
        )

    @property
    def defaults(self) -> RunDefaults:
        """The page's and the API's starting size, steps and scales on this device (capped by the limits)."""
        base = GPU_DEFAULTS if self.device_type == "cuda" else CPU_DEFAULTS
        return RunDefaults(min(base.size, self.max_size), min(base.steps, self.max_steps), base.scales)

    @property
    def limits(self) -> Limits:
        """What every request on this server is checked against, besides the package's own limits."""
        offered = tuple(e.name for e in catalogue.entries(available_only=True) if e.kind == "painting")
        return Limits(self.max_size, self.max_steps, MIN_SERVER_TILE, offered, self.max_video_seconds)

    @property
    def queue_events(self) -> int:
        """Gradio's own bound on the events in its queue, above the runner's line (``queue_size``).

        Gradio holds each event a moment before handing it to the runner. With equal bounds the two
        raced: in a flood of 60 sessions one client got Gradio's raw "Queue is full" JSON instead of
        the runner's sentence. Gradio's bound still caps what a flood can hold."""
        return 2 * self.queue_size + self.concurrency

    @property
    def max_bytes(self) -> int:
        return parse_size(self.max_file_size)

    def open_cache(self) -> CacheFolder:
        """The server's cache folder, taken and emptied of what an earlier server left; Gradio writes there too."""
        if self.cache_dir is not None:
            cache = CacheFolder.open(self.cache_dir, self.cache_seconds)
        else:
            cache = CacheFolder.open_default(Path(tempfile.gettempdir()) / "nst-cache", self.cache_seconds)
        os.environ["GRADIO_TEMP_DIR"] = str(cache.path)  # uploads and every file Gradio writes
        return cache


def kept_files(demo: gr.Blocks) -> set[str]:
    """Files Gradio must keep while the page is served (the example pictures it copied to its cache)."""
    return {path for block in demo.blocks.values() for path in getattr(block, "keep_in_cache", ())}


def launch(demo: gr.Blocks, cache: CacheFolder, config: ServerConfig, **kwargs: Any) -> Any:
    """``demo.launch(**kwargs)`` with the server's upload limit, every request body bounded
    (:mod:`nst.ui.request_limit`), and the cache folder swept while the server runs and emptied when it stops."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        cache.start(lambda: kept_files(demo))
        try:
            yield
        finally:
            cache.stop(clear=True)

    bounded = Middleware(
        RequestLimit, limit=config.max_request_bytes, upload_limit=config.max_bytes, upload_files=MAX_STYLES
    )
    return demo.launch(
        app_kwargs={"lifespan": lifespan, "middleware": [bounded]},
        max_file_size=config.max_file_size,
        **kwargs,
    )


def stop_on_sigterm() -> None:
    """Turn SIGTERM (a container stopping, a Space restarting) into the Ctrl+C Gradio shuts down cleanly on."""

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)
