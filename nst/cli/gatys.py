"""``python -m nst gatys CONTENT STYLE -o OUT.png``: optimization-based style transfer."""

from __future__ import annotations

import argparse

from ..engine import stylize
from ..images import check_save_path, save_image
from ._common import ProgressBar, add_settings_arguments, settings_from_args


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("gatys", help="repaint a photo in a painting's style by optimization (Gatys et al.)",
                       description="Optimize the pixels of OUT so its VGG features match CONTENT and its Gram "
                                   "statistics match STYLE (Gatys, Ecker, Bethge 2016).")
    p.add_argument("content", metavar="CONTENT", help="photo to repaint (any image file PIL reads)")
    p.add_argument("style", metavar="STYLE", help="painting whose style to use")
    p.add_argument("-o", "--output", required=True, metavar="OUT", help="where to write the result (.png, .jpg, .webp)")
    p.add_argument("--device", default=None, help="auto (default: CUDA if available), cpu, cuda, cuda:N")
    p.add_argument("--vgg-weights", default=None, metavar="FILE",
                   help="VGG weights file (.pth or .safetensors); default: $NST_VGG19_WEIGHTS / $NST_VGG16_WEIGHTS, "
                        "then torchvision's cache")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_settings_arguments(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    settings = settings_from_args(args)
    check_save_path(args.output)
    bar = ProgressBar(settings.steps, quiet=args.quiet)
    try:
        result = stylize(args.content, args.style, settings, callback=bar, device=args.device,
                         vgg_weights=args.vgg_weights)
    finally:
        bar.close()
    path = save_image(result.image, args.output)
    if not args.quiet:
        last = result.losses[-1] if result.losses else {}
        print(f"wrote {path} ({result.image.width}x{result.image.height}) in {result.seconds:.1f} s on {result.device}; "
              + ", ".join(f"{k} {v:.4g}" for k, v in last.items()))
    return 0
