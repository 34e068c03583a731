"""L-BFGS's divergence guard (nst.lbfgs) against the unguarded optimizer, same process, same inputs.

Two parts:

1. Noise-started textures, the runs that diverged: every seed x size x style set, guard off and on.
   Counted: runs that ended "diverged" (the engine's NaN/inf check), runs whose loss ever rose above
   1000x its lowest (a blow-up, even if the run came back), the guard's rejected steps, and the final
   loss (the returned picture's, one evaluator for both). With the tests' random-weight VGG19 (the
   network of the failing test) and, with --vgg-weights or ../shared's file, the real VGG16.
2. Content-started style transfers at a small size with real weights, where the guard should never
   fire: steps, wall time, final loss, and the pictures' difference (max pixel, PSNR). Unchanged
   pictures mean the guarded optimizer took torch's steps.

    python benchmarks/bench_lbfgs_guard.py [--seeds 8] [--sizes 32 48 64] [--steps 40]
        [--pair-size 256] [--pair-steps 40] [--out benchmarks/results/lbfgs-guard-cpu.md]
"""

from __future__ import annotations

import argparse
import functools
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch
from measure import append_results, machine
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import nst  # noqa: E402
from nst import engine  # noqa: E402
from nst.errors import ResourceError  # noqa: E402
from nst.lbfgs import LBFGS  # noqa: E402

SHARED = ROOT.parent / "shared"
VGG16 = SHARED / "weights" / "vgg16-imagenet-features.safetensors"
PAIRS = [
    ("tubingen.jpg", "starry_night.jpg"),
    ("golden_gate.jpg", "the_scream.jpg"),
    ("hoovertowernight.jpg", "shipwreck.jpg"),
]


class Counted(LBFGS):
    """nst's LBFGS that leaves its rejection count where the benchmark can read it."""

    made: list[LBFGS] = []

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        Counted.made.append(self)


def use_guard(on: bool) -> None:
    engine.LBFGS = Counted if on else functools.partial(Counted, guard=None)  # type: ignore[assignment]


def random_vgg19() -> str:
    import torchvision
    from safetensors.torch import save_file

    path = Path("/tmp") / "nst-bench-random-vgg19.safetensors"
    if not path.exists():
        torch.manual_seed(0)  # the tests' network (tests/conftest.py)
        state = torchvision.models.vgg19(weights=None).features.state_dict()
        save_file({k: v.contiguous() for k, v in state.items()}, str(path))
    return str(path)


def flat(color: tuple[int, int, int]) -> Image.Image:
    return Image.new("RGB", (32, 32), color)


def style_sets() -> dict[str, tuple[list[Image.Image], dict]]:
    """Styles and settings of the texture runs: the failing test's red/blue blend, and a painting."""
    painting = Image.open(SHARED / "images" / "styles" / "starry_night.jpg").convert("RGB")
    painting.thumbnail((128, 128))
    return {
        "red:blue 1:9 (test_cli)": (
            [flat((220, 30, 30)), flat((30, 30, 220))],
            dict(style_layers="conv1_1,conv2_1", style_blend="1,9"),
        ),
        "red:blue 9:1": (
            [flat((220, 30, 30)), flat((30, 30, 220))],
            dict(style_layers="conv1_1,conv2_1", style_blend="9,1"),
        ),
        "starry night, 5 layers": ([painting], {}),
    }


def texture_runs(weights: str, backbone: str, seeds: int, sizes: list[int], steps: int) -> list[dict]:
    rows = []
    for name, (styles, extra) in style_sets().items():
        for size in sizes:
            if not extra and size > 48:  # the five-layer painting runs are the slow ones: small sizes only
                continue
            for seed in range(seeds):
                row = {"set": name, "size": size, "seed": seed}
                for on in (False, True):
                    use_guard(on)
                    Counted.made.clear()
                    t = time.perf_counter()
                    try:
                        result = nst.synthesize_texture(
                            styles,
                            width=size,
                            height=size,
                            steps=steps,
                            seed=seed,
                            precision="fp32",
                            backbone=backbone,
                            vgg_weights=weights,
                            **extra,
                        )
                        totals = [loss["total"] for loss in result.losses]
                        final, diverged = min(totals), False
                        blew_up = rise(totals) > 1000
                    except ResourceError:
                        final, diverged, blew_up = math.nan, True, True
                    key = "on" if on else "off"
                    row[key] = {
                        "diverged": diverged,
                        "blew_up": blew_up,
                        "final": final,
                        "rejected": sum(o.rejections for o in Counted.made),
                        "seconds": time.perf_counter() - t,
                    }
                rows.append(row)
                print(row, flush=True)
    return rows


def rise(totals: list[float]) -> float:
    """How far the loss ever rose above its lowest so far, as a factor."""
    return max([b / min(totals[: i + 1]) for i, b in enumerate(totals[1:])], default=1.0)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(((a.astype(np.float64) - b.astype(np.float64)) ** 2).mean())
    return math.inf if mse == 0 else 10 * math.log10(255.0**2 / mse)


def pair_runs(weights: str, size: int, steps: int) -> list[dict]:
    rows = []
    for content, style in PAIRS:
        row: dict = {"pair": f"{content} / {style}"}
        pictures = {}
        for on in (False, True):
            use_guard(on)
            Counted.made.clear()
            t = time.perf_counter()
            result = nst.stylize(
                SHARED / "images" / "content" / content,
                SHARED / "images" / "styles" / style,
                size=size,
                steps=steps,
                backbone="vgg16",
                precision="fp32",
                vgg_weights=weights,
            )
            key = "on" if on else "off"
            pictures[key] = np.asarray(result.image.convert("RGB"))
            row[key] = {
                "seconds": time.perf_counter() - t,
                "steps": result.steps,
                "final": result.losses[-1]["total"],
                "rejected": sum(o.rejections for o in Counted.made),
            }
        row["max_diff"] = int(np.abs(pictures["on"].astype(int) - pictures["off"].astype(int)).max())
        row["psnr"] = psnr(pictures["on"], pictures["off"])
        rows.append(row)
        print(row, flush=True)
    return rows


def texture_table(rows: list[dict], title: str) -> list[str]:
    lines = [
        f"#### {title}",
        "",
        "| style set | size | runs | diverged off | diverged on | blew up (>1000x) off | blew up on | "
        "rejected steps on (runs) | median final off | median final on | on better or equal | s/run off | s/run on |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    groups: dict[tuple[str, int], list[dict]] = {}
    for row in rows:
        groups.setdefault((row["set"], row["size"]), []).append(row)
    for (name, size), group in groups.items():
        off = [r["off"] for r in group]
        on = [r["on"] for r in group]
        both = [(a["final"], b["final"]) for a, b in zip(off, on) if not a["diverged"] and not b["diverged"]]
        median_off = np.median([a for a, _ in both]) if both else math.nan
        median_on = np.median([b for _, b in both]) if both else math.nan
        fired = sum(1 for b in on if b["rejected"])
        lines.append(
            f"| {name} | {size} | {len(group)} | {sum(a['diverged'] for a in off)} | "
            f"{sum(b['diverged'] for b in on)} | {sum(a['blew_up'] for a in off)} | {sum(b['blew_up'] for b in on)} | "
            f"{sum(b['rejected'] for b in on)} ({fired}) | {median_off:.4g} | {median_on:.4g} | "
            f"{sum(b <= a * 1.0001 for a, b in both)}/{len(both)} | "
            f"{np.mean([a['seconds'] for a in off]):.2f} | {np.mean([b['seconds'] for b in on]):.2f} |"
        )
    off_all = [r["off"] for r in rows]
    on_all = [r["on"] for r in rows]
    lines += [
        "",
        f"All: {len(rows)} runs; diverged {sum(a['diverged'] for a in off_all)} unguarded, "
        f"{sum(b['diverged'] for b in on_all)} guarded; blew up {sum(a['blew_up'] for a in off_all)} unguarded, "
        f"{sum(b['blew_up'] for b in on_all)} guarded.",
        "",
    ]
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=8)
    ap.add_argument("--sizes", type=int, nargs="+", default=[32, 48, 64])
    ap.add_argument("--steps", type=int, default=40, help="steps of each texture run")
    ap.add_argument(
        "--real-sizes", type=int, nargs="+", default=[32, 48], help="texture sizes with real VGG16"
    )
    ap.add_argument("--real-seeds", type=int, default=4)
    ap.add_argument("--pair-size", type=int, default=256)
    ap.add_argument("--pair-steps", type=int, default=40)
    ap.add_argument("--vgg-weights", default=str(VGG16), help="real VGG16 features (../shared's by default)")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "lbfgs-guard-cpu.md"))
    ap.add_argument("--note", default="")
    args = ap.parse_args()
    torch.set_num_threads(torch.get_num_threads())
    start = time.perf_counter()
    lines = [
        f"## L-BFGS divergence guard, off vs on — {time.strftime('%Y-%m-%d %H:%M')}",
        "",
        f"Machine: {machine()}; CPU capability {torch.backends.cpu.get_cpu_capability()}. {args.note}",
        "",
        f"### Noise-started textures ({args.steps} steps, one scale, fp32, seeds 0..n-1)",
        "",
        "diverged: the run ended with 'the optimization diverged'. blew up: the loss of a step rose above "
        "1000x the lowest before it (the run may have come back); for the guarded optimizer the loss of "
        "the points it kept (a rejected point's step reports the point it went back to). final: the "
        "lowest loss of the run (the picture returned), median over the runs neither arm diverged; "
        "'on better or equal' counts those runs.",
        "",
    ]
    lines += texture_table(
        texture_runs(random_vgg19(), "vgg19", args.seeds, args.sizes, args.steps),
        f"random-weight VGG19 (the tests' network), {args.seeds} seeds x sizes {args.sizes}",
    )
    if Path(args.vgg_weights).exists():
        lines += texture_table(
            texture_runs(args.vgg_weights, "vgg16", args.real_seeds, args.real_sizes, args.steps),
            f"real VGG16 ({Path(args.vgg_weights).name}), {args.real_seeds} seeds x sizes {args.real_sizes}",
        )
        lines += [
            f"### Content-started transfers, real VGG16, {args.pair_size} px, {args.pair_steps} steps, fp32",
            "",
            "| pair | steps off/on | s off | s on | final loss off | final loss on | rejected on | "
            "max pixel diff | PSNR dB |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for row in pair_runs(args.vgg_weights, args.pair_size, args.pair_steps):
            off, on = row["off"], row["on"]
            lines.append(
                f"| {row['pair']} | {off['steps']}/{on['steps']} | {off['seconds']:.1f} | {on['seconds']:.1f} | "
                f"{off['final']:.6g} | {on['final']:.6g} | {on['rejected']} | {row['max_diff']} | {row['psnr']:.1f} |"
            )
    lines += ["", f"Benchmark wall time {time.perf_counter() - start:.0f} s.", ""]
    append_results(args.out, "\n".join(lines))


if __name__ == "__main__":
    main()
