"""Seconds per step of every engine option (style losses, histogram, photorealism, colour,
blends, masks, texture) with the real VGG16 weights from ../shared, one process, one network.

    python benchmarks/bench_options.py [--size 384] [--steps 15] [--only gram,mmd-gauss,...]

Each option runs ``--steps`` L-BFGS steps on tubingen.jpg / starry_night.jpg (photo options on
golden_gate.jpg / hoovertowernight.jpg); the first step (targets, Laplacian) is reported apart
from the mean of the others, since it includes the one-off setup.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import nst  # noqa: E402

SHARED = ROOT.parent / "shared"
WEIGHTS = SHARED / "weights" / "vgg16-imagenet-features.safetensors"
IMAGES = SHARED / "images"
TUBINGEN, STARRY, SCREAM = (
    IMAGES / "content" / "tubingen.jpg",
    IMAGES / "styles" / "starry_night.jpg",
    IMAGES / "styles" / "the_scream.jpg",
)
GOLDEN, HOOVER = IMAGES / "content" / "golden_gate.jpg", IMAGES / "content" / "hoovertowernight.jpg"


def halves(size: tuple[int, int]) -> list[Image.Image]:
    left = Image.new("L", size, 0)
    left.paste(255, (0, 0, size[0] // 2, size[1]))
    return [left, Image.eval(left, lambda v: 255 - v)]


def _stylize(content, style, **kw):
    return lambda s, cb: nst.stylize(content, style, s, callback=cb, vgg_weights=str(WEIGHTS), **kw)


OPTIONS = {
    "gram": _stylize(TUBINGEN, STARRY),
    "mmd-linear": _stylize(TUBINGEN, STARRY, style_loss="mmd-linear"),
    "mmd-poly": _stylize(TUBINGEN, STARRY, style_loss="mmd-poly"),
    "mmd-gauss": _stylize(TUBINGEN, STARRY, style_loss="mmd-gauss"),
    "bn": _stylize(TUBINGEN, STARRY, style_loss="bn"),
    "hist": _stylize(TUBINGEN, STARRY, hist_weight=10),
    "photo-plain": _stylize(GOLDEN, HOOVER),
    "photo": _stylize(GOLDEN, HOOVER, photo_weight=1e4),
    "luminance": _stylize(TUBINGEN, STARRY, preserve_color="luminance"),
    "color-histogram": _stylize(TUBINGEN, STARRY, preserve_color="histogram"),
    "blend": _stylize(TUBINGEN, [STARRY, SCREAM], style_blend=(0.7, 0.3)),
    "masks": _stylize(TUBINGEN, [STARRY, SCREAM], masks=halves(Image.open(TUBINGEN).size)),
    "texture": lambda s, cb: nst.synthesize_texture(
        STARRY, s, width=s.size, height=s.size // 2, callback=cb, vgg_weights=str(WEIGHTS)
    ),
}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=384)
    ap.add_argument("--steps", type=int, default=15)
    ap.add_argument("--only", default=",".join(OPTIONS))
    args = ap.parse_args()
    settings = nst.Settings(backbone="vgg16", size=args.size, steps=args.steps)
    nst.stylize(
        TUBINGEN, STARRY, settings.replace(size=64, steps=2), vgg_weights=str(WEIGHTS)
    )  # load + warm up
    print(
        f"| option | first step incl. setup (s) | later steps (s/step) | "
        f"{args.size} px, {args.steps} steps, torch {torch.__version__}, {torch.get_num_threads()} threads |"
    )
    print("|---|---|---|---|")
    for name in args.only.split(","):
        stamps: list[float] = []
        start = time.perf_counter()
        OPTIONS[name](settings, lambda info, seen=stamps: seen.append(time.perf_counter()))
        first = stamps[0] - start
        later = (stamps[-1] - stamps[0]) / max(1, len(stamps) - 1)
        print(f"| {name} | {first:.1f} | {later:.2f} | |", flush=True)


if __name__ == "__main__":
    main()
