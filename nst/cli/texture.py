"""``python -m nst texture STYLE -o OUT.png --width W --height H``: texture synthesis from a style image."""

from __future__ import annotations

import argparse

from ..inputs import TEXTURE
from ._common import add_run_arguments, add_settings_arguments, run_and_save, settings_with_blend
from ._styles import collect_styles

#: Settings that need a content image, and size (the canvas's long side: --width and --height set it).
SKIPPED = (
    "size",
    "content_weight",
    "content_layers",
    "photo_weight",
    "preserve_color",
    "keep_faces",
    "face_strength",
)
HELP = {i.name: i.help for i in TEXTURE}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "texture",
        help="synthesize a texture with a style image's statistics, any size",
        description="Optimize a noise image until its VGG style statistics match STYLE (Gatys, Ecker, "
        "Bethge 2015): no content, any width and height, with the gram, mmd-*, bn or histogram "
        "losses. Several styles (PATH:WEIGHT) are blended.",
    )
    p.add_argument("style", metavar="STYLE", nargs="+", help="style image(s), optionally PATH:WEIGHT")
    p.add_argument("--width", default=384, metavar="PX", help=f"{HELP['width']} [384]")
    p.add_argument("--height", default=384, metavar="PX", help=f"{HELP['height']} [384]")
    add_run_arguments(p, "texture")
    add_settings_arguments(p, skip=SKIPPED)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..requests import TextureRequest

    styles, weights = collect_styles(args.style)
    request = TextureRequest(
        styles[0],
        args.width,
        args.height,
        settings_with_blend(args, weights, "STYLE:WEIGHT"),
        extra_styles=styles[1:],
        device=args.device,
        vgg_weights=args.vgg_weights,
    )
    return run_and_save(args, request, styles)
