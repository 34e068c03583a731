"""``python -m nst cyclegan CONTENT --painter monet -o OUT.png``: one-pass painting with a CycleGAN generator.

``python -m nst cyclegan --list`` shows the catalogue: each painter's source, licence, and
whether its weights are already in the local Hugging Face cache.
"""

from __future__ import annotations

import argparse

from ..errors import SettingsError
from ..inputs import DEFAULT_PAINTER, DEFAULT_TILE_SIZE, PAINT

HELP = {i.name: i.help for i in PAINT}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "cyclegan",
        help="repaint a photo with a pretrained CycleGAN generator (Monet, Van Gogh, ...) in one pass",
        description="Translate a photo with a pretrained CycleGAN generator (Zhu et al., ICCV 2017). "
        "Weights come from the Hugging Face Hub cache (downloaded on first use unless HF_HUB_OFFLINE=1) "
        "or from a local file (--weights).",
    )
    p.add_argument(
        "content", metavar="CONTENT", nargs="?", help=f"{HELP['content']} (any image file PIL reads)"
    )
    p.add_argument("-o", "--output", metavar="OUT", help="where to write the result (.png, .jpg, .webp)")
    p.add_argument("--list", action="store_true", help="list the catalogue of painters and exit")
    p.add_argument(
        "--painter",
        default=DEFAULT_PAINTER,
        help=f"the painter whose style to use (--list shows them) [{DEFAULT_PAINTER}]",
    )
    p.add_argument(
        "--weights",
        metavar="FILE",
        default=None,
        help="local generator file (.pth or .safetensors) to use instead of the painter's download",
    )
    p.add_argument("--strength", default=1.0, help=f"{HELP['strength']} [1]")
    p.add_argument("--brush-scale", default=1.0, help=f"{HELP['brush_scale']} [1]")
    p.add_argument(
        "--max-size", default=None, metavar="PX", help=f"{HELP['max_size']} (default: keep its size)"
    )
    p.add_argument(
        "--tile-size",
        type=int,
        default=DEFAULT_TILE_SIZE,
        metavar="PX",
        help=f"paint larger images in overlapping tiles of PX to bound memory [{DEFAULT_TILE_SIZE}]",
    )
    p.add_argument("--device", default=None, help="auto (default: CUDA if available), cpu, cuda, cuda:N")
    p.add_argument(
        "--precision",
        default="auto",
        help="auto (float16 on CUDA; bfloat16 on CPUs with native support, else float32), float32, "
        "bfloat16, float16 (GPU only) [auto]",
    )
    p.add_argument("--quiet", action="store_true", help="print nothing on success")
    p.set_defaults(func=run)


def list_painters() -> str:
    """The catalogue as text: one block per painter, with whether it can run here."""
    from .. import catalogue, readiness

    state = {m.name: m.state for m in readiness.painters()}
    words = {"ready": "cached", "download": "download on first use", "missing": "missing"}
    lines = []
    for e in catalogue.entries():
        where = "local file" if e.local_file else words.get(state.get(e.name, ""), "no source")
        lines.append(f"{e.name:<13} {e.display_name} [{where}]")
        lines.append(f"{'':13} {e.description}")
        if e.local_file:
            lines.append(f"{'':13} {e.local_file}")
        elif e.available:
            lines.append(f"{'':13} {e.repo_type} {e.repo_id} : {e.filename} @ {e.revision or 'main'}")
        lines.append(f"{'':13} licence: {e.licence}")
        lines.append(f"{'':13} source: {e.source}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    if args.list:
        print(list_painters())
        return 0
    if not args.content:
        raise SettingsError("give a CONTENT image to repaint (or --list to see the painters)")
    if not args.output:
        raise SettingsError("give -o OUT.png: where to write the result")
    from ..requests import PaintRequest
    from ._common import run_and_save

    request = PaintRequest(
        args.content,
        args.painter,
        args.strength,
        args.brush_scale,
        args.max_size,
        weights=args.weights,
        tile_size=args.tile_size,
        precision=args.precision,
        device=args.device,
    )
    made_with = f" with weights {args.weights}" if args.weights else f" with painter {args.painter}"
    return run_and_save(args, request, [args.content, args.weights], made_with)
