"""Side by side with the published peers: the same pairs, sizes and steps, one judge.

For each content x style pair from ``../shared/images`` and each size, runs

* ``nst`` at its defaults (VGG16 from ``../shared``, one scale, ``--steps`` steps), in this process with
  the network loaded beforehand;
* ``nst`` at the page's CPU defaults (its size, steps and scales: what a person on a CPU Space gets);
* the peers at their own defaults, each in its own virtual environment (``benchmarks/peers``:
  neural-style-pt 0.5.7 and pystiche 1.0.1, the same VGG16 converted to their conventions; pystiche
  starts from noise, as its example documents, since its default start diverges with these weights),

and measures each picture with ``benchmarks/judge.py`` (style distance: Gram distance to the style
over the content's; content distance: relu4_2 distance to the content over the style's). Writes a
table to ``benchmarks/results/peers-cpu.md`` (appended, machine named) and a sheet of the pictures
per size, ``benchmarks/results/peers-sheet-<size>.jpg`` (rows: pairs; columns: the engines).

    bash benchmarks/peers/setup.sh                  # once: the peers' environments and weights
    python benchmarks/bench_peers.py [--sizes 256 512] [--steps 100] [--pairs tubingen:starry_night ...]
    python benchmarks/bench_peers.py --sizes 512 --only-peers     # fill the peers' cache, nothing else

The peers' pictures do not depend on this engine, so each one is kept (PNG and its report) under
``<peers dir>/outputs/`` and reused by later runs with the same peer, pair, size and steps; the table
marks reused times with the date they were measured. ``--rerun-peers`` ignores the cache.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from judge import BENCH_RUN, SHARED, VGG16, Judge  # noqa: E402
from measure import machine  # noqa: E402

import nst  # noqa: E402
from nst.ui.server import ServerConfig  # noqa: E402
from nst.weights import load_vgg  # noqa: E402

PEERS_DIR = Path(os.environ.get("NST_PEERS_DIR", Path.home() / ".cache" / "nst-peers"))
PEERS = {"neural-style": [], "pystiche": ["--pystiche-start", "random"]}
RESULTS = ROOT / "benchmarks" / "results"


def pairs(chosen: list[str] | None) -> list[tuple[Path, Path]]:
    images = SHARED / "images"
    if chosen:
        return [
            (images / "content" / f"{c}.jpg", images / "styles" / f"{s}.jpg")
            for c, s in (p.split(":") for p in chosen)
        ]
    return [
        (c, s)
        for c in sorted((images / "content").glob("*.jpg"))
        for s in sorted((images / "styles").glob("*.jpg"))
    ]


def run_nst(content: Path, style: Path, **settings) -> tuple[Image.Image, float]:
    start = time.perf_counter()
    result = nst.stylize(content, style, **BENCH_RUN, **settings)
    return result.image, time.perf_counter() - start


def run_peer(
    peer: str, content: Path, style: Path, size: int, steps: int, rerun: bool
) -> tuple[Image.Image, float, str]:
    """The peer's picture, its wall time and when that was measured (from the cache unless ``rerun``)."""
    work = PEERS_DIR / "outputs"
    work.mkdir(parents=True, exist_ok=True)
    stem = f"{peer}-{content.stem}-{style.stem}-{size}px-{steps}steps"
    out, report = work / f"{stem}.png", work / f"{stem}.json"
    if not rerun and out.exists() and report.exists():
        measured = time.strftime("%Y-%m-%d %H:%M", time.localtime(report.stat().st_mtime))
        return Image.open(out).convert("RGB"), json.loads(report.read_text())["wall_s"], measured
    done = subprocess.run(
        [
            str(PEERS_DIR / peer / "bin" / "python"),
            str(ROOT / "benchmarks" / "peers" / "run_peer.py"),
            "--peer",
            peer,
            "--content",
            str(content),
            "--style",
            str(style),
            "--size",
            str(size),
            "--steps",
            str(steps),
            "--out",
            str(out),
            "--json",
            str(report),
            *PEERS[peer],
        ],
        capture_output=True,
        text=True,
    )
    if done.returncode:
        raise RuntimeError(f"{peer}: {done.stderr.strip().splitlines()[-1:]}")
    return Image.open(out).convert("RGB"), json.loads(report.read_text())["wall_s"], "now"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="*", default=[256])
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument(
        "--pairs", nargs="*", default=None, help="content:style names, e.g. tubingen:starry_night"
    )
    ap.add_argument("--no-peers", action="store_true")
    ap.add_argument("--only-peers", action="store_true", help="run (or reuse) the peers only; no table")
    ap.add_argument("--rerun-peers", action="store_true", help="ignore the peers' cached pictures")
    args = ap.parse_args()
    if args.only_peers:
        for size in args.sizes:
            for content, style in pairs(args.pairs):
                for peer in PEERS:
                    _, seconds, measured = run_peer(peer, content, style, size, args.steps, args.rerun_peers)
                    print(
                        f"{size} {content.stem}/{style.stem} {peer}: {seconds:.1f} s ({measured})", flush=True
                    )
        return
    judge = Judge()
    load_vgg("vgg16", "avg", str(VGG16), "cpu")  # loaded (and cached) before any timing
    page = ServerConfig.from_env({"NST_DEVICE": "cpu"}).defaults
    engines = ["nst defaults", f"nst page ({page.steps} steps, {page.scales} scales)"]
    engines += [] if args.no_peers else list(PEERS)
    lines = [
        f"## Side by side — {time.strftime('%Y-%m-%d %H:%M')}",
        "",
        f"Machine: {machine()}. `python benchmarks/bench_peers.py`, {args.steps} steps (the page: its own), "
        "VGG16 from ../shared for every engine; seconds from the call with the network loaded.",
        "",
        "| size | pair | engine | style distance | content distance | s |",
        "|---|---|---|---|---|---|",
    ]
    for size in args.sizes:
        chosen = pairs(args.pairs)
        cell = min(size, 288)  # the sheet is for looking (and under 1 MB); the judge sees full size
        sheet = Image.new("RGB", (cell * (len(engines) + 1), 24 + cell * len(chosen)), "white")
        draw = ImageDraw.Draw(sheet)
        for col, name in enumerate(["photo"] + engines):
            draw.text((col * cell + 4, 6), name, fill="black")
        for row, (content, style) in enumerate(chosen):
            photo = Image.open(content).convert("RGB")
            shown = photo.copy()
            shown.thumbnail((cell, cell))
            sheet.paste(shown, (0, 24 + row * cell))
            for col, engine in enumerate(engines, start=1):
                measured = "now"
                if engine == "nst defaults":
                    image, seconds = run_nst(content, style, size=size, steps=args.steps, scales=1)
                elif engine.startswith("nst page"):
                    image, seconds = run_nst(content, style, size=size, steps=page.steps, scales=page.scales)
                else:
                    image, seconds, measured = run_peer(
                        engine, content, style, size, args.steps, args.rerun_peers
                    )
                style_d, content_d = judge.distances(image, photo, Image.open(style))
                pair = f"{content.stem} / {style.stem}"
                when = "" if measured == "now" else f" (measured {measured})"
                lines.append(
                    f"| {size} | {pair} | {engine} | {style_d:.3f} | {content_d:.3f} | {seconds:.1f}{when} |"
                )
                print(lines[-1], flush=True)
                shown = image.copy()
                shown.thumbnail((cell, cell))
                sheet.paste(shown, (col * cell, 24 + row * cell))
        sheet.save(RESULTS / f"peers-sheet-{size}.jpg")
        lines.append(f"\nSheet: `benchmarks/results/peers-sheet-{size}.jpg`.\n")
    with (RESULTS / "peers-cpu.md").open("a") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
