"""Pieces several commands share: settings and dial flags generated from ``Settings`` and
``nst.dials``, and a tqdm progress bar fed by the engine's step callback."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterable
from typing import Any

from ..dials import BY_SETTING, DIALS, settings_from_dials
from ..errors import SettingsError
from ..images import save_image
from ..settings import Settings, fields_info
from ..weights import default_backbone


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
        k.removeprefix("setting_"): v
        for k, v in vars(args).items()
        if k.startswith("setting_") and v is not None
    }
    dials = {
        k.removeprefix("dial_"): v for k, v in vars(args).items() if k.startswith("dial_") and v is not None
    }
    for name, value in settings_from_dials(dials).items():
        if name in given:
            raise SettingsError(
                f"{name}: give either {flag(name)} or {flag(BY_SETTING[name].name)}, not both"
            )
        given[name] = value
    given.setdefault("backbone", default_backbone())
    given.update(fixed)
    return Settings.from_dict(given)


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


def run_and_save(args: argparse.Namespace, steps: int, work: Callable[[ProgressBar], Any]) -> int:
    """Run ``work`` with a progress bar as its callback, then save and report its result."""
    bar = ProgressBar(steps, quiet=args.quiet)
    try:
        result = work(bar)
    finally:
        bar.close()
    save_and_report(result, args.output, args.quiet)
    return 0


def save_and_report(result: Any, output: str, quiet: bool) -> None:
    """Write the picture and, unless quiet, one line with its size, time, device and last losses."""
    path = save_image(result.image, output)
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    if not quiet:
        last = result.losses[-1] if result.losses else {}
        print(
            f"wrote {path} ({result.image.width}x{result.image.height}) in {result.seconds:.1f} s on {result.device}; "
            + ", ".join(f"{k} {v:.4g}" for k, v in last.items())
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
        self.bar.set_postfix({k: f"{v:.3g}" for k, v in info.losses.items()}, refresh=False)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
