"""Side by side with neural-style-pt at its best: each engine's whole trade-off, judged twice.

A single picture at each engine's default weight cannot say which engine is better: one may just sit
further along the same curve. So every engine runs each pair at several style weights, from "barely
touched" to "all painting", and each picture is placed by two judges (``benchmarks/judge.py``: the
project's, and the outside judge with summed Gram distances over relu1_1-relu4_1 and content at
conv4_2) at (content distance, style distance). An engine is better on a pair when its curve lies
closer to the origin: at the content distance of each of the other's pictures its curve (linear
between its points) has the lower style distance.

Engines:

* ``nst page``: this engine as the page runs it on a CPU (``nst.ui.server.CPU_DEFAULTS``: 40 steps
  over 2 scales; at 512 px ``--steps-512`` steps), VGG16 from ``../shared``, precision ``auto``, at
  style weights from 2.5 to 80 (``NST_WEIGHTS``);
* ``nst before``: the page's schedule with the engine's defaults before issue 23 (average pooling,
  the paper's choice; equal style-layer weights; style weight 10), and ``nst equal layers``: today's
  defaults but equal layer weights, to measure what each change did;
* ``neural-style image``: neural-style-pt 0.5.7 started from the photo (``-init image``), as a user
  who wants a picture in few steps runs it, ``--peer-steps`` L-BFGS steps, at its style weights
  x0.25 ... x4 of its default 1e2 (content 5 kept); snapshots every 20 steps are kept;
* ``neural-style``: its defaults (from noise, style 1e2), one point for reference.

Pairs: the 12 of ``../shared/images`` and photos the calibration never saw (``UNSEEN``: scikit-image's
astronaut, chelsea and rocket, matplotlib's Grace Hopper; written once as JPEGs under the
peers' folder so both engines read the same file), all with the shared paintings.

Every picture and its report is kept under ``<peers dir>/curves/`` and reused by later runs (so the
expensive peer runs happen once); ``--rerun`` ignores them. Writes, appended with the machine named,
``benchmarks/results/curves-cpu.md`` (each pair's points and who is inside whose curve, by each
judge), plots ``benchmarks/results/curves-<size>-<judge>.png`` (one panel per pair) and a sheet at
matched content distance, ``benchmarks/results/curves-sheet-<size>.jpg``.

    bash benchmarks/peers/setup.sh neural-style     # once: the peer's environment and weights
    python benchmarks/bench_peers.py [--sizes 256 512] [--pairs tubingen:starry_night ...] [--no-unseen]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from judge import BENCH_RUN, SHARED, VGG16, Judge, outside_judge  # noqa: E402
from measure import append_results, machine  # noqa: E402

import nst  # noqa: E402
from nst.ui.server import CPU_DEFAULTS  # noqa: E402
from nst.weights import load_vgg  # noqa: E402

PEERS_DIR = Path(os.environ.get("NST_PEERS_DIR", Path.home() / ".cache" / "nst-peers"))
CACHE = PEERS_DIR / "curves"
RESULTS = ROOT / "benchmarks" / "results"
#: The peer's style weights, as multiples of its default 1e2.
SPREAD = (0.25, 0.5, 1.0, 2.0, 4.0)
#: This engine's style weights (its runs are cheap: more of them, closer together where the default is chosen).
NST_WEIGHTS = (1.0, 1.5, 2.5, 3.5, 5.0, 7.0, 10.0, 20.0, 40.0, 80.0)
#: How much farther from the photo than the peer's default picture this engine's default may be (issue 23).
CONTENT_MARGIN = 1.10
#: The weights of the variants that show what each change did (fewer: they are compared, not calibrated).
VARIANT_WEIGHTS = (2.5, 5.0, 10.0, 20.0, 40.0, 80.0)
PEER_STYLE_WEIGHT = 100.0
#: This engine as the page runs it, and two variants that show what issue 23's changes did: its defaults
#: before (average pooling, equal layer weights; style weight 10), and max pooling alone.
NST_ENGINES = {
    "nst page": {},
    "nst before": {"pooling": "avg", "style_layer_weights": (1.0,) * 5},
    "nst equal layers": {"style_layer_weights": (1.0,) * 5},
}
#: Photos the calibration never saw, each with two of the shared paintings.
UNSEEN = (
    ("astronaut", "shipwreck"),
    ("hopper", "starry_night"),
    ("chelsea", "the_scream"),
    ("rocket", "woman-with-hat-matisse"),
)


@dataclass(frozen=True)
class Point:
    engine: str
    weight: float
    image: Image.Image
    seconds: float


def unseen_photo(name: str) -> Path:
    """The package photo ``name`` as a JPEG file both engines can read (written once)."""
    path = PEERS_DIR / "photos" / f"{name}.jpg"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        if name == "hopper":
            import matplotlib.cbook

            image = Image.open(matplotlib.cbook.get_sample_data("grace_hopper.jpg")).convert("RGB")
        else:
            from skimage import data

            image = Image.fromarray(getattr(data, name)()).convert("RGB")
        image.save(path, quality=95)
    return path


def pairs(chosen: list[str] | None, unseen: bool) -> list[tuple[Path, Path]]:
    images = SHARED / "images"
    if chosen:
        named = [p.split(":") for p in chosen]
    else:
        named = [
            (c.stem, s.stem)
            for c in sorted((images / "content").glob("*.jpg"))
            for s in sorted((images / "styles").glob("*.jpg"))
        ] + (list(UNSEEN) if unseen else [])
    found = []
    for c, s in named:
        shared = images / "content" / f"{c}.jpg"
        found.append((shared if shared.exists() else unseen_photo(c), images / "styles" / f"{s}.jpg"))
    return found


def cached(stem: str, rerun: bool, make) -> tuple[Image.Image, dict]:
    """The picture and report kept under ``stem``, or ``make(png, report_path)`` run to write them."""
    png, report = CACHE / f"{stem}.png", CACHE / f"{stem}.json"
    if rerun or not (png.exists() and report.exists()):
        CACHE.mkdir(parents=True, exist_ok=True)
        make(png, report)
    return Image.open(png).convert("RGB"), json.loads(report.read_text())


def nst_point(
    name: str, content: Path, style: Path, size: int, weight: float, steps: int, rerun: bool, **settings
) -> Point:
    def make(png: Path, report: Path) -> None:
        start = time.perf_counter()
        result = nst.stylize(
            content, style, **BENCH_RUN, size=size, steps=steps, style_weight=weight, **settings
        )
        seconds = time.perf_counter() - start
        result.image.save(png)
        report.write_text(json.dumps({"wall_s": seconds, "steps": steps, "machine": machine()}))

    given = "".join(f"-{k}{v}" for k, v in sorted(settings.items())).replace(" ", "")
    # The engine's defaults but the style weight (always given), with the layer weights they imply.
    engine = nst.Settings().replace(style_weight=1.0)
    defaults = hashlib.blake2b(f"{engine!r}{engine.layer_weights}".encode(), digest_size=4).hexdigest()
    stem = f"nst-{content.stem}-{style.stem}-{size}px-{steps}steps-w{weight:g}{given}-{defaults}"
    image, report = cached(stem, rerun, make)
    return Point(name, weight, image, report["wall_s"])


def peer_point(
    content: Path, style: Path, size: int, weight: float, steps: int, init: str, rerun: bool, threads: int
) -> Point:
    def make(png: Path, report: Path) -> None:
        done = subprocess.run(
            [
                str(PEERS_DIR / "neural-style" / "bin" / "python"),
                str(ROOT / "benchmarks" / "peers" / "run_peer.py"),
                *("--peer", "neural-style", "--content", str(content), "--style", str(style)),
                *("--size", str(size), "--steps", str(steps), "--init", init),
                *("--style-weight", repr(weight), "--snapshot-every", "20", "--threads", str(threads)),
                *("--out", str(png), "--json", str(report)),
            ],
            capture_output=True,
            text=True,
        )
        if done.returncode:
            raise RuntimeError(f"neural-style: {done.stderr.strip().splitlines()[-1:]}")

    name = "neural-style image" if init == "image" else "neural-style"
    stem = f"{name.replace(' ', '-')}-{content.stem}-{style.stem}-{size}px-{steps}steps-w{weight:g}"
    image, report = cached(stem, rerun, make)
    return Point(name, weight, image, report["wall_s"])


def style_at(curve: list[tuple[float, float]], content_d: float) -> float | None:
    """The style distance of a curve (points (content, style), linear between them) at ``content_d``;
    None outside the content distances it spans."""
    ordered = sorted(curve)
    for (c0, s0), (c1, s1) in zip(ordered, ordered[1:]):
        if c0 <= content_d <= c1:
            return s0 if c1 == c0 else s0 + (s1 - s0) * (content_d - c0) / (c1 - c0)
    return None


def compare(
    ours: list[tuple[float, float]], peer: list[tuple[float, float]]
) -> dict[str, tuple[int, int, float]]:
    """Our curve against the peer's points (both as (content, style)): at each peer point's content distance,
    our style distance ("equal content"), and at its style distance, our content distance ("equal style").
    For each: (peer points within our curve's span, of those where ours is at or below, mean ratio ours/peer)."""
    found = {}
    for name, curve, points in (
        ("equal content", ours, peer),
        ("equal style", [(s, c) for c, s in ours], [(s, c) for c, s in peer]),
    ):
        ratios = [at / y for x, y in points if (at := style_at(curve, x)) is not None and y > 0]
        mean = sum(ratios) / len(ratios) if ratios else float("nan")
        found[name] = (len(ratios), sum(r <= 1.0 for r in ratios), mean)
    return found


def default_check(defaults: dict[str, list], judges: list[str]) -> list[str]:
    """For each of this engine's weights: on how many pairs its picture is at least as close to the painting
    as the peer's default picture from the photo, with content at most ``CONTENT_MARGIN`` times the peer's,
    by every judge; the pairs from ``UNSEEN`` counted apart (the default is chosen on the others)."""
    if not defaults:
        return []
    unseen = {f"{c}/{s}" for c, s in UNSEEN}
    lines = [
        "",
        "Default check: pairs where this engine at the weight is at least as close to the painting as "
        f"neural-style-pt's default from the photo, with content within {CONTENT_MARGIN - 1:.0%}, by both judges.",
        "",
        "| weight | shared pairs | unseen pairs | failing |",
        "|---|---|---|---|",
    ]
    for weight in sorted({p["m"] for ours, _ in defaults.values() for p in ours}):
        passed = {"shared": [0, 0], "unseen": [0, 0]}
        failing = []
        for pair, (ours, peer) in defaults.items():
            mine = next((p for p in ours if p["m"] == weight), None)
            if mine is None:
                continue
            ok = all(mine[j][0] <= peer[j][0] and mine[j][1] <= CONTENT_MARGIN * peer[j][1] for j in judges)
            group = passed["unseen" if pair in unseen else "shared"]
            group[0] += ok
            group[1] += 1
            if not ok:
                failing.append(pair)
        lines.append(
            f"| {weight:g} | {passed['shared'][0]} of {passed['shared'][1]} | {passed['unseen'][0]} of "
            f"{passed['unseen'][1]} | {', '.join(failing) or '–'} |"
        )
    return lines


def plot(size: int, judge_name: str, table: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(table)
    cols = 6
    rows = (len(names) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(3 * cols, 2.8 * rows), squeeze=False)
    for ax, pair in zip(axes.flat, names):
        for engine, points in table[pair].items():
            xs = [p[judge_name][1] for p in points]
            ys = [p[judge_name][0] for p in points]
            order = sorted(range(len(xs)), key=xs.__getitem__)
            marker = "*" if len(points) == 1 else "o-"
            (line,) = ax.plot([xs[i] for i in order], [ys[i] for i in order], marker, label=engine, ms=4)
            default = {"nst page": nst.Settings().style_weight, "neural-style image": 1.0}.get(engine)
            for p in points:  # each engine's default weight circled
                if p["m"] == default:
                    ax.plot(
                        p[judge_name][1], p[judge_name][0], "o", ms=10, mfc="none", color=line.get_color()
                    )
        ax.set_title(pair, fontsize=8)
        ax.set_xlim(left=0)
        ax.set_ylim(bottom=0)
        ax.tick_params(labelsize=6)
    for ax in list(axes.flat)[len(names) :]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=6)
    fig.supxlabel(f"content distance ({judge_name} judge)")
    fig.supylabel("style distance")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def sheet(size: int, rows: list[tuple[str, Image.Image, list[tuple[str, Image.Image]]]], path: Path) -> None:
    cell = 200
    cols = 1 + max(len(r[2]) for r in rows)
    out = Image.new("RGB", (cell * cols, (cell + 14) * len(rows)), "white")
    draw = ImageDraw.Draw(out)
    for row, (pair, photo, shown) in enumerate(rows):
        y = row * (cell + 14)
        for col, (label, image) in enumerate([(pair, photo), *shown]):
            small = image.copy()
            small.thumbnail((cell, cell))
            out.paste(small, (col * cell, y + 14))
            draw.text((col * cell + 2, y + 1), label, fill="black")
    out.save(path, quality=80)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="*", default=[256])
    ap.add_argument(
        "--pairs", nargs="*", default=None, help="content:style names, e.g. tubingen:starry_night"
    )
    ap.add_argument("--no-unseen", action="store_true", help="only the shared pairs")
    ap.add_argument("--peer-steps", type=int, default=100)
    ap.add_argument("--peer-threads", type=int, default=2, help="torch threads of the peer's runs")
    ap.add_argument("--threads", type=int, default=None, help="torch threads of this engine's runs")
    ap.add_argument("--steps-512", type=int, default=100, help="this engine's steps at 512 px (2 scales)")
    ap.add_argument(
        "--spread", type=float, nargs="*", default=list(SPREAD), help="the peer's weights (x its default)"
    )
    ap.add_argument(
        "--nst-weights", type=float, nargs="*", default=list(NST_WEIGHTS), help="this engine's weights"
    )
    ap.add_argument("--engines", nargs="*", default=None, help="a subset of the engines, by name")
    ap.add_argument("--rerun", action="store_true", help="ignore kept pictures")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    load_vgg("vgg16", nst.Settings().pooling, str(VGG16), "cpu")  # loaded (and cached) before any timing
    judges = {"project": Judge(), "outside": outside_judge()}
    engines = {
        **{
            name: (
                lambda c, s, size, m, name=name, extra=extra: nst_point(
                    name, c, s, size, m, steps(size), args.rerun, scales=CPU_DEFAULTS.scales, **extra
                )
            )
            for name, extra in NST_ENGINES.items()
        },
        "neural-style image": lambda c, s, size, m: peer_point(
            c, s, size, PEER_STYLE_WEIGHT * m, args.peer_steps, "image", args.rerun, args.peer_threads
        ),
        "neural-style": lambda c, s, size, m: peer_point(
            c, s, size, PEER_STYLE_WEIGHT, args.peer_steps, "random", args.rerun, args.peer_threads
        ),
    }
    chosen = args.engines or list(engines)

    def steps(size: int) -> int:
        return CPU_DEFAULTS.steps if size <= CPU_DEFAULTS.size else args.steps_512

    lines = [
        f"## Curves — {time.strftime('%Y-%m-%d %H:%M')}",
        "",
        f"Machine: {machine()}. `python benchmarks/bench_peers.py`; style weights x{args.spread} of the peer's "
        f"default, {args.nst_weights} for this engine; neural-style-pt {args.peer_steps} steps; this engine "
        "the page's schedule "
        f"({CPU_DEFAULTS.steps} steps at 256 px, {args.steps_512} at 512 px, {CPU_DEFAULTS.scales} scales); "
        "distances (style / content) by the project's judge and the outside judge; s: wall seconds "
        "with the network loaded (runs kept from earlier days keep their time).",
    ]
    for size in args.sizes:
        table: dict[str, dict[str, list[dict]]] = {}
        matched_rows = []
        summary = {j: {"pairs": 0, "inside": 0, "points": 0, "below": 0, "outside span": 0} for j in judges}
        changes: dict[tuple[str, str], list[float]] = {}  # (variant, judge) -> today's style / the variant's
        defaults: dict[
            str, list
        ] = {}  # pair -> our curve and the peer's default picture, for the default check
        lines += [
            "",
            f"### {size} px",
            "",
            "| pair | engine | weight | project style / content | outside style / content | s |",
            "|---|---|---|---|---|---|",
        ]
        for content, style in pairs(args.pairs, not args.no_unseen):
            pair = f"{content.stem}/{style.stem}"
            photo, painting = Image.open(content).convert("RGB"), Image.open(style).convert("RGB")
            table[pair] = {}
            for engine in chosen:
                # m: the peer's weight as a multiple of its default, this engine's weight itself
                spread = {
                    "neural-style": [1.0],
                    "neural-style image": args.spread,
                    "nst page": args.nst_weights,
                }.get(engine, VARIANT_WEIGHTS)
                for m in spread:
                    point = engines[engine](content, style, size, m)
                    judged = {j: judge.distances(point.image, photo, painting) for j, judge in judges.items()}
                    table[pair].setdefault(engine, []).append({**judged, "m": m, "image": point.image})
                    lines.append(
                        f"| {pair} | {engine} | {point.weight:g} | {judged['project'][0]:.3f} / "
                        f"{judged['project'][1]:.3f} | {judged['outside'][0]:.3f} / {judged['outside'][1]:.3f} "
                        f"| {point.seconds:.1f} |"
                    )
                    print(lines[-1], flush=True)
            if "nst page" in table[pair] and "neural-style image" in table[pair]:
                ours, peer = table[pair]["nst page"], table[pair]["neural-style image"]
                for j in judges:
                    found = compare([p[j][::-1] for p in ours], [p[j][::-1] for p in peer])
                    n, below, _ = found["equal content"]
                    n2, below2, _ = found["equal style"]
                    summary[j]["pairs"] += 1
                    summary[j]["inside"] += n + n2 > 0 and below == n and below2 == n2
                    summary[j]["points"] += n
                    summary[j]["below"] += below
                    summary[j]["outside span"] += len(peer) - n
                    shown = "; ".join(
                        f"at {how}: ours at or below at {b} of {k} peer points (mean ratio ours/peer {r:.2f})"
                        for how, (k, b, r) in found.items()
                    )
                    lines.append(f"| {pair} | **{j} judge** | | {shown} | | |")
                defaults[pair] = [ours, next(p for p in peer if p["m"] == 1.0)]
                # The sheet: each engine's picture nearest the peer's default content distance (outside judge).
                target = next(p for p in peer if p["m"] == 1.0)["outside"][1]
                shown = []
                for engine, points in table[pair].items():
                    best = min(points, key=lambda p: abs(p["outside"][1] - target))
                    weight = f"x{best['m']:g}" if engine.startswith("neural") else f"w{best['m']:g}"
                    label = f"{engine} {weight} c={best['outside'][1]:.2f} s={best['outside'][0]:.2f}"
                    shown.append((label, best["image"]))
                matched_rows.append((pair, photo, shown))
            for variant in ("nst before", "nst equal layers"):
                if "nst page" in table[pair] and variant in table[pair]:
                    for j in judges:
                        found = compare(
                            [p[j][::-1] for p in table[pair]["nst page"]],
                            [p[j][::-1] for p in table[pair][variant]],
                        )
                        if found["equal content"][0]:
                            changes.setdefault((variant, j), []).append(found["equal content"][2])
        for j, counts in summary.items():
            lines.append(
                f"\n**{size} px, {j} judge:** our curve at or inside the peer's (at equal content and at equal "
                f"style) on {counts['inside']} of {counts['pairs']} pairs; at equal content ours has the lower "
                f"style distance at {counts['below']} of {counts['points']} of the peer's points within our span "
                f"({counts['outside span']} outside it)."
            )
        for (variant, j), ratios in changes.items():
            lines.append(
                f"\n**What the changes did ({size} px, {j} judge):** at equal content, today's style distance is "
                f"{min(ratios):.2f}-{max(ratios):.2f} of `{variant}`'s (mean {sum(ratios) / len(ratios):.2f}, "
                f"{len(ratios)} pairs)."
            )
        lines += default_check(defaults, list(judges))
        for j in judges:
            plot(size, j, table, RESULTS / f"curves-{size}-{j}.png")
        if matched_rows:
            sheet(size, matched_rows, RESULTS / f"curves-sheet-{size}.jpg")
        lines.append(
            f"\nPlots: `curves-{size}-project.png`, `curves-{size}-outside.png`; sheet at matched content: "
            f"`curves-sheet-{size}.jpg`."
        )
    append_results(RESULTS / "curves-cpu.md", "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
