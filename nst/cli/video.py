"""``python -m nst video IN.mp4 STYLE -o OUT.mp4``: a video repainted without flicker (Ruder et al.)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ..inputs import FRAME_METHODS, PAINT, STYLIZE, VIDEO
from ..settings import default_backbone
from ._common import INTERRUPTED, add_settings_arguments, flag, run_with_bar
from ._styles import collect_styles

HELP = {i.name: i.help for i in (*STYLIZE, *PAINT, *VIDEO)}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "video",
        help="repaint a video in a painting's style, frame by frame without flicker",
        description="Repaint every frame of VIDEO: the first like a picture, each next one from the previous "
        "result carried along the optical flow, held there by a temporal loss (Ruder, Dosovitskiy, Brox "
        "2016). Writes an MP4 (H.264) with the frame rate and sound of VIDEO. Ctrl+C stops after the current "
        "step and writes the frames done so far.",
    )
    p.add_argument("video", metavar="VIDEO", help=HELP["video"])
    p.add_argument(
        "style_positional", metavar="STYLE", nargs="?", default=None, help=f"{HELP['style']} (or --style)"
    )
    p.add_argument(
        "--style", action="append", default=[], metavar="PATH[:WEIGHT]", help="a style image; repeat to blend"
    )
    p.add_argument("--mask", action="append", default=[], metavar="FILE", help=f"{HELP['masks']}, in order")
    p.add_argument("-o", "--output", required=True, metavar="OUT.mp4", help="where to write the video (.mp4)")
    p.add_argument(
        "--method",
        default="gatys",
        choices=FRAME_METHODS,
        help="how each frame is made: an optimization method's defaults, or a CycleGAN painter [gatys]",
    )
    for name in ("temporal_weight", "frame_steps", "max_frames", "flow"):
        p.add_argument(flag(name), default=None, help=HELP[name])
    p.add_argument("--painter", default=None, help=f"with --method cyclegan: {HELP['painter']}")
    p.add_argument("--strength", default=None, help=f"with --method cyclegan: {HELP['strength']}")
    p.add_argument("--device", default=None, help="auto (default: CUDA if available), cpu, cuda, cuda:N")
    p.add_argument(
        "--vgg-weights", default=None, metavar="FILE", help="VGG weights file (.pth or .safetensors)"
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_settings_arguments(p)
    p.set_defaults(func=run)


def _frame_request(args: argparse.Namespace) -> Any:
    """What each frame is, by --method: its settings from the flags given (the method's own defaults for
    the rest), or a painter."""
    from ..errors import SettingsError
    from ..inputs import DEFAULT_PAINTER
    from ..methods import get_method
    from ..requests import PaintRequest, StylizeRequest

    method = get_method(args.method)
    specs = ([args.style_positional] if args.style_positional else []) + list(args.style)
    if method.name == "cyclegan":
        if specs or args.mask:
            raise SettingsError("style: a CycleGAN painter takes no style image; leave STYLE out")
        strength = 1.0 if args.strength is None else args.strength
        return PaintRequest(None, args.painter or DEFAULT_PAINTER, strength, device=args.device)
    if args.painter is not None or args.strength is not None:
        raise SettingsError("painter, strength: these go with --method cyclegan")
    styles, weights = collect_styles(specs)
    changed = {
        k.split("_", 1)[1]: v
        for k, v in vars(args).items()
        if k.startswith(("setting_", "dial_")) and v is not None
    }
    if weights is not None:
        changed["style_blend"] = weights
    settings = method.settings({"backbone": default_backbone(), **changed})
    return StylizeRequest(
        None,
        styles[0],
        settings,
        extra_styles=styles[1:],
        masks=args.mask,
        device=args.device,
        vgg_weights=args.vgg_weights,
    )


def run(args: argparse.Namespace) -> int:
    from ..video import VideoRequest

    options = {name: getattr(args, name) for name in ("temporal_weight", "frame_steps", "max_frames", "flow")}
    request = VideoRequest(
        args.video,
        _frame_request(args),
        args.output,
        **{k: v for k, v in options.items() if v is not None},
    ).prepare()
    result = run_with_bar(request, args.quiet, "frame")
    if result is None:
        return INTERRUPTED
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    if result.stopped:
        print(f"stopped: wrote the {result.frames} frames done to {result.video}", file=sys.stderr)
    if not args.quiet:
        print(
            f"wrote {result.video} ({result.frames} frames, {result.image.width}x{result.image.height}, "
            f"{float(result.fps):.3g} fps) in {result.seconds:.1f} s on {result.device}"
        )
    return INTERRUPTED if result.stopped else 0
