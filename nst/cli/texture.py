"""``python -m nst texture STYLE -o OUT.png --size WxH``: texture synthesis from a style image."""

from __future__ import annotations

import argparse

from ..images import check_save_path
from ..texture import synthesize_texture
from ._common import add_run_arguments, add_settings_arguments, run_and_save, settings_with_blend
from ._styles import collect_styles, parse_canvas

#: Settings that need a content image, and size (replaced by --size WxH): no flags for them here.
SKIPPED = ("size", "content_weight", "content_layers", "photo_weight", "preserve_color")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "texture",
        help="synthesize a texture with a style image's statistics, any size",
        description="Optimize a noise image until its VGG style statistics match STYLE (Gatys, Ecker, "
        "Bethge 2015): no content, any output size, with the gram, mmd-*, bn or histogram "
        "losses. Several styles (PATH:WEIGHT) are blended.",
    )
    p.add_argument("style", metavar="STYLE", nargs="+", help="style image(s), optionally PATH:WEIGHT")
    p.add_argument(
        "--size",
        default="384x384",
        metavar="WxH",
        help="output width x height in pixels, or one number for a square [384x384]",
    )
    add_run_arguments(p, "texture")
    add_settings_arguments(p, skip=SKIPPED)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    width, height = parse_canvas(args.size)
    styles, weights = collect_styles(args.style)
    settings = settings_with_blend(args, weights, "STYLE:WEIGHT")
    check_save_path(args.output, styles)
    return run_and_save(
        args,
        settings.steps,
        lambda bar: synthesize_texture(
            styles if len(styles) > 1 else styles[0],
            settings,
            width=width,
            height=height,
            callback=bar,
            device=args.device,
            vgg_weights=args.vgg_weights,
        ),
    )
