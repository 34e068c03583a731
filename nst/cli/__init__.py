"""Command line: ``python -m nst <command> ...``.

Each command lives in its own module of this package and exposes ``register(subparsers)``,
which adds its parser and sets ``func`` to a callable taking the parsed arguments and
returning an exit code. Errors the user can fix (:class:`~nst.errors.NSTError`) are printed
as one line and exit with status 2; argparse does the same for malformed flags.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Sequence

from ..errors import NSTError

#: Modules under ``nst.cli`` that each register one subcommand, in help order.
COMMANDS = ("gatys", "texture", "cyclegan")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m nst",
        description="Neural style transfer: repaint a photo in the style of a painting.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        importlib.import_module(f"{__name__}.{name}").register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except NSTError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
