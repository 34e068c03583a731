"""Files a client names: only what was uploaded to this server reaches the package.

Gradio checks that a file payload is in its upload folder only when the payload carries
``"meta": {"_type": "gradio.FileData"}``; without it, a path such as ``/home/me/photo.jpg``
went straight to the app, which read and returned the server's picture (and told apart a
missing file from an unreadable one). With ``meta`` and an ``http`` path, Gradio downloads
whatever the client names. A ``data:`` URL was decoded and re-encoded by Gradio whatever its
size, around both the upload limit and the package's check-before-decode.

:class:`UploadGate` looks at every file payload of every event before Gradio does (it replaces
the Blocks' input validation hook, which runs first for every route: named API calls, the
page's own events called by index, the queue), and lets a payload through only when:

* its path, after symlinks, is a file in one of the upload folder's subfolders, not the server's own
  (the folder's marker, the stop signals); every other path, one with a NUL byte or a name too long
  to look up included, gets the same sentence, so nothing about the server's files can be learnt
  from the answer (a path in the upload folder whose file is gone was an upload that expired, and is
  told so); a file let through is touched, so its age in the cache counts from this use
  (:mod:`nst.ui.cache`);
* it is a ``data:`` URL of an image type no larger than the upload limit, whose bytes are written
  unchanged to the upload folder (with its type's suffix), so the package's check-before-decode sees
  the original file;
* a list holds no more files than the parameter takes, and every data: URL in it is within the limit
  (all are measured before any is decoded; the request's own size is bounded before it is read, see
  :mod:`nst.ui.request_limit`). Single files and lists go through the same checks.

No link is ever fetched. What passes is rewritten as a plain upload payload (with ``meta``). The same
hook first refuses an event sent with too few or too many values, naming what it takes.
"""

from __future__ import annotations

import base64
import binascii
import mimetypes
import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr

from ..errors import shown
from .cache import STOPS

REFUSED = (
    "{what}: this file was not uploaded to this server. Send the image itself: upload it first "
    "(gradio_client's handle_file(path) does that), then send what the upload returned"
)
NO_LINKS = (
    "{what}: this server does not download images from links; download the image and send the file itself"
)
NOT_A_FILE = "{what}: expected an uploaded image file, got {kind}"
EXPIRED = (
    "{what}: this upload is no longer on the server (uploads are deleted once unused for a while); "
    "upload it again"
)
DATA_URL_FOLDER = "data-urls"
#: The cache folder's subfolders that hold the server's own files, never an upload.
PRIVATE = (STOPS,)


@dataclass(frozen=True)
class FileInput:
    """What a file component takes: its name in messages, and how many files (None: exactly one)."""

    what: str
    most: int | None = None
    kind: str = "image"  #: the media type a data: URL must name (image, or video)


MB = 1024 * 1024


def megabytes(n: float) -> str:
    """Bytes in MB as a limit set as ``20mb`` reads (MB of 1024 x 1024 bytes): "20 MB", "26.7 MB"."""
    return f"{n / MB:.1f}".removesuffix(".0") + " MB"


def parse_size(text: str) -> int:
    """``20mb``, ``500kb``, ``1gb`` or a number of bytes, as Gradio's ``max_file_size`` reads it."""
    value = text.strip().lower()
    units = {"kb": 1024, "mb": 1024**2, "gb": 1024**3, "b": 1}
    for unit, factor in units.items():
        if value.endswith(unit):
            return int(float(value[: -len(unit)]) * factor)
    return int(value)


def count(block_fn: Any, inputs: list[Any]) -> None:
    """Refuse an event whose values are too few or too many, naming what it takes (Gradio answered too few
    with a message it does not show, and ignored extra ones)."""
    names = [getattr(block, "label", None) or type(block).__name__ for block in block_fn.inputs]
    if len(inputs) != len(names):
        endpoint = f"/{block_fn.api_name}" if getattr(block_fn, "api_name", None) else "this event"
        listed = ", ".join(names) if len(names) <= 40 else ", ".join(names[:40]) + ", ..."
        raise gr.Error(
            f"{endpoint} takes {len(names)} values, in this order: {listed}; this request sent {len(inputs)}. "
            "gradio_client's Client.predict sends them all, with the defaults for those not given",
            print_exception=False,
        )


class UploadGate:
    """Refuses every file payload that is not an upload to this server (see the module docstring)."""

    def __init__(self, upload_folder: str | os.PathLike, max_bytes: int) -> None:
        self.folder = Path(upload_folder).resolve()
        self.default_max_bytes = max_bytes
        self.inputs: dict[int, FileInput] = {}
        self.demo: gr.Blocks | None = None

    @property
    def max_bytes(self) -> int:
        """The upload limit the server was launched with (``launch(max_file_size=...)``), else the configured one."""
        launched = getattr(self.demo, "max_file_size", None)
        return launched if isinstance(launched, int) and launched > 0 else self.default_max_bytes

    def register(
        self, component: gr.components.Component, what: str, most: int | None = None, kind: str = "image"
    ) -> Any:
        """Gate ``component`` (an image, video or file input); returns it, to wrap construction."""
        self.inputs[component._id] = FileInput(what, most, kind)
        return component

    def install(self, demo: gr.Blocks) -> None:
        """Run before Gradio's own processing of every event's inputs."""
        self.demo = demo
        original = demo.validate_inputs

        def validate_inputs(block_fn: Any, inputs: list[Any]) -> None:
            count(block_fn, inputs)
            original(block_fn, inputs)
            for i, block in enumerate(block_fn.inputs):
                spec = self.inputs.get(block._id)
                if spec is not None and i < len(inputs):
                    inputs[i] = self.check(inputs[i], spec)

        demo.validate_inputs = validate_inputs  # type: ignore[method-assign]

    # --------------------------------------------------------------------- payloads

    def check(self, payload: Any, spec: FileInput) -> Any:
        """The payload as a plain upload payload, or a :class:`gr.Error` a person can act on."""
        if payload is None or payload == [] or payload == "":
            return None
        if spec.most is None and isinstance(payload, list):
            raise gr.Error(
                f"{spec.what}: expected one file, got a list of {len(payload)}", print_exception=False
            )
        files = payload if isinstance(payload, list) else [payload]
        if spec.most is not None and len(files) > spec.most:
            raise gr.Error(
                f"{spec.what}: {len(files)} files given; at most {spec.most}", print_exception=False
            )
        names = [spec.what] if spec.most is None else [f"{spec.what} {k + 1}" for k in range(len(files))]
        for f, what in zip(files, names):  # every data: URL's size, before any is decoded
            if isinstance(f, dict) and isinstance(f.get("url"), str) and f["url"].startswith("data:"):
                self._check_data_size(f["url"], what)
        checked = [self._one(f, what, spec.kind) for f, what in zip(files, names)]
        return checked[0] if spec.most is None else checked

    def _one(self, payload: Any, what: str, kind: str = "image") -> dict:
        if not isinstance(payload, dict):
            kind = "text" if isinstance(payload, str) else f"a {type(payload).__name__}"
            raise gr.Error(NOT_A_FILE.format(what=what, kind=kind), print_exception=False)
        url, path = payload.get("url"), payload.get("path")
        if isinstance(url, str) and url.startswith("data:"):
            path = self._save_data_url(url, what, kind)
        elif not isinstance(path, str) or not path:
            if isinstance(url, str) and url.startswith(("http://", "https://")):
                raise gr.Error(NO_LINKS.format(what=what), print_exception=False)
            raise gr.Error(REFUSED.format(what=what), print_exception=False)
        elif path.startswith(("http://", "https://")):
            raise gr.Error(NO_LINKS.format(what=what), print_exception=False)
        real = self._upload(path)
        if real is None:
            raise gr.Error(REFUSED.format(what=what), print_exception=False)
        try:
            os.utime(real)  # used now: its age in the cache starts again
        except OSError:
            raise gr.Error(EXPIRED.format(what=what), print_exception=False) from None
        orig_name = payload.get("orig_name")
        return {
            "path": str(real),
            "orig_name": orig_name if isinstance(orig_name, str) else real.name,
            "meta": {"_type": "gradio.FileData"},
        }

    def _upload(self, path: str) -> Path | None:
        """``path`` after symlinks when it may be an upload: inside the folder, below one of its subfolders and
        not in the server's own (the marker, the stop signals); None for any other path, including one the
        system cannot even look up (a NUL byte, a name too long)."""
        try:
            real = Path(os.path.realpath(path))
            inside = real.is_relative_to(self.folder) and real.parent != self.folder
            if not inside or real.relative_to(self.folder).parts[0] in PRIVATE or real.is_dir():
                return None
            return real
        except (OSError, ValueError):
            return None

    def _check_data_size(self, url: str, what: str) -> None:
        size, limit = (len(url) - url.find(",") - 1) * 3 // 4, self.max_bytes
        if size > limit:
            raise gr.Error(
                f"{what}: {megabytes(size)} is above this server's upload limit of {megabytes(limit)}; "
                "send a smaller image",
                print_exception=False,
            )

    def _save_data_url(self, url: str, what: str, kind: str = "image") -> str:
        """The bytes of a ``data:`` URL (its size already checked), unchanged, as a file in the upload folder
        (never decoded here), named with its ``kind``'s type suffix (file inputs check the suffix)."""
        header, _, data = url.partition(",")
        if ";base64" not in header:
            raise gr.Error(f"{what}: a data: URL must carry base64 data", print_exception=False)
        mime = header[len("data:") :].split(";")[0].strip().lower()
        suffix = mimetypes.guess_extension(mime) if mime.startswith(f"{kind}/") else None
        if suffix is None:
            named = (
                "an image type, as in data:image/png"
                if kind == "image"
                else "a video type, as in data:video/mp4"
            )
            raise gr.Error(
                f"{what}: a data: URL must name {named};base64,...; got {shown(mime or 'none')}",
                print_exception=False,
            )
        try:
            raw = base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError):
            raise gr.Error(f"{what}: the data: URL is not valid base64", print_exception=False) from None
        folder = self.folder / DATA_URL_FOLDER / uuid.uuid4().hex
        folder.mkdir(parents=True)
        path = folder / f"upload{suffix}"
        path.write_bytes(raw)
        return str(path)
