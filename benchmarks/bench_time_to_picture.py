"""Time to the picture the page delivers, against neural-style-pt started from the photo.

What a person waits for is the page's last picture: the page runs its CPU schedule
(``nst.ui.server.CPU_DEFAULTS``: 40 steps over 2 scales, precision ``auto``) to the end and delivers
that picture. This benchmark times it (wall and this process's CPU time, the network loaded) and then
asks how long neural-style-pt, started from the photo (``-init image``, its default weights, as a
user who wants a picture in few steps runs it), takes to a picture **as good by both judges**
(``benchmarks/judge.py``: the project's and the outside judge): a snapshot (one every ``--every``
steps, up to ``--max-steps``) whose style distance and content distance are both at or under the
page picture's, by each judge. Where no snapshot gets there, the peer's whole run is the bound
("> x"). A looser rule is reported beside it, generous to the peer: its first snapshot at least as
close to the painting by both judges, whatever its content distance.

Engines run interleaved (repeat 1: every pair, page then peer; then repeat 2, ...), each repeat in a
fresh order on a machine left quiet; times are the median of the repeats. ``nst page fp32`` (the
same schedule in float32) shows the engine without bfloat16, as a CPU without AMX would run it.

Writes ``benchmarks/results/time-to-picture-cpu.md`` (appended; the CPU and its vector extensions
named) and every snapshot's distances to ``time-to-picture-cpu-<size>.json``.

    python benchmarks/bench_time_to_picture.py [--sizes 256] [--repeats 3] [--pairs c:s ...]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from judge import BENCH_RUN, SHARED, VGG16, Judge, outside_judge  # noqa: E402
from measure import append_results, machine  # noqa: E402

import nst  # noqa: E402
from nst.ui.server import CPU_DEFAULTS  # noqa: E402
from nst.weights import load_vgg  # noqa: E402

PAIRS = ("tubingen:starry_night", "golden_gate:the_scream", "hoovertowernight:woman-with-hat-matisse")
PEERS_DIR = Path(os.environ.get("NST_PEERS_DIR", Path.home() / ".cache" / "nst-peers"))
RESULTS = ROOT / "benchmarks" / "results"
ENGINES = {"nst page": "auto", "nst page fp32": "fp32"}


def run_page(content: Path, style: Path, size: int, precision: str) -> dict:
    """The page's schedule to its last picture: that picture, wall and CPU seconds, first preview."""
    first: list[float] = []
    start, cpu = time.perf_counter(), time.process_time()

    def callback(info) -> None:
        if info.image is not None and not first:
            first.append(time.perf_counter() - start)

    result = nst.stylize(
        content,
        style,
        **{**BENCH_RUN, "precision": precision},
        size=size,
        steps=CPU_DEFAULTS.steps,
        scales=CPU_DEFAULTS.scales,
        callback=callback,
        image_every=5,
    )
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    return {"image": result.image, "s": wall, "cpu_s": cpu, "first_preview": first[0] if first else wall}


def run_peer(content: Path, style: Path, size: int, steps: int, every: int) -> dict:
    """neural-style-pt from the photo: its snapshots (steps, wall s, CPU s, picture) and the whole run."""
    with tempfile.TemporaryDirectory() as tmp:
        out, report = Path(tmp) / "out.png", Path(tmp) / "out.json"
        done = subprocess.run(
            [
                str(PEERS_DIR / "neural-style" / "bin" / "python"),
                str(ROOT / "benchmarks" / "peers" / "run_peer.py"),
                *(
                    "--peer",
                    "neural-style",
                    "--init",
                    "image",
                    "--content",
                    str(content),
                    "--style",
                    str(style),
                ),
                *("--size", str(size), "--steps", str(steps), "--snapshot-every", str(every)),
                *("--out", str(out), "--json", str(report)),
            ],
            capture_output=True,
            text=True,
        )
        if done.returncode:
            raise RuntimeError(f"neural-style: {done.stderr.strip().splitlines()[-1:]}")
        record = json.loads(report.read_text())
        snaps = [
            (s["steps"], s["s"], s["cpu_s"], Image.open(s["path"]).convert("RGB"))
            for s in record["snapshots"]
        ]
        last = (record["evaluations"], record["wall_s"], record["cpu_s"], Image.open(out).convert("RGB"))
        return {"snapshots": snaps + [last], "s": record["wall_s"], "cpu_s": record["cpu_s"]}


def as_good(point: dict, page: dict, style_only: bool) -> bool:
    """Whether a peer picture is at least as close to the painting as the page's by both judges, and
    (unless ``style_only``) at least as close to the photo too."""
    return all(
        point[j][0] <= page[j][0] and (style_only or point[j][1] <= page[j][1])
        for j in ("project", "outside")
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[CPU_DEFAULTS.size])
    ap.add_argument("--pairs", nargs="+", default=list(PAIRS), help="content:style names")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--every", type=int, default=5, help="keep the peer's picture every N steps")
    ap.add_argument("--max-steps", type=int, default=100, help="the peer's steps")
    args = ap.parse_args()
    judges = {"project": Judge(), "outside": outside_judge()}
    load_vgg("vgg16", nst.Settings().pooling, str(VGG16), "cpu")  # loaded (and cached) before any timing
    nst.stylize(
        SHARED / "images" / "content" / "tubingen.jpg",
        SHARED / "images" / "styles" / "shipwreck.jpg",
        **BENCH_RUN,
        size=64,
        steps=2,
    )  # the first run's one-off costs (oneDNN kernels) untimed
    runs: list[dict] = []
    for repeat in range(args.repeats):
        for size in args.sizes:
            for pair in args.pairs:
                c, s = pair.split(":")
                content, style = (
                    SHARED / "images" / "content" / f"{c}.jpg",
                    SHARED / "images" / "styles" / f"{s}.jpg",
                )
                photo, painting = Image.open(content), Image.open(style)
                order = list(ENGINES) + ["neural-style image"]
                for engine in order if repeat % 2 == 0 else order[::-1]:
                    if engine in ENGINES:
                        got = run_page(content, style, size, ENGINES[engine])
                        image = got.pop("image")
                        judged = {j: judge.distances(image, photo, painting) for j, judge in judges.items()}
                        runs.append(
                            {
                                "repeat": repeat + 1,
                                "size": size,
                                "pair": pair,
                                "engine": engine,
                                **got,
                                **judged,
                            }
                        )
                    else:
                        got = run_peer(content, style, size, args.max_steps, args.every)
                        points = [
                            {
                                "steps": n,
                                "s": t,
                                "cpu_s": cpu,
                                **{j: judge.distances(image, photo, painting) for j, judge in judges.items()},
                            }
                            for n, t, cpu, image in got["snapshots"]
                        ]
                        runs.append(
                            {
                                "repeat": repeat + 1,
                                "size": size,
                                "pair": pair,
                                "engine": engine,
                                "s": got["s"],
                                "cpu_s": got["cpu_s"],
                                "points": points,
                            }
                        )
                    print(f"repeat {repeat + 1}: {size} {pair} {engine}: {runs[-1]['s']:.1f} s", flush=True)
    (RESULTS / f"time-to-picture-cpu-{'-'.join(map(str, args.sizes))}.json").write_text(
        json.dumps({"machine": machine(), "args": vars(args), "runs": runs}, default=str)
    )
    append_results(RESULTS / "time-to-picture-cpu.md", "\n".join(table(runs, args)) + "\n")


def table(runs: list[dict], args: argparse.Namespace) -> list[str]:
    """Per size, pair and page engine: its delivered picture (median times), and the peer's time to a
    picture as good by both judges (median over repeats of the first snapshot that is), with the ratio."""
    lines = [
        f"## Time to the page's picture — {time.strftime('%Y-%m-%d %H:%M')}",
        "",
        f"Machine: {machine()}. `python benchmarks/bench_time_to_picture.py`, {args.repeats} interleaved "
        f"repeats (medians), the page's CPU schedule ({CPU_DEFAULTS.steps} steps, {CPU_DEFAULTS.scales} "
        f"scales) to its last picture against neural-style-pt `-init image` ({args.max_steps} steps, a "
        f"snapshot every {args.every}). Distances: style / content, project judge then outside judge.",
        "",
        "| size | pair | engine | delivered: wall s / CPU s | first preview s | project | outside "
        "| peer as good on all four: steps, wall s / CPU s | peer / page | peer as close to the painting "
        "(content ignored): steps, wall s | peer / page |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    med = statistics.median
    keys = sorted({(r["size"], r["pair"], r["engine"]) for r in runs if r["engine"] in ENGINES})
    for size, pair, engine in keys:
        mine = [r for r in runs if (r["size"], r["pair"], r["engine"]) == (size, pair, engine)]
        peer = [r for r in runs if (r["size"], r["pair"], r["engine"]) == (size, pair, "neural-style image")]
        wall, cpu = med(r["s"] for r in mine), med(r["cpu_s"] for r in mine)
        page = mine[0]
        cells = []
        for style_only in (False, True):
            found = [next((p for p in r["points"] if as_good(p, page, style_only)), None) for r in peer]
            if peer and all(found):
                t, c = med(p["s"] for p in found), med(p["cpu_s"] for p in found)
                steps = med(p["steps"] for p in found)
                cells.append(f"{steps:g}, {t:.1f} / {c:.1f}" if not style_only else f"{steps:g}, {t:.1f}")
                cells.append(
                    f"**{t / wall:.1f}x** wall, {c / cpu:.1f}x CPU" if not style_only else f"{t / wall:.1f}x"
                )
            elif peer:
                bound = med(r["s"] for r in peer)
                cells += [f"not in {args.max_steps} steps ({bound:.1f} s)", f"> {bound / wall:.1f}x"]
            else:
                cells += ["–", "–"]
        lines.append(
            f"| {size} | {pair} | {engine} | {wall:.2f} / {cpu:.2f} | {med(r['first_preview'] for r in mine):.2f} "
            f"| {page['project'][0]:.3f} / {page['project'][1]:.3f} | {page['outside'][0]:.3f} / "
            f"{page['outside'][1]:.3f} | {' | '.join(cells)} |"
        )
    return lines


if __name__ == "__main__":
    main()
