"""Peak memory of a run, to calibrate ``nst.memory`` (bytes per output pixel of a step and of a pass).

Each configuration runs in a fresh subprocess (so peaks do not mix) with a random-weight VGG19 (weights
do not change memory) in the default precision, and reports its peak resident memory (VmHWM) above the
level after the network was loaded:

* output: one optimization step at ``size`` with a tiny style (style_scale 0.05): the output's cost;
* style: one step at ``size`` with style_scale 4 (the largest setting): the style's cost is what is left
  once the output's (fitted above) is taken off;
* a few whole runs at 1024 px with 1 and 3 styles at the largest style_scale, 4 (their style passes
  run in tiles once they pass half the budget), and the same with the distribution (bn) loss.

    python benchmarks/bench_memory.py [--quick]

Results: benchmarks/results/memory-cpu.md (machine named), with the constants fitted from them.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from measure import machine  # noqa: E402

CHILD = r"""
import json, sys, time
import numpy as np, torch, torchvision
from PIL import Image
sys.path.insert(0, {root!r})
sys.path.insert(0, {root!r} + "/benchmarks")
from measure import own_memory as rss
import nst
from nst.weights import VGGFeatures, load_vgg
from nst import requests

config = json.loads(sys.argv[1])
torch.manual_seed(0)
state = {{k: v for k, v in torchvision.models.vgg19(weights=None).features.state_dict().items()}}
net = VGGFeatures("vgg19", state, pooling="avg")
requests.load_vgg = lambda *a, **k: net
rng = np.random.default_rng(0)
content = Image.fromarray(rng.integers(0, 255, (config["size"] * 3 // 4, config["size"], 3), dtype=np.uint8))
styles = [Image.fromarray(rng.integers(0, 255, (config["style_px"], config["style_px"], 3), dtype=np.uint8))
          for _ in range(config["styles"])]
base = rss("VmRSS")
start = time.perf_counter()
result = nst.stylize(content, styles if len(styles) > 1 else styles[0], size=config["size"], steps=config["steps"],
                     style_scale=config["style_scale"], style_loss=config["style_loss"])
print(json.dumps({{"peak": rss("VmHWM") - base, "seconds": time.perf_counter() - start}}))
"""


def measure(size: int, style_scale: float, styles: int = 1, steps: int = 1, style_loss: str = "gram") -> dict:
    config = {
        "size": size,
        "style_scale": style_scale,
        "styles": styles,
        "steps": steps,
        "style_loss": style_loss,
        "style_px": max(64, int(size * style_scale)),
    }
    out = subprocess.run(
        [sys.executable, "-c", CHILD.format(root=str(ROOT)), json.dumps(config)],
        capture_output=True,
        text=True,
        check=True,
        env={"MALLOC_ARENA_MAX": "2", "PATH": "/usr/bin:/bin"},
    )
    found = json.loads(out.stdout.strip().splitlines()[-1])
    print(config, found, flush=True)
    return {**config, **found}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    from nst import memory

    rows = []
    sizes = (256, 512) if args.quick else (512, 1024)
    for size in sizes:  # the output's cost: 4:3 pictures, so pixels = size * size * 3/4
        rows.append(("output", measure(size, 0.05)))
    out_px = [r["size"] ** 2 * 3 / 4 for kind, r in rows if kind == "output"]
    out_peak = [r["peak"] for kind, r in rows if kind == "output"]
    per_out = (out_peak[1] - out_peak[0]) / (out_px[1] - out_px[0])
    for side in (1024, 2048):  # one style of side x side, the output a quarter of that
        rows.append(("style", measure(side // 4, 4.0)))
    st_px = [r["style_px"] ** 2 for kind, r in rows if kind == "style"]
    st_peak = [r["peak"] - per_out * r["size"] ** 2 * 3 / 4 for kind, r in rows if kind == "style"]
    per_style = (st_peak[1] - st_peak[0]) / (st_px[1] - st_px[0])
    whole = []
    if not args.quick:  # the largest style_scale: style passes run in tiles past half the budget
        for styles, loss in ((1, "gram"), (3, "gram"), (3, "bn")):
            whole.append(measure(1024, 4.0, styles, 1, loss))
    lines = [
        "# Peak memory per run (CPU)",
        "",
        f"Machine: {machine()}. `python benchmarks/bench_memory.py`; random "
        "VGG19, default precision, peak RSS (VmHWM) above the level once the network is loaded, each run in "
        "its own process.",
        "",
        "| what | output px | style px | styles | loss | steps | peak MB | s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for kind, r in rows:
        lines.append(
            f"| {kind} | {r['size']}x{r['size'] * 3 // 4} | {r['style_px']}² | {r['styles']} | "
            f"{r['style_loss']} | {r['steps']} | {r['peak'] / 1e6:.0f} | {r['seconds']:.1f} |"
        )
    for r in whole:
        lines.append(
            f"| whole run at style_scale {r['style_scale']:g} (the largest allowed) | "
            f"{r['size']}x{r['size'] * 3 // 4} | {r['style_px']}² | {r['styles']} | {r['style_loss']} | "
            f"{r['steps']} | {r['peak'] / 1e6:.0f} | {r['seconds']:.1f} |"
        )
    lines += [
        "",
        f"Fitted: {per_out:.0f} bytes per output pixel (one step); {per_style:.0f} bytes per style pixel "
        f"while its targets are built, {per_style / per_out:.2f} of an output pixel. "
        f"nst.memory uses BYTES_PER_PIXEL = {memory.BYTES_PER_PIXEL} and PASS_BYTES_PER_PIXEL = "
        f"{memory.PASS_BYTES_PER_PIXEL}.",
    ]
    out = ROOT / "benchmarks" / "results" / "memory-cpu.md"
    out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
