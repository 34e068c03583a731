"""A contact sheet of every example style on the example photos, at the page's CPU defaults, with the
real VGG16 in ../shared: to check by eye that each example leaves the photo recognisable.

    python benchmarks/examples_sheet.py [--photos coffee chelsea]

Writes benchmarks/results/examples-sheet.png (rows: photos; columns: the photo, then each style's
result with the style's thumbnail above it).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

import nst  # noqa: E402
from nst.methods import METHODS  # noqa: E402
from nst.ui.server import ServerConfig  # noqa: E402
from support.shared import VGG16  # noqa: E402

EXAMPLES = ROOT / "examples"
CELL = 256


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--photos", nargs="*", default=["coffee", "chelsea"])
    args = ap.parse_args()
    defaults = ServerConfig.from_env({"NST_DEVICE": "cpu"}).defaults
    settings = METHODS["gatys"].settings(
        {"backbone": "vgg16", "size": defaults.size, "steps": defaults.steps, "scales": defaults.scales}
    )
    styles = sorted((EXAMPLES / "styles").glob("*.jpg"))
    sheet = Image.new("RGB", (CELL * (len(styles) + 1), 80 + CELL * len(args.photos)), "white")
    draw = ImageDraw.Draw(sheet)
    for col, style in enumerate(styles, start=1):
        thumb = Image.open(style).convert("RGB")
        thumb.thumbnail((76, 76))
        sheet.paste(thumb, (col * CELL + 2, 2))
        draw.text((col * CELL + 84, 30), style.stem, fill="black")
    start = time.perf_counter()
    for row, name in enumerate(args.photos):
        photo = EXAMPLES / "content" / f"{name}.jpg"
        top = 80 + row * CELL
        shown = Image.open(photo).convert("RGB")
        shown.thumbnail((CELL, CELL))
        sheet.paste(shown, (0, top))
        for col, style in enumerate(styles, start=1):
            result = nst.stylize(photo, style, settings, vgg_weights=str(VGG16), device="cpu")
            image = result.image.copy()
            image.thumbnail((CELL, CELL))
            sheet.paste(image, (col * CELL, top))
            print(f"{name} x {style.stem}: {time.perf_counter() - start:.0f} s", flush=True)
    out = ROOT / "benchmarks" / "results" / "examples-sheet.png"
    sheet.save(out)
    print(f"wrote {out}: {settings.size} px, {settings.steps} steps, {settings.scales} scales, VGG16")


if __name__ == "__main__":
    main()
