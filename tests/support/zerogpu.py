"""What ZeroGPU does with a run: the runner's compute in another process, fed a pickled prepared request and
stop signal, its items pickled back (``spaces`` forks a GPU worker; spawn is used here, which also proves
that nothing depends on memory shared with the server)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any


def compute_in_child(request: Any, signal: Any, items: Any) -> None:
    from nst.ui.runner import Runner

    runner = Runner(None, Path(tempfile.mkdtemp()))
    try:
        for item in runner._compute(request, signal):
            if item is not None:
                items.put(item)
    except Exception as exc:
        items.put(("error", repr(exc)))
