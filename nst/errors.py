"""The project's own exceptions.

Every failure a person can cause (a bad file, a bad setting, missing weights) is raised as
an :class:`NSTError` subclass with a message written for that person, so the CLI, the app
and the API can show it as-is instead of a traceback. Anything else escaping the package is
a bug.
"""

from __future__ import annotations

from typing import Any


def shown(value: Any, limit: int = 40) -> str:
    """``repr(value)``, shortened: a 400-digit number or a 1 MB string is not echoed back whole."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[: limit - 5]}...{text[-2:]} ({len(text)} characters)"


class NSTError(Exception):
    """Base class: the message is complete, specific and safe to show to a user.

    The message is for whoever runs the code (a CLI user, a Python caller, a server's operator)
    and may name paths, variables and commands. ``person``, where it differs, is the sentence
    for someone who uses a server through its page or API and can act on none of those.
    """

    def __init__(self, message: str, *, person: str | None = None) -> None:
        super().__init__(message)
        self.person = person


class ImageError(NSTError, ValueError):
    """An input image could not be read or is unsuitable (undecodable, too small, too big)."""


class SettingsError(NSTError, ValueError):
    """A setting is out of range or unknown; the message names the setting and the reason."""


class WeightsError(NSTError, RuntimeError):
    """Pretrained weights are missing or do not fit the network; the message says how to fix it."""


class ResourceError(NSTError, RuntimeError):
    """The job does not fit the machine (out of memory, size beyond the limit)."""


class Stopped(NSTError):
    """The run was stopped (a Stop button, a closed connection) before it made a first picture."""
