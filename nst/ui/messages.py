"""What a failed run says, and to whom.

Two readers: the person in the browser (or calling the API) gets one plain sentence they can act
on; the operator gets the full detail (paths, variables, commands, the traceback of a bug) in the
server's log, once. A person's sentence never holds markup: Gradio shows it as HTML, where
``<urlopen error ...>`` vanished as an unknown tag and took the fix with it, so the characters
HTML would read are replaced.
"""

from __future__ import annotations

import logging

import gradio as gr
import torch

from ..errors import NSTError, ResourceError, WeightsError

log = logging.getLogger("nst.server")

OUT_OF_MEMORY = (
    "the server ran out of memory for this picture; try a smaller size, or try again when fewer people "
    "are using it"
)
BUG = "something went wrong on the server ({name}); it has been logged. Try again, or with other settings"


def plain(text: str) -> str:
    """``text`` with nothing a browser would read as markup (``<``, ``>``, ``&``)."""
    return text.replace("&", "and").replace("<", "‹").replace(">", "›")


def for_person(exc: BaseException) -> str:
    """The sentence for the person whose run failed; the operator's detail is logged here, once."""
    if isinstance(exc, NSTError):
        if exc.person is not None or isinstance(exc, (WeightsError, ResourceError)):
            log.error("%s: %s", type(exc).__name__, exc)
        if exc.person is not None:
            return plain(exc.person)
        if isinstance(exc, WeightsError):
            return "this server's network weights could not be loaded; its operator has been told (in the server's log)"
        return plain(str(exc))
    if isinstance(exc, (MemoryError, torch.OutOfMemoryError)) or "can't allocate memory" in str(exc):
        log.error("out of memory: %s", exc)
        return OUT_OF_MEMORY
    log.error("unexpected failure of a run", exc_info=exc)
    return BUG.format(name=type(exc).__name__)


def api_error(exc: BaseException) -> gr.Error:
    """A failure as the API's answer (``gradio_client`` raises it as ``AppError`` with this sentence)."""
    if isinstance(exc, gr.Error):
        return exc
    return gr.Error(for_person(exc), print_exception=False)
