"""The page's controls by name, as the Run button sends them when nobody touches them, and driving its Run
handler with them."""

from __future__ import annotations

import asyncio
import types

from nst.dials import DIALS

#: What the page's controls send when nobody touches them (method gatys, dials at their defaults).
START = {
    "method": "gatys",
    "content": None,
    "keep_faces": True,
    "style": None,
    "painter": "monet",
    "strength": 1.0,
    "brush_scale": 1.0,
    "max_size": 1024,
    **{d.name: d.default for d in DIALS.values()},
    "preserve_color": "none",
    "style_loss": "gram",
    "face_strength": 0.9,
    "size": 64,
    "width": 64,
    "height": 48,
    "steps": 10,
    "backbone": "vgg19",
    "pooling": "max",
    "optimizer": "lbfgs",
    "style_layers": "relu1_1,relu2_1,relu3_1,relu4_1,relu5_1",
    "style_layer_weights": "",
    "seed": 0,
    "scales": 1,
    "style_scale": 1.0,
    "extra_styles": None,
    "style_blend": "",
    "content_layers": "relu4_2",
    "init": "content",
    "masks": None,
    "video": None,
    "temporal_weight": 2000.0,
    "frame_steps": 0,
    "max_frames": 0,
    "flow": "dis",
    "medium": "photo",
}


def drive(page, controls: dict, stop_when=None) -> list[tuple]:
    """Every update the Run handler streams for ``controls`` (by name); ``stop_when(update)`` presses Stop."""
    request = types.SimpleNamespace(session_hash=f"test-{id(controls)}")
    keys = {name: object() for name in page.widgets}  # the handler reads components by identity
    values = {keys[name]: value for name, value in controls.items()}

    async def run() -> list:
        updates = []
        async for update in page.run(values, request, progress=lambda *a, **k: None):
            updates.append(update)
            if stop_when is not None and stop_when(update):
                page.stop(request)
        return updates

    page.widgets = keys
    return asyncio.run(run())
