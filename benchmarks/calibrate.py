"""How the default weights were chosen: candidate settings on the pairs that bind, judged.

Runs ``nst.stylize`` with each candidate (VGG16 from ``../shared``, fp32, seed 0) on content x style
pairs from ``../shared/images`` (a name found in ``examples/content`` is taken from there: the
astronaut is the portrait) and writes the judge's style and content distances (``benchmarks/judge.py``)
beside neural-style-pt's on the same pair, where ``benchmarks/results/peers-cpu.md`` has it, to
``benchmarks/results/calibration-cpu.md``, and each picture to ``--out`` for looking at.

    python benchmarks/calibrate.py --candidates relu10 relu15 conv10 --pairs tubingen:shipwreck ...

A candidate is a name: ``relu`` or ``conv`` (the taps) followed by the style weight, e.g. ``relu15``,
and optionally ``g`` and the exponent the content weight grows with above 256 px
(``nst.settings.CONTENT_WEIGHT_GROWTH``), e.g. ``relu10g0.7``.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from judge import BENCH_RUN, SHARED, Judge  # noqa: E402
from measure import machine  # noqa: E402

import nst  # noqa: E402
from nst import settings  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
TAPS = {
    "relu": {"content_layers": ("relu4_2",), "style_layers": tuple(f"relu{i}_1" for i in range(1, 6))},
    "conv": {"content_layers": ("conv4_2",), "style_layers": tuple(f"conv{i}_1" for i in range(1, 6))},
}


DEFAULT_GROWTH = settings.CONTENT_WEIGHT_GROWTH


def candidate(name: str) -> tuple[dict, float]:
    """The settings a candidate names, and its content weight growth exponent."""
    taps, weight, growth = re.fullmatch(r"(relu|conv)(\d+(?:\.\d+)?)(?:g(\d+(?:\.\d+)?))?", name).groups()
    return {**TAPS[taps], "style_weight": float(weight)}, float(growth or DEFAULT_GROWTH)


def image_path(name: str, kind: str) -> Path:
    shared = SHARED / "images" / kind / f"{name}.jpg"
    return shared if shared.exists() else ROOT / "examples" / kind / f"{name}.jpg"


def peer_rows(size: int) -> dict[str, tuple[float, float]]:
    """neural-style-pt's (style, content) distances per pair at ``size``, the latest run of each."""
    rows = {}
    for line in (RESULTS / "peers-cpu.md").read_text().splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) == 6 and cells[2] == "neural-style" and cells[0] == str(size):
            rows[cells[1]] = (float(cells[3]), float(cells[4]))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--candidates", nargs="+", default=["relu10"])
    ap.add_argument("--pairs", nargs="+", required=True, help="content:style names")
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--out", type=Path, default=Path("/tmp/nst-calibration"))
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    judge, peers = Judge(), peer_rows(args.size)
    lines = [
        f"## Calibration — {time.strftime('%Y-%m-%d %H:%M')}",
        "",
        f"Machine: {machine()}. `python benchmarks/calibrate.py`, {args.size} px, {args.steps} steps, "
        "VGG16, fp32, seed 0. Peer: neural-style-pt at its defaults (peers-cpu.md); bound: content "
        "within 1.1x the peer's.",
        "",
        "| pair | candidate | style distance | content distance | peer style | content bound | within |",
        "|---|---|---|---|---|---|---|",
    ]
    for pair in args.pairs:
        c, s = pair.split(":")
        content, style = image_path(c, "content"), image_path(s, "styles")
        peer = peers.get(f"{c} / {s}")
        for name in args.candidates:
            chosen, settings.CONTENT_WEIGHT_GROWTH = candidate(name)
            result = nst.stylize(
                content,
                style,
                **BENCH_RUN,
                size=args.size,
                steps=args.steps,
                precision="fp32",
                **chosen,
            )
            result.image.save(args.out / f"{c}-{s}-{name}-{args.size}.png")
            style_d, content_d = judge.distances(result.image, Image.open(content), Image.open(style))
            if peer:
                bound = 1.1 * peer[1]
                ok = "yes" if style_d <= peer[0] and content_d <= bound else "no"
                tail = f"{peer[0]:.3f} | {bound:.3f} | {ok}"
            else:
                tail = "– | – | –"
            lines.append(f"| {c} / {s} | {name} | {style_d:.3f} | {content_d:.3f} | {tail} |")
            print(lines[-1], flush=True)
    with (RESULTS / "calibration-cpu.md").open("a") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
