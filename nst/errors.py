"""The project's own exceptions.

Every failure a person can cause (a bad file, a bad setting, missing weights) is raised as
an :class:`NSTError` subclass with a message written for that person, so the CLI, the app
and the API can show it as-is instead of a traceback. Anything else escaping the package is
a bug.
"""

from __future__ import annotations


class NSTError(Exception):
    """Base class: the message is complete, specific and safe to show to a user."""


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
