"""Poster-size pictures: whole against tiled optimization on this machine, the same picture both ways, and seams.

Three parts (each its own flag; all by default, except the poster):

* ``--steps-at``: peak memory and time per step, whole against tiled, at 512, 1024, 2048 and 4096 px
  (Tübingen as Starry Night, 4:3, real VGG16, one scale, default precision), each run in its own
  process; the peak is VmHWM above the level once the network is loaded. Whole runs get a budget large
  enough to stay whole (NST_MEMORY_GB=22) and are skipped where ``nst.memory`` says they cannot fit;
  tiled runs use ``tile_size`` below 2048 px and the default budget (tiles chosen by memory) from 2048.
* ``--compare``: at 1024 px, the same settings and seed whole and in 512 px tiles; the judge's style and
  content distances (``benchmarks/judge.py``) of both pictures, which must be within 10 %.
* ``--poster``: a 4096 px picture made coarse to fine (512 -> 4096 px) within the default budget, its
  peak memory and time, full-size crops around tile corners saved next to the results, and the seam check:
  the gradient energy of the picture along the tile borders against everywhere else (1.0: no ridge), with
  a control where one tile's colours are shifted by 2 % to show what a seam scores.

    python benchmarks/bench_tiles.py [--steps-at] [--compare] [--poster] [--quick]

``--quick`` runs the first two parts at 256/384 px with 2 steps (a smoke test). Results:
benchmarks/results/tiles-cpu.md (machine named) and, for the poster, benchmarks/results/poster-*.png.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from judge import SHARED, VGG16, Judge  # noqa: E402
from measure import machine  # noqa: E402

CONTENT = SHARED / "images" / "content" / "tubingen.jpg"
STYLE = SHARED / "images" / "styles" / "starry_night.jpg"
RESULTS = ROOT / "benchmarks" / "results"

CHILD = r"""
import json, sys, time
sys.path.insert(0, {root!r})
sys.path.insert(0, {root!r} + "/benchmarks")
from measure import own_memory as rss
import nst
from nst.weights import load_vgg

config = json.loads(sys.argv[1])
load_vgg("vgg16", "avg", config["weights"])  # loaded (and cached) before the baseline
base = rss("VmRSS")
stamps = []
start = time.perf_counter()
result = nst.stylize(config["content"], config["style"], vgg_weights=config["weights"],
                     callback=lambda info: stamps.append(time.perf_counter()) and None, **config["settings"])
seconds = time.perf_counter() - start
if config.get("out"):
    result.image.save(config["out"])
steps = [b - a for a, b in zip(stamps, stamps[1:])]
print(json.dumps({{"peak": rss("VmHWM") - base, "seconds": seconds, "first": stamps[0] - start,
                  "per_step": sorted(steps)[len(steps) // 2] if steps else None, "notes": result.notes,
                  "final": result.losses[-1]}}))
"""


def child(settings: dict, memory_gb: float | None = None, out: Path | None = None) -> dict:
    """One stylize run in a fresh process: its peak memory, times, notes and last losses."""
    config = {
        "content": str(CONTENT),
        "style": str(STYLE),
        "weights": str(VGG16),
        "settings": {"backbone": "vgg16", **settings},
        "out": str(out) if out else None,
    }
    env = {**os.environ, "MALLOC_ARENA_MAX": "2", "NST_OFFLINE": "1"}
    if memory_gb:
        env["NST_MEMORY_GB"] = str(memory_gb)
    else:
        env.pop("NST_MEMORY_GB", None)
    done = subprocess.run(
        [sys.executable, "-c", CHILD.format(root=str(ROOT)), json.dumps(config)],
        capture_output=True,
        text=True,
        env=env,
    )
    if done.returncode:
        return {
            "error": done.stderr.strip().splitlines()[-1]
            if done.stderr.strip()
            else f"exit {done.returncode}"
        }
    found = json.loads(done.stdout.strip().splitlines()[-1])
    print(settings, memory_gb, {k: v for k, v in found.items() if k != "final"}, flush=True)
    return found


def whole_fits(size: int) -> bool:
    import torch

    from nst import memory
    from nst.geometry import Canvas
    from nst.settings import Settings
    from nst.tiles import halo

    settings = Settings(size=size, backbone="vgg16")
    os.environ["NST_MEMORY_GB"] = "22"
    try:
        plan = memory.plan_scale(
            Canvas(1024, 768).fit(size), settings, torch.device("cpu"), halo("vgg16", settings.taps())
        )
    finally:
        del os.environ["NST_MEMORY_GB"]
    return plan.tile is None


def steps_at(sizes: list[int], steps: int) -> list[str]:
    lines = [
        "| px | how | tiles | peak MB | s / step | first step s (with warm-up) |",
        "|---|---|---|---|---|---|",
    ]
    for size in sizes:
        base = {"size": size, "steps": steps, "scales": 1, "init": "content", "seed": 0}
        if whole_fits(size):
            r = child(base, memory_gb=22)
            lines.append(_row(size, "whole", r))
        else:
            lines.append(
                f"| {size} | whole | — | does not fit in 22 GB with a useful L-BFGS history | — | — |"
            )
        tiled = {**base, "tile_size": size // 2} if size < 2048 else base
        lines.append(
            _row(
                size,
                "tiled" + (f" (tile_size {size // 2})" if size < 2048 else ", default budget"),
                child(tiled),
            )
        )
    return lines


def _row(size: int, how: str, r: dict) -> str:
    if "error" in r:
        return f"| {size} | {how} | — | {r['error']} | — | — |"
    tiles = next((n.split(" in ")[1].split(" tiles")[0] for n in r["notes"] if "tiles" in n), "1 (whole)")
    per = f"{r['per_step']:.2f}" if r["per_step"] else "—"
    return f"| {size} | {how} | {tiles} | {r['peak'] / 1e6:.0f} | {per} | {r['first']:.1f} |"


def compare(size: int, steps: int) -> list[str]:
    from PIL import Image

    judge = Judge()
    content, style = Image.open(CONTENT), Image.open(STYLE)
    base = {"size": size, "steps": steps, "scales": 2, "seed": 0}
    rows, found = [], {}
    for how, settings in (("whole", base), ("tiled", {**base, "tile_size": size // 2})):
        out = Path(f"/tmp/nst-compare-{how}-{size}.png")
        r = child(settings, memory_gb=22 if how == "whole" else None, out=out)
        found[how] = judge.distances(Image.open(out), content, style)
        rows.append(
            f"| {how} | {found[how][0]:.4f} | {found[how][1]:.4f} | {r['final']['total']:.4f} | {r['seconds']:.0f} |"
        )
    diff = [abs(found["tiled"][k] - found["whole"][k]) / found["whole"][k] for k in (0, 1)]
    pictures = [
        np.asarray(Image.open(f"/tmp/nst-compare-{how}-{size}.png"), float) for how in ("whole", "tiled")
    ]
    mean_abs = float(np.abs(pictures[0] - pictures[1]).mean())
    return [
        f"{size} px, {steps} steps over 2 scales, seed 0, tiles of {size // 2} px at the last scale:",
        "",
        "| run | style distance | content distance | final loss | s |",
        "|---|---|---|---|---|",
        *rows,
        "",
        f"Tiled against whole: style distance {100 * diff[0]:+.1f} %, content distance {100 * diff[1]:+.1f} % "
        f"(target: within 10 %); mean absolute pixel difference {mean_abs:.2f} of 255.",
    ]


def seam_ratio(image: np.ndarray, borders_y: list[int], borders_x: list[int], near: int = 8) -> float:
    """How much stronger the picture's gradient is across tile borders than across the lines near them.

    For each border, the mean absolute step between the two pixel rows (or columns) that meet there,
    over the mean step between neighbouring lines within ``near`` px on either side; the larger of the
    rows' and the columns' means over all borders. 1.0: no ridge; a seam shows as well above 1.
    """
    gray = image.astype(np.float64).mean(-1)
    found = []
    for axis, borders in ((0, borders_y), (1, borders_x)):
        steps = np.abs(np.diff(gray, axis=axis)).mean(axis=1 - axis)  # step between line i and i+1, at i
        ratios = []
        for b in borders:
            around = [i for i in range(b - 1 - near, b + near) if i != b - 1 and 0 <= i < steps.size]
            ratios.append(steps[b - 1] / steps[around].mean())
        if ratios:
            found.append(float(np.mean(ratios)))
    return max(found)


def seam_report(image: np.ndarray, ys: list[int], xs: list[int], core: tuple[int, int, int, int]) -> str:
    """The seam ratio on the tile borders, against the same statistic on ordinary lines (the borders
    moved by 24 to 392 px), and on a planted seam: one tile's colours times 1.05."""
    ratio = seam_ratio(image, ys, xs)
    height, width = image.shape[:2]
    ordinary = np.array(
        [
            seam_ratio(
                image, [y + d for y in ys if y + d < height - 16], [x + d for x in xs if x + d < width - 16]
            )
            for d in range(24, 400, 16)
        ]
    )
    top, left, bottom, right = core
    planted = image.astype(np.float64).copy()
    planted[top:bottom, left:right] *= 1.05
    control = seam_ratio(np.clip(planted, 0, 255), [top, bottom], [left, right])
    return (
        f"Seams: gradient energy across the {len(ys)} horizontal and {len(xs)} vertical tile borders over the "
        f"lines beside them: {ratio:.3f}; the same statistic on ordinary lines (the borders moved by 24 to "
        f"392 px): mean {ordinary.mean():.3f}, max {ordinary.max():.3f}, {100 * (ordinary >= ratio).mean():.0f} % "
        f"of them at or above the borders'. A planted seam (one tile's colours times 1.05): {control:.3f}."
    )


def poster(size: int, steps: int, scales: int) -> list[str]:
    from PIL import Image

    from nst.geometry import Canvas
    from nst.settings import Settings
    from nst.tiles import halo, plan_tiles

    out = Path(f"/tmp/nst-poster-{size}.png")
    settings = {"size": size, "steps": steps, "scales": scales, "seed": 0}
    start = time.perf_counter()
    r = child(settings, out=out)
    if "error" in r:
        return [f"Poster at {size} px failed: {r['error']}"]
    image = np.asarray(Image.open(out).convert("RGB"))
    height, width = image.shape[:2]
    tiled = [n for n in r["notes"] if "tiles" in n and f"{width}x{height}" in n]
    core = int(tiled[0].split("up to ")[1].split(" px")[0]) if tiled else None
    lines = [
        f"{width}x{height} px, {steps} steps over {scales} scales (coarse to fine from "
        f"{Canvas(1024, 768).fit(size // 2 ** (scales - 1)).width} px), default budget: {r['seconds'] / 60:.1f} min, "
        f"peak {r['peak'] / 1e9:.2f} GB above the loaded network. Notes: {'; '.join(r['notes'])}.",
    ]
    if core:
        tiles = plan_tiles(Canvas(width, height), core, halo("vgg16", Settings(backbone="vgg16").taps()))
        ys = sorted({t.core[0] for t in tiles} - {0})
        xs = sorted({t.core[1] for t in tiles} - {0})
        lines.append(seam_report(image, ys, xs, tiles[len(tiles) // 2].core))
        y, x = ys[len(ys) // 2], xs[len(xs) // 2]
        crop = Image.fromarray(image[y - 256 : y + 256, x - 256 : x + 256])
        crop.save(RESULTS / f"poster-{size}-tile-corner.png")
        lines.append(
            f"Full-size 512 px crop centred on the tile corner at ({x}, {y}): "
            f"`benchmarks/results/poster-{size}-tile-corner.png`; the whole picture, downscaled: "
            f"`benchmarks/results/poster-{size}-small.jpg`."
        )
    Image.open(out).resize((1024, round(1024 * height / width)), Image.Resampling.LANCZOS).save(
        RESULTS / f"poster-{size}-small.jpg"
    )
    print(f"poster done in {time.perf_counter() - start:.0f} s", flush=True)
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps-at", action="store_true")
    ap.add_argument("--compare", action="store_true")
    ap.add_argument("--poster", action="store_true")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--poster-size", type=int, default=4096)
    ap.add_argument("--poster-steps", type=int, default=120)
    args = ap.parse_args()
    parts = [p for p in ("steps_at", "compare", "poster") if getattr(args, p)] or ["steps_at", "compare"]
    lines = [f"## Whole against tiled — {time.strftime('%Y-%m-%d %H:%M')}", "", f"Machine: {machine()}.", ""]
    if "steps_at" in parts:
        sizes = [256, 384] if args.quick else [512, 1024, 2048, 4096]
        lines += ["### Memory and time per step", "", *steps_at(sizes, 2 if args.quick else 3), ""]
    if "compare" in parts:
        lines += [
            "### The same picture",
            "",
            *compare(256 if args.quick else 1024, 10 if args.quick else 100),
            "",
        ]
    if "poster" in parts:
        lines += ["### A poster", "", *poster(args.poster_size, args.poster_steps, 4), ""]
    out = RESULTS / "tiles-cpu.md"
    with out.open("a") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
