"""Whether weights may be downloaded: one rule for VGG (torch hub) and CycleGAN (Hugging Face Hub).

Offline when ``NST_OFFLINE`` or ``HF_HUB_OFFLINE`` is set, or when the machine cannot reach the
internet at all. The last is decided once per process, by one connection attempt with a
one-second timeout the first time a download is about to start: without it, each painter on a
machine with no network waited about 24 s for the Hub client's retries before failing.
"""

from __future__ import annotations

import functools
import os
import socket

_TRUE = ("1", "true", "yes", "on")
#: Hosts the weights come from; one answering is enough.
_HOSTS = (("huggingface.co", 443), ("download.pytorch.org", 443))


def offline() -> bool:
    """True when no download may be tried (see the module docstring)."""
    if any(os.environ.get(name, "").strip().lower() in _TRUE for name in ("NST_OFFLINE", "HF_HUB_OFFLINE")):
        return True
    return not _reachable()


@functools.cache
def _reachable() -> bool:
    for host, port in _HOSTS:
        try:
            with socket.create_connection((host, port), timeout=1.0):
                return True
        except OSError:
            continue
    return False
