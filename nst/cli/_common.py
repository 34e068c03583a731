"""Pieces several commands share: settings and dial flags generated from ``Settings`` and
``nst.dials``, running a request with a tqdm progress bar, Ctrl+C as Stop, and saving the picture.

Nothing here imports torch at module level: ``python -m nst --help`` only builds the parsers.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from ..dials import DIALS, settings_from_values
from ..errors import SettingsError
from ..settings import Settings, default_backbone, fields_info

#: Exit status of a run stopped by Ctrl+C (128 + SIGINT), whether or not it saved a picture.
INTERRUPTED = 130


def flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def add_settings_arguments(parser: argparse.ArgumentParser, skip: Iterable[str] = ()) -> None:
    """One flag per Settings field, same name with dashes, default taken from Settings.

    Values are passed to Settings as strings; Settings itself parses and validates them, so
    the CLI, Python and the app share one set of rules and messages.
    """
    group = parser.add_argument_group("settings (defaults in brackets)")
    for info in fields_info():
        if info.name in skip:
            continue
        default = default_backbone() if info.name == "backbone" else info.default
        shown = ",".join(map(str, default)) if isinstance(default, tuple) else default
        group.add_argument(
            flag(info.name),
            dest=f"setting_{info.name}",
            default=None,
            metavar=info.name.split("_")[-1].upper(),
            help=f"{info.help} [{shown}]",
        )
    dials = parser.add_argument_group(
        "dials (0 to 10, the page's plain-word controls; each sets one setting)"
    )
    for dial in DIALS.values():
        if dial.setting not in skip:
            dials.add_argument(
                flag(dial.name),
                dest=f"dial_{dial.name}",
                default=None,
                metavar="0-10",
                help=f"{dial.info}; sets {dial.setting} (page default {dial.default:g})",
            )


def settings_from_args(args: argparse.Namespace, **fixed: Any) -> Settings:
    """Settings from the flags that were given (others keep their defaults; the backbone is NST_BACKBONE's)."""
    given = {
        k.split("_", 1)[1]: v
        for k, v in vars(args).items()
        if k.startswith(("setting_", "dial_")) and v is not None
    }
    return settings_from_values({**given, **fixed}, {"backbone": default_backbone()})


def settings_with_blend(
    args: argparse.Namespace, weights: tuple[float, ...] | None, weights_flag: str
) -> Settings:
    """Settings from the flags, with per-style weights given as ``PATH:WEIGHT`` as ``style_blend``."""
    if weights is None:
        return settings_from_args(args)
    if args.setting_style_blend is not None:
        raise SettingsError(
            f"style_blend: give weights either as {weights_flag} or with --style-blend, not both"
        )
    return settings_from_args(args, style_blend=weights)


def add_run_arguments(parser: argparse.ArgumentParser, what: str) -> None:
    """The flags every optimizing command takes: where the picture goes, the device, the VGG weights."""
    parser.add_argument(
        "-o", "--output", required=True, metavar="OUT", help=f"where to write the {what} (.png, .jpg, .webp)"
    )
    parser.add_argument("--device", default=None, help="auto (default: CUDA if available), cpu, cuda, cuda:N")
    parser.add_argument(
        "--vgg-weights",
        default=None,
        metavar="FILE",
        help="VGG weights file (.pth or .safetensors); default: $NST_VGG19_WEIGHTS / "
        "$NST_VGG16_WEIGHTS, then torchvision's cache",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


@contextmanager
def ctrl_c_stops(stop: threading.Event) -> Iterator[None]:
    """The first Ctrl+C stops the run after its current step (the best picture so far is saved); a
    second one quits at once."""

    def interrupt(signum: int, frame: Any) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
        print("\nstopping after this step (Ctrl+C again to quit at once)", file=sys.stderr, flush=True)

    if threading.current_thread() is not threading.main_thread():  # signals reach the main thread only
        yield
        return
    previous = signal.signal(signal.SIGINT, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def run_and_save(args: argparse.Namespace, request: Any, inputs: Sequence[Any], made_with: str = "") -> int:
    """Check the output path, run ``request`` with a progress bar (Ctrl+C stops it, see
    :func:`ctrl_c_stops`), then save and report its picture (``made_with``: what painted it)."""
    from ..images import check_save_path

    check_save_path(args.output, list(inputs))
    result = run_with_bar(request.prepare(), args.quiet, "picture")
    if result is None:
        return INTERRUPTED
    save_and_report(result, args.output, args.quiet, made_with)
    return INTERRUPTED if result.stopped else 0


def run_with_bar(request: Any, quiet: bool, what: str) -> Any:
    """Run a prepared ``request`` with a progress bar, Ctrl+C as its stop (:func:`ctrl_c_stops`); None when
    it was stopped before its first ``what`` (a picture, a frame), which is said."""
    from ..errors import Stopped

    stop = threading.Event()
    bar = ProgressBar(request.steps, quiet=quiet)
    try:
        with ctrl_c_stops(stop):
            return request.run(bar, stop)
    except Stopped:
        print(f"stopped before the first {what}: nothing was written", file=sys.stderr)
        return None
    finally:
        bar.close()


def save_and_report(result: Any, output: str, quiet: bool, made_with: str = "") -> None:
    """Write the picture and, unless quiet, one line with its size, what made it, time, device and last losses."""
    from ..faces import faces_kept
    from ..images import save_image

    path = save_image(result.image, output)
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    if result.faces is not None:
        print(f"keep_faces: {faces_kept(result.faces)}", file=sys.stderr)
    if result.stopped:
        print(f"stopped at step {result.steps}: wrote the best picture so far to {path}", file=sys.stderr)
    if not quiet:
        last = result.losses[-1] if result.losses else {}
        print(
            f"wrote {path} ({result.image.width}x{result.image.height}){made_with} in {result.seconds:.1f} s on "
            f"{result.device}" + "".join(f"; {k} {v:.4g}" for k, v in last.items())
        )


class ProgressBar:
    """A tqdm bar showing step, total loss and each term; usable as the engine's callback.

    The bar appears at the first step, so errors found while loading inputs print alone.
    """

    def __init__(self, total: int, quiet: bool = False) -> None:
        self.total, self.quiet, self.bar = total, quiet, None

    def __call__(self, info: Any) -> None:
        if self.bar is None:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=self.total, unit="step", disable=self.quiet, dynamic_ncols=True)
        self.bar.update(info.step - self.bar.n)
        frame = {"frame": f"{info.frame}/{info.frames}"} if info.frames > 1 else {}
        self.bar.set_postfix({**frame, **{k: f"{v:.3g}" for k, v in info.losses.items()}}, refresh=False)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
