"""Pieces several commands share: settings flags generated from the Settings dataclass, and a
tqdm progress bar fed by the engine's step callback."""

from __future__ import annotations

import argparse
import sys
import dataclasses
from typing import Any, Iterable

from ..errors import SettingsError
from ..images import save_image
from ..settings import Settings


def flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def add_settings_arguments(parser: argparse.ArgumentParser, skip: Iterable[str] = ()) -> None:
    """One flag per Settings field, same name with dashes, default taken from Settings.

    Values are passed to Settings as strings; Settings itself parses and validates them, so
    the CLI, Python and the app share one set of rules and messages.
    """
    group = parser.add_argument_group("settings (defaults in brackets)")
    defaults = Settings()
    for f in dataclasses.fields(Settings):
        if f.name in skip:
            continue
        default = getattr(defaults, f.name)
        shown = ",".join(map(str, default)) if isinstance(default, tuple) else default
        group.add_argument(flag(f.name), dest=f"setting_{f.name}", default=None, metavar=f.name.split("_")[-1].upper(),
                           help=f"{f.metadata.get('help', '')} [{shown}]")


def settings_from_args(args: argparse.Namespace, **fixed: Any) -> Settings:
    """Settings from the flags that were given (others keep their defaults)."""
    given = {k.removeprefix("setting_"): v for k, v in vars(args).items() if k.startswith("setting_") and v is not None}
    given.update(fixed)
    return Settings.from_dict(given)


def settings_with_blend(args: argparse.Namespace, weights: tuple[float, ...] | None, weights_flag: str) -> Settings:
    """Settings from the flags, with per-style weights given as ``PATH:WEIGHT`` as ``style_blend``."""
    if weights is None:
        return settings_from_args(args)
    if args.setting_style_blend is not None:
        raise SettingsError(f"style_blend: give weights either as {weights_flag} or with --style-blend, not both")
    return settings_from_args(args, style_blend=weights)


def save_and_report(result: Any, output: str, quiet: bool) -> None:
    """Write the picture and, unless quiet, one line with its size, time, device and last losses."""
    path = save_image(result.image, output)
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    if not quiet:
        last = result.losses[-1] if result.losses else {}
        print(f"wrote {path} ({result.image.width}x{result.image.height}) in {result.seconds:.1f} s on {result.device}; "
              + ", ".join(f"{k} {v:.4g}" for k, v in last.items()))


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
