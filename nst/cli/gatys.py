"""``python -m nst gatys CONTENT STYLE -o OUT.png``: optimization-based style transfer."""

from __future__ import annotations

import argparse

from ..inputs import STYLIZE
from ._common import add_run_arguments, add_settings_arguments, run_and_save, settings_with_blend
from ._styles import collect_styles

HELP = {i.name: i.help for i in STYLIZE}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "gatys",
        help="repaint a photo in a painting's style by optimization (Gatys et al.)",
        description="Optimize the pixels of OUT so its VGG features match CONTENT and its style "
        "statistics match STYLE (Gatys, Ecker, Bethge 2016), with the extensions chosen "
        "by the settings: other style losses, histogram loss, photorealism, colour "
        "preservation, several styles blended or placed by masks. Ctrl+C stops after the "
        "current step and saves the best picture so far.",
    )
    p.add_argument("content", metavar="CONTENT", help=f"{HELP['content']} (any image file PIL reads)")
    p.add_argument(
        "style_positional",
        metavar="STYLE",
        nargs="?",
        default=None,
        help=f"{HELP['style']} (or give styles with --style)",
    )
    p.add_argument(
        "--style",
        action="append",
        default=[],
        metavar="PATH[:WEIGHT]",
        help="a style image, optionally with its blend weight; repeat for several styles "
        "(--style a.jpg:0.7 --style b.jpg:0.3)",
    )
    p.add_argument("--mask", action="append", default=[], metavar="FILE", help=f"{HELP['masks']}, in order")
    p.add_argument(
        "--content-segmentation",
        default=None,
        metavar="FILE",
        help=f"{HELP['content_segmentation']}, for the augmented style loss of Deep Photo Style Transfer",
    )
    p.add_argument("--style-segmentation", default=None, metavar="FILE", help=HELP["style_segmentation"])
    add_run_arguments(p, "result")
    add_settings_arguments(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..requests import StylizeRequest

    specs = ([args.style_positional] if args.style_positional else []) + list(args.style)
    styles, weights = collect_styles(specs)
    request = StylizeRequest(
        args.content,
        styles[0],
        settings_with_blend(args, weights, "--style PATH:WEIGHT"),
        extra_styles=styles[1:],
        masks=args.mask,
        content_segmentation=args.content_segmentation,
        style_segmentation=args.style_segmentation,
        device=args.device,
        vgg_weights=args.vgg_weights,
    )
    inputs = [args.content, *styles, *args.mask, args.content_segmentation, args.style_segmentation]
    return run_and_save(args, request, inputs)
