"""``python -m nst cyclegan CONTENT --painter monet -o OUT.png``: one-pass painting with a CycleGAN generator.

``python -m nst cyclegan --list`` shows the catalogue: each painter's source, licence, and
whether its weights are already in the local Hugging Face cache.
"""

from __future__ import annotations

import argparse
import time

from .. import cyclegan
from ..catalogue import Painter
from ..errors import SettingsError
from ..images import check_save_path, save_image


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "cyclegan",
        help="repaint a photo with a pretrained CycleGAN generator (Monet, Van Gogh, ...) in one pass",
        description="Translate a photo with a pretrained CycleGAN generator (Zhu et al., ICCV 2017). "
        "Weights come from the Hugging Face Hub cache (downloaded on first use unless HF_HUB_OFFLINE=1) "
        "or from a local file (--weights).",
    )
    p.add_argument(
        "content", metavar="CONTENT", nargs="?", help="photo to repaint (any image file PIL reads)"
    )
    p.add_argument("-o", "--output", metavar="OUT", help="where to write the result (.png, .jpg, .webp)")
    p.add_argument("--list", action="store_true", help="list the catalogue of painters and exit")
    p.add_argument(
        "--painter", default=cyclegan.DEFAULT_PAINTER, help=f"catalogue painter [{cyclegan.DEFAULT_PAINTER}]"
    )
    p.add_argument(
        "--weights",
        metavar="FILE",
        default=None,
        help="local generator file (.pth or .safetensors) to use instead of the painter's download",
    )
    p.add_argument(
        "--strength",
        type=float,
        default=1.0,
        help="0 = the photo unchanged, 1 = the generator's painting, between = a blend [1]",
    )
    p.add_argument(
        "--brush-scale",
        type=float,
        default=1.0,
        help=f"paint at 1/SCALE resolution and enlarge: coarser strokes, faster (1 to "
        f"{cyclegan.MAX_BRUSH_SCALE:g}) [1]",
    )
    p.add_argument(
        "--max-size",
        type=int,
        default=None,
        metavar="PX",
        help="first shrink the photo so its longer side is at most PX (default: keep its size)",
    )
    p.add_argument(
        "--tile-size",
        type=int,
        default=cyclegan.DEFAULT_TILE_SIZE,
        metavar="PX",
        help=f"paint larger images in overlapping tiles of PX to bound memory [{cyclegan.DEFAULT_TILE_SIZE}]",
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


def _cache_state(entry: Painter) -> str:
    if entry.local_file:
        return "local file"
    if not entry.available:
        return "no source"
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(
        entry.repo_id, entry.filename, revision=entry.revision, repo_type=entry.repo_type
    )
    return "cached" if isinstance(found, str) else "download on first use"


def list_painters() -> str:
    """The catalogue as text: one block per painter."""
    lines = []
    for e in cyclegan.painters():
        lines.append(f"{e.name:<13} {e.display_name} [{_cache_state(e)}]")
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
    check_save_path(args.output, [args.content, args.weights])
    start = time.perf_counter()
    image = cyclegan.paint(
        args.content,
        painter=args.painter,
        strength=args.strength,
        brush_scale=args.brush_scale,
        device=args.device,
        weights=args.weights,
        tile_size=args.tile_size,
        precision=args.precision,
        max_size=args.max_size,
    )
    seconds = time.perf_counter() - start
    path = save_image(image, args.output)
    if not args.quiet:
        what = f"weights {args.weights}" if args.weights else f"painter {args.painter}"
        print(f"wrote {path} ({image.width}x{image.height}) with {what} in {seconds:.1f} s")
    return 0
