"""The checks every value from outside goes through, with the messages a person reads.

A value arrives as Python, as CLI text or as an API's JSON, and may be anything (text where a
number belongs, NaN, a 400-digit number, a huge list). Each check names the parameter, says what
was expected and shows what came, shortened (:func:`~nst.errors.shown`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from .errors import SettingsError, shown


def split_list(value: Any, name: str, what: str, limit: int) -> list[Any]:
    """Comma- (or semicolon-) separated text, or a list, as a list of at most ``limit`` items."""
    if isinstance(value, str):
        if len(value) > 40 * limit:
            raise SettingsError(f"{name}: {len(value)} characters is far too long for at most {limit} {what}")
        value = [v for v in value.replace(";", ",").split(",") if v.strip()]
    try:
        items = list(value)
    except TypeError:
        raise SettingsError(f"{name}: expected a list of {what}, got {shown(value)}") from None
    if len(items) > limit:
        raise SettingsError(f"{name}: {len(items)} {what} given; at most {limit}")
    return items


def as_float(value: Any, name: str, low: float = 0.0, high: float = math.inf) -> float:
    if isinstance(value, bool):
        raise SettingsError(f"{name}: expected a number, got {value!r}")
    try:
        x = float(value)
    except OverflowError:
        raise SettingsError(f"{name}: must be at most {high:g}, got {shown(value)}") from None
    except (TypeError, ValueError):
        raise SettingsError(f"{name}: expected a number, got {shown(value)}") from None
    if not math.isfinite(x):
        raise SettingsError(f"{name}: must be a finite number, got {shown(value)}")
    if x < low:
        raise SettingsError(
            f"{name}: must be at least {low:g}, got {x:g}"
            if low
            else f"{name}: must not be negative, got {x:g}"
        )
    if x > high:
        raise SettingsError(f"{name}: must be at most {high:g}, got {x:g}")
    return x


def _number(x: int | float) -> str:
    """A number as a message shows it: a whole number of 25 digits or more by its length only."""
    if isinstance(x, int) and len(str(abs(x))) > 24:
        return f"a {len(str(abs(x)))}-digit number"
    return f"{x:g}" if isinstance(x, float) else str(x)


def as_int(value: Any, name: str, low: int, high: int, where: str = "") -> int:
    """A whole number in [low, high]; ``where`` says whose range it is (" on this server")."""
    if isinstance(value, bool):
        raise SettingsError(f"{name}: expected a whole number, got {value!r}")
    text = value.strip() if isinstance(value, str) else None
    if isinstance(value, int):  # exact, however many digits
        x = value
    elif text is not None and text.lstrip("+-").isdigit() and text.isascii():
        x = int(text)  # "999...9": a whole number, merely too large
    else:
        try:
            f = float(value)
        except OverflowError:
            raise SettingsError(
                f"{name}: must be between {low} and {high}{where}, got {shown(value)}"
            ) from None
        except (TypeError, ValueError):
            raise SettingsError(f"{name}: expected a whole number, got {shown(value)}") from None
        if not math.isfinite(f) or f != int(f):
            raise SettingsError(f"{name}: expected a whole number, got {shown(value)}")
        x = int(f)
    if not low <= x <= high:
        raise SettingsError(f"{name}: must be between {low} and {high}{where}, got {_number(x)}")
    return x


def as_choice(value: Any, name: str, choices: Iterable[str]) -> str:
    choices = tuple(choices)
    v = str(value).strip().lower() if value is not None else ""
    if v not in choices:
        raise SettingsError(f"{name}: {shown(value)} is not one of {', '.join(choices)}")
    return v
