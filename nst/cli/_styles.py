"""Style arguments shared by the gatys and texture commands: ``PATH[:WEIGHT]`` specs."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ..errors import SettingsError


def parse_style_spec(text: str) -> tuple[str, float | None]:
    """``painting.jpg:0.7`` -> ("painting.jpg", 0.7); a path without a numeric suffix has no weight.

    A colon is only read as the weight separator when what follows is a number and the whole
    text is not an existing file, so Windows drive letters and odd file names keep working.
    """
    if ":" in text and not Path(text).is_file():
        head, tail = text.rsplit(":", 1)
        try:
            weight = float(tail)
        except ValueError:
            return text, None
        if not head:
            raise SettingsError(f"style: {text!r} has a weight but no file name")
        return head, weight
    return text, None


def collect_styles(specs: Sequence[str]) -> tuple[list[str], tuple[float, ...] | None]:
    """Paths and blend weights from style specs; weights must be given for all styles or none."""
    if not specs:
        raise SettingsError("style: give a style image (STYLE or --style PATH[:WEIGHT])")
    parsed = [parse_style_spec(s) for s in specs]
    weights = [w for _, w in parsed]
    if all(w is None for w in weights):
        return [p for p, _ in parsed], None
    if any(w is None for w in weights):
        raise SettingsError("style: give a weight to every style (PATH:WEIGHT) or to none")
    return [p for p, _ in parsed], tuple(float(w) for w in weights)  # type: ignore[arg-type]
