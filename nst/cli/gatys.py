"""``python -m nst gatys CONTENT STYLE -o OUT.png``: optimization-based style transfer."""

from __future__ import annotations

import argparse

from ..engine import stylize
from ..images import check_save_path
from ._common import add_run_arguments, add_settings_arguments, run_and_save, settings_with_blend
from ._styles import collect_styles


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "gatys",
        help="repaint a photo in a painting's style by optimization (Gatys et al.)",
        description="Optimize the pixels of OUT so its VGG features match CONTENT and its style "
        "statistics match STYLE (Gatys, Ecker, Bethge 2016), with the extensions chosen "
        "by the settings: other style losses, histogram loss, photorealism, colour "
        "preservation, several styles blended or placed by masks.",
    )
    p.add_argument("content", metavar="CONTENT", help="photo to repaint (any image file PIL reads)")
    p.add_argument(
        "style_positional",
        metavar="STYLE",
        nargs="?",
        default=None,
        help="painting whose style to use (or give styles with --style)",
    )
    p.add_argument(
        "--style",
        action="append",
        default=[],
        metavar="PATH[:WEIGHT]",
        help="a style image, optionally with its blend weight; repeat for several styles "
        "(--style a.jpg:0.7 --style b.jpg:0.3)",
    )
    p.add_argument(
        "--mask",
        action="append",
        default=[],
        metavar="FILE",
        help="spatial control: one gray mask per style, in order, on the content (white: that style applies)",
    )
    p.add_argument(
        "--content-segmentation",
        default=None,
        metavar="FILE",
        help="colour-coded regions of the content, for the augmented style loss of Deep Photo Style Transfer",
    )
    p.add_argument(
        "--style-segmentation",
        default=None,
        metavar="FILE",
        help="colour-coded regions of the style image, same colours as --content-segmentation",
    )
    add_run_arguments(p, "result")
    add_settings_arguments(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    specs = ([args.style_positional] if args.style_positional else []) + list(args.style)
    styles, weights = collect_styles(specs)
    settings = settings_with_blend(args, weights, "--style PATH:WEIGHT")
    check_save_path(
        args.output, [args.content, *styles, *args.mask, args.content_segmentation, args.style_segmentation]
    )
    return run_and_save(
        args,
        settings.steps,
        lambda bar: stylize(
            args.content,
            styles if len(styles) > 1 else styles[0],
            settings,
            masks=args.mask or None,
            content_segmentation=args.content_segmentation,
            style_segmentation=args.style_segmentation,
            callback=bar,
            device=args.device,
            vgg_weights=args.vgg_weights,
        ),
    )
