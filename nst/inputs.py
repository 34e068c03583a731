"""What each kind of run takes besides its settings, named and described once for every front end.

The requests (:mod:`nst.requests`) take these inputs; the API lists them as parameters, the page as
controls and the CLI as arguments, each with the help written here. This module imports nothing
heavy, so ``python -m nst --help`` can show them without loading torch.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Most style images in one run: each adds its features and targets to the run's memory.
MAX_STYLES = 4
#: Default painter: the best known of the official photo-to-painting generators.
DEFAULT_PAINTER = "monet"
#: Images (at the generator's working resolution) longer than this on a side are tiled.
#: A whole-image pass takes about 0.85 KB per pixel in float32 on the CPU (measured: 880 MB
#: at 1024x1024, mostly the 64-channel full-resolution activations), so 1024 px bounds peak
#: memory near 1 GB (half that in float16 on a GPU); it is 4x the generators' 256 px crops.
DEFAULT_TILE_SIZE = 1024
#: Brush scale range: beyond 4 a 1000 px photo is painted at 250 px and detail is gone.
MAX_BRUSH_SCALE = 4.0
#: The generator never runs on fewer pixels than this on a side (brush scale is capped).
MIN_WORK_SIDE = 16


@dataclass(frozen=True)
class Input:
    """A parameter of a request that is not a setting, as every front end shows it."""

    name: str
    kind: str  #: image, images (a list of files), int, float or choice
    help: str
    required: bool = False
    last: bool = False  #: listed after the settings
    extension: bool = False  #: taken only by the methods that own it (nst.methods)


EXTRA_STYLES = Input(
    "extra_styles", "images", f"up to {MAX_STYLES - 1} more style images, mixed with style_blend", last=True
)

STYLIZE = (
    Input("content", "image", "photo to repaint", required=True),
    Input("style", "image", "painting whose style to use", required=True),
    EXTRA_STYLES,
    Input("masks", "images", "one gray mask per style image, white where that style goes", last=True),
    Input("content_segmentation", "image", "colour-coded regions of the photo", last=True, extension=True),
    Input("style_segmentation", "image", "the same colours on the style image", last=True, extension=True),
)

TEXTURE = (
    Input("style", "image", "painting whose statistics the texture takes", required=True),
    Input("width", "int", "texture width in pixels", required=True),
    Input("height", "int", "texture height in pixels", required=True),
    EXTRA_STYLES,
)

PAINT = (
    Input("content", "image", "photo to repaint", required=True),
    Input("painter", "choice", "the painter whose style to use, one of those this server offers"),
    Input("strength", "float", "0 = the photo unchanged, 1 = the generator's painting, between = a blend"),
    Input(
        "brush_scale",
        "float",
        f"paint at 1/brush_scale resolution and enlarge: coarser strokes, faster (1 to {MAX_BRUSH_SCALE:g})",
    ),
    Input("max_size", "int", "shrink the photo first so its long side is at most this many pixels"),
)

#: The methods a video's frames can be made with: all but the texture, which has no photo to follow.
FRAME_METHODS = ("gatys", "histogram", "mmd", "photorealistic", "cyclegan")

VIDEO = (
    Input(
        "video",
        "video",
        "the video to repaint (MP4, MOV, WebM, MKV, AVI...; its sound is kept)",
        required=True,
    ),
    Input(
        "temporal_weight",
        "float",
        "how firmly each frame holds to the previous one carried along the motion; 0 styles every frame on "
        "its own (it flickers)",
    ),
    Input(
        "frame_steps",
        "int",
        "most steps of each frame after the first, which starts from the one before it (0 or empty: a third of "
        "steps)",
    ),
    Input("max_frames", "int", "repaint only this many frames from the start (0 or empty: all)"),
    Input("flow", "choice", "optical flow: dis (OpenCV's DIS, the default) or farneback"),
)
