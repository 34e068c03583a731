"""A byte limit on every request body, enforced before the body is read.

Gradio limits each uploaded file (``max_file_size``, streamed to disk), but any other route (a named
call, the queue, a cancel) reads its whole JSON body into memory and parses it: a 50 MB body of one
text value cost the server 171 MB, a 200 MB one 481 MB and 25 s, before anything of the app ran.

:class:`RequestLimit` is plain ASGI middleware in front of every route. A body that declares a
``Content-Length`` above the limit is answered ``413`` without reading a byte of it; a body sent in
chunks without a length is counted as it arrives and refused the moment it passes the limit. A JSON
body may hold one image inline as a ``data:`` URL, so its limit is one upload in base64 (4/3 of the
upload limit) and a megabyte for the rest; the upload route takes as many files as the largest file
list at the upload limit each (what the page sends when several styles are picked at once).
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from .uploads import MB, megabytes

log = logging.getLogger("nst.server")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

UPLOAD_ROUTE = "/gradio_api/upload"


def request_limit(upload_limit: int) -> int:
    """The default limit of a JSON body: one image inline as a data: URL (base64), and a megabyte besides."""
    return upload_limit * 4 // 3 + MB


class TooLarge(Exception):
    """The body passed the limit while it was being read."""


class RequestLimit:
    """Refuses, with ``413`` and a sentence, every request body above its route's limit (module docstring)."""

    def __init__(self, app: ASGIApp, limit: int, upload_limit: int, upload_files: int) -> None:
        self.app, self.limit = app, limit
        self.upload_limit, self.upload_files = upload_limit, upload_files

    def _limit_of(self, path: str) -> int:
        if path.rstrip("/").endswith(UPLOAD_ROUTE):
            return self.upload_limit * self.upload_files + MB
        return self.limit

    def _sentence(self, path: str, size: int | None, limit: int) -> str:
        given = f"This request is {megabytes(size)}" if size is not None else "This request is too large"
        if path.rstrip("/").endswith(UPLOAD_ROUTE):
            return (
                f"{given}; this server takes at most {megabytes(limit)} in one upload "
                f"({megabytes(self.upload_limit)} per file). Upload fewer or smaller files at a time."
            )
        return (
            f"{given}; this server takes at most {megabytes(limit)} in one request. Upload images "
            "first (gradio_client's handle_file(path) does that) and send what the upload returned."
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path, limit = scope.get("path", ""), self._limit_of(scope.get("path", ""))
        declared = dict(scope.get("headers") or []).get(b"content-length")
        try:
            size = int(declared) if declared is not None else None
        except ValueError:
            size = None
        if size is not None and size > limit:
            await self._refuse(scope, send, path, size, limit)
            return
        received, started, refused = 0, False, False

        async def counted() -> Message:
            nonlocal received, refused
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    # Answered here: the route may turn any error while reading into an answer of its own.
                    if not started and not refused:
                        refused = True
                        await self._refuse(scope, send, path, None, limit)
                    raise TooLarge
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            if refused:
                return  # the refusal is the answer; what the route says after it is dropped
            started = started or message["type"] == "http.response.start"
            await send(message)

        with contextlib.suppress(TooLarge):
            await self.app(scope, counted, watched)

    async def _refuse(self, scope: Scope, send: Send, path: str, size: int | None, limit: int) -> None:
        client = (scope.get("client") or ("?",))[0]
        log.warning(
            "refused a request to %s from %s: %s, above the limit of %s (NST_MAX_REQUEST_SIZE for JSON "
            "bodies, NST_MAX_FILE_SIZE for uploads)",
            path,
            client,
            megabytes(size) if size is not None else "an unbounded body",
            megabytes(limit),
        )
        body = json.dumps({"error": self._sentence(path, size, limit)}).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        await send(
            {"type": "http.response.start", "status": 413, "headers": headers + [(b"connection", b"close")]}
        )
        await send({"type": "http.response.body", "body": body})
