"""Every GPU target of the project, in one run of under 8 minutes, into one results file.

On a CUDA machine (``python benchmarks/gpu_check.py``):

* 300 L-BFGS steps at 512 px (target: under 3 s on an H100);
* time to a finished 1024 px picture with the app's GPU defaults (300 steps over 2 scales; under 10 s);
* a CycleGAN painter at 512 px (the generator's pass under 20 ms; the whole ``paint`` call too);
* bf16 and fp16 autocast against fp32, same seed, 100 steps at 512 px (final losses within 2 %);
* the largest size ``nst.memory`` runs whole, and an 8192 px tiled run: seconds per step and peak GPU memory.

``--quick`` runs the same parts at toy sizes, on whatever device there is (a test runs it on the CPU so
it is known to work). Weights: the real VGG16 and CycleGAN generator in ``../shared/weights`` by default;
images: Tübingen and Starry Night from ``../shared/images`` when present, else generated ones.
Results: ``benchmarks/results/gpu-<device>.md`` (or ``--out``), the machine named; a part that fails is
written down with its error and the others still run.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from measure import machine  # noqa: E402

import nst  # noqa: E402
from nst import cyclegan, memory  # noqa: E402
from nst.errors import ResourceError  # noqa: E402
from nst.geometry import Canvas  # noqa: E402
from nst.settings import Settings  # noqa: E402
from nst.tiles import halo  # noqa: E402

SHARED = ROOT.parent / "shared"
DEADLINE_S = 8 * 60


def picture(path: Path, fallback_seed: int) -> Image.Image:
    if path.is_file():
        return Image.open(path).convert("RGB")
    rng = np.random.default_rng(fallback_seed)
    y, x = np.mgrid[0:480, 0:640]
    base = np.stack([x / 640, y / 480, (x + y) / 1120], -1) * 255
    return Image.fromarray(np.clip(base + rng.normal(0, 20, base.shape), 0, 255).astype(np.uint8))


def sync() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def peak_reset() -> None:
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()


def peak_gb() -> str:
    return f"{torch.cuda.max_memory_allocated() / 1e9:.1f} GB" if torch.cuda.is_available() else "— (CPU)"


class Check:
    """Runs the parts in order within the deadline, and collects the table rows."""

    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.rows: list[str] = []

    def part(self, name: str, run: Callable[[], tuple[str, str, bool | None]]) -> None:
        """``run`` returns (measured, target, met); a failure or the deadline is written as the row."""
        if time.perf_counter() - self.start > DEADLINE_S:
            self.rows.append(f"| {name} | skipped: the {DEADLINE_S // 60} minutes were used up | | |")
            return
        try:
            measured, target, met = run()
        except Exception as exc:  # one part's failure is a finding, not the end of the check
            measured, target, met = f"failed: {type(exc).__name__}: {str(exc)[:200]}", "", False
        mark = "" if met is None else ("yes" if met else "**no**")
        self.rows.append(f"| {name} | {measured} | {target} | {mark} |")
        print(self.rows[-1], flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="toy sizes on any device (a smoke test)")
    ap.add_argument("--backbone", default="vgg16")
    ap.add_argument("--vgg-weights", default=str(SHARED / "weights" / "vgg16-imagenet-features.safetensors"))
    ap.add_argument(
        "--painter-weights", default=str(SHARED / "weights" / "cyclegan-vintage-generator.safetensors")
    )
    ap.add_argument("--content", default=str(SHARED / "images" / "content" / "tubingen.jpg"))
    ap.add_argument("--style", default=str(SHARED / "images" / "styles" / "starry_night.jpg"))
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    quick = args.quick
    device = "cuda" if torch.cuda.is_available() else "cpu"
    content, style = picture(Path(args.content), 1), picture(Path(args.style), 2)
    base = {"backbone": args.backbone, "seed": 0}
    run = dict(vgg_weights=args.vgg_weights, device=device)
    check = Check()

    def timed(**settings) -> tuple[float, nst.StyleResult]:
        sync()
        t = time.perf_counter()
        result = nst.stylize(content, style, **run, **{**base, **settings})
        sync()
        return time.perf_counter() - t, result

    t_load = time.perf_counter()
    timed(size=64 if quick else 256, steps=5, scales=1)  # loads the network, warms the kernels
    check.part("network loaded and warmed up", lambda: (f"{time.perf_counter() - t_load:.1f} s", "", None))

    small = 64 if quick else 512
    steps = 20 if quick else 300

    def lbfgs() -> tuple[str, str, bool | None]:
        timed(size=small, steps=3, scales=1)  # this size's kernels
        seconds, result = timed(size=small, steps=steps, scales=1)
        return (
            f"{seconds:.2f} s ({result.steps} steps, {result.image.size[0]}x{result.image.size[1]})",
            "< 3 s",
            (seconds < 3 if not quick else None),
        )

    check.part(f"{steps} L-BFGS steps at {small} px", lbfgs)

    big = 128 if quick else 1024

    def picture_time() -> tuple[str, str, bool | None]:
        seconds, result = timed(size=big, steps=30 if quick else 300, scales=2)
        return (
            f"{seconds:.2f} s ({result.steps} steps over 2 scales)",
            "< 10 s",
            seconds < 10 if not quick else None,
        )

    check.part(f"finished {big} px picture (GPU defaults: 300 steps, 2 scales)", picture_time)

    def painter() -> tuple[str, str, bool | None]:
        net = cyclegan.load_generator(weights=args.painter_weights, device=device)
        side = 64 if quick else 512
        x = torch.rand(1, 3, side, side, device=device)
        dtype = next(net.parameters()).dtype
        xin = (x * 2 - 1).to(dtype).contiguous(memory_format=torch.channels_last)
        times = []
        with torch.inference_mode():
            for _ in range(3 if quick else 23):
                sync()
                t = time.perf_counter()
                net(xin)
                sync()
                times.append(time.perf_counter() - t)
        forward = sorted(times[3:] or times)[len(times[3:] or times) // 2]
        photo = content.resize(Canvas.of(content).fit(side))
        sync()
        t = time.perf_counter()
        cyclegan.paint(photo, weights=args.painter_weights, device=device)
        sync()
        whole = time.perf_counter() - t
        return (
            f"generator {1000 * forward:.1f} ms ({dtype}, median); paint() {1000 * whole:.0f} ms with pre/post",
            "< 20 ms",
            forward < 0.02 if not quick else None,
        )

    check.part(f"CycleGAN at {64 if quick else 512} px", painter)

    def precisions() -> tuple[str, str, bool | None]:
        kinds = ["fp32", "bf16"] + (["fp16"] if device == "cuda" else [])
        finals = {
            p: timed(size=small, steps=20 if quick else 100, scales=1, precision=p)[1].losses[-1]["total"]
            for p in kinds
        }
        diffs = {p: abs(finals[p] - finals["fp32"]) / finals["fp32"] for p in kinds[1:]}
        text = (
            ", ".join(f"{p} {finals[p]:.4f}" for p in kinds)
            + "; "
            + ", ".join(f"{p} {100 * d:+.2f} %" for p, d in diffs.items())
        )
        return text, "within 2 %", all(d < 0.02 for d in diffs.values())

    check.part(f"autocast against fp32 ({small} px, same seed)", precisions)

    def largest_whole() -> tuple[str, str, bool | None]:
        with budget("0.05" if quick else None):
            settings = Settings(**base, size=64)
            h = halo(args.backbone, settings.taps())
            size = 64
            step = 32 if quick else 256
            while size + step <= memory.max_size_for(torch.device(device)):
                try:
                    # a square of the size, as memory.check_memory plans it before the picture is read
                    plan = memory.plan_scale(
                        Canvas(size + step, size + step), settings, torch.device(device), h
                    )
                except ResourceError:  # not even in tiles: certainly not whole
                    break
                if plan.tile is not None:
                    break
                size += step
            peak_reset()
            seconds, result = timed(size=size, steps=3, scales=1)
            return (
                f"{result.image.size[0]}x{result.image.size[1]} px whole: {seconds / 3:.2f} s per step "
                f"(3 steps, targets included), peak {peak_gb()}",
                "",
                None,
            )

    check.part("largest whole size", largest_whole)

    def tiled() -> tuple[str, str, bool | None]:
        size = 256 if quick else 8192
        settings = Settings(**base, size=size)
        plan = memory.plan_scale(
            Canvas.of(content).fit(size),
            settings,
            torch.device(device),
            halo(args.backbone, settings.taps()),
        )
        # Where the whole picture fits (a GPU with more memory than the budget's model needs), tiles are forced.
        forced = {"tile_size": 128 if quick else 2048} if plan.tile is None or quick else {}
        peak_reset()
        seconds, result = timed(size=size, steps=3, scales=1, **forced)
        notes = "; ".join(result.notes) or "not tiled"
        return (
            f"{result.image.size[0]}x{result.image.size[1]} px: {seconds / 3:.1f} s per step (3 steps, targets "
            f"included), peak {peak_gb()}; {notes}",
            "",
            None,
        )

    check.part(f"{256 if quick else 8192} px tiled", tiled)

    name = torch.cuda.get_device_name().replace(" ", "-").lower() if device == "cuda" else "cpu-quick"
    out = Path(args.out) if args.out else ROOT / "benchmarks" / "results" / f"gpu-{name}.md"
    lines = [
        f"## GPU check — {time.strftime('%Y-%m-%d %H:%M')}{' (--quick)' if quick else ''}",
        "",
        f"Machine: {machine()}. `python benchmarks/gpu_check.py{' --quick' if quick else ''}`, backbone "
        f"{args.backbone}, {time.perf_counter() - check.start:.0f} s in all.",
        "",
        "| part | measured | target | met |",
        "|---|---|---|---|",
        *check.rows,
        "",
    ]
    with out.open("a") as f:
        f.write("\n".join(lines))
    print("\n".join(lines))


@contextlib.contextmanager
def budget(gb: str | None):
    """NST_MEMORY_GB set to ``gb`` for the block (None: left as it is)."""
    old = os.environ.get("NST_MEMORY_GB")
    if gb is not None:
        os.environ["NST_MEMORY_GB"] = gb
    try:
        yield
    finally:
        if gb is not None:
            if old is None:
                del os.environ["NST_MEMORY_GB"]
            else:
                os.environ["NST_MEMORY_GB"] = old


if __name__ == "__main__":
    main()
