"""Gradio components that hand their values to the package unchanged, so its checks and messages apply.

The instances' ``preprocess`` is replaced rather than subclassing: Gradio writes a ``.pyi`` stub
next to any module that defines a component class.
"""

from __future__ import annotations

from typing import Any

import gradio as gr
from gradio.data_classes import ListFiles

#: The image the API page's "Use via API" snippet shows: the project's own example files (run from a clone).
EXAMPLE_FILES = {
    "content": "examples/content/chelsea.jpg",
    "style": "examples/styles/swirls.jpg",
    "video": "examples/videos/coffee-pan.mp4",
}


def _example(path: str) -> dict:
    return {"path": path, "url": path, "meta": {"_type": "gradio.FileData"}}


def upload_image(example: str = "content", **kwargs: Any) -> gr.Image:
    """A ``gr.Image(type="filepath")`` whose uploads reach the package as they came.

    Gradio does not open, decode or convert the file (its ``convert("RGB")`` would clip 16-bit
    images and drop transparency onto black, and it would open a 100-megapixel upload before the
    package's size check); ``nst.load_image`` makes the documented conversions and refusals. The
    path is one the upload gate (:mod:`nst.ui.uploads`) let through: a file in the upload folder.
    """
    image = gr.Image(type="filepath", image_mode=None, **kwargs)
    image.preprocess = lambda payload: None if payload is None else str(payload.path)  # type: ignore[method-assign]
    image.example_payload = lambda: _example(EXAMPLE_FILES[example])  # type: ignore[method-assign]
    return image


def upload_video(**kwargs: Any) -> gr.Video:
    """A ``gr.Video`` whose uploads reach the package as they came: Gradio neither converts nor mutes them
    (its FFmpeg steps would decode a hostile file before the package's checks, :mod:`nst.clips`)."""
    video = gr.Video(sources=["upload"], format=None, **kwargs)
    video.preprocess = lambda payload: None if payload is None else str(payload.path)  # type: ignore[method-assign]
    video.example_payload = lambda: _example(EXAMPLE_FILES["video"])  # type: ignore[method-assign]
    return video


def upload_files(**kwargs: Any) -> gr.File:
    """Several image files (more styles, masks), as paths, handed over as they came: Gradio's check of the
    file's suffix refused a data: URL's file and an image named without a known suffix, in words that named
    no parameter; the package decodes each file and says which one it cannot read."""
    files = gr.File(file_count="multiple", file_types=["image"], type="filepath", **kwargs)
    files.preprocess = lambda payload: (  # type: ignore[method-assign]
        None
        if payload is None
        else [str(f.path) for f in (payload if isinstance(payload, ListFiles) else [payload])]
    )
    files.example_payload = lambda: [_example(EXAMPLE_FILES["style"])]  # type: ignore[method-assign]
    return files


def described(component: gr.components.Component, text: str) -> gr.components.Component:
    """``component`` with ``text`` as its parameter's description on the API page and in ``/info``
    (Gradio's own says of an image "a local filepath or publicly available URL"; no URL is fetched here)."""
    schema = component.api_info_as_input if hasattr(component, "api_info_as_input") else component.api_info
    component.api_info_as_input = lambda: {**schema(), "additional_description": text}  # type: ignore[attr-defined]
    return component


def lenient_number(number: gr.Number) -> gr.Number:
    """A ``gr.Number`` that hands a value it cannot round (NaN, infinity, text, a list) to the package
    unchanged, whose checks then say which parameter is wrong and why."""
    decode = number.preprocess

    def preprocess(payload: Any) -> Any:
        try:
            return decode(payload)
        except (TypeError, ValueError, OverflowError):
            return payload

    number.preprocess = preprocess  # type: ignore[method-assign]
    return number
