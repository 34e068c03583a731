"""Speed of the Gatys engine against the PyTorch-tutorial-style reference, same process, same inputs.

For each size: both run the same number of L-BFGS steps on the same objective (same layers,
weights and per-layer constants, content init, no TV), timed from images-as-tensors to
result (targets included, weight loading excluded). Reported: steps/s, wall time, peak
memory (CUDA: max allocated; CPU: peak RSS growth sampled every 5 ms), and the final content
and style losses of both outputs evaluated with one common evaluator.

    python benchmarks/bench_gatys.py [--sizes 256 512] [--steps 30] [--backbone vgg16]
        [--vgg-weights FILE] [--device auto] [--out benchmarks/results/gatys-<machine>.md]

Without --vgg-weights it uses ../shared/weights/vgg16-imagenet-features.safetensors for vgg16,
or random weights (same architecture, same speed) for vgg19.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from pathlib import Path

import torch
from measure import append_results, machine

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from reference_tutorial import run_reference  # noqa: E402

import nst  # noqa: E402
from nst import targets  # noqa: E402
from nst.devices import pick_device  # noqa: E402
from nst.geometry import Canvas  # noqa: E402
from nst.images import image_to_tensor, load_image, resize_to  # noqa: E402
from nst.layers import layer_names  # noqa: E402
from nst.losses import ContentLoss, GramStyleLoss  # noqa: E402
from nst.settings import Settings  # noqa: E402
from nst.vgg import VGGFeatures  # noqa: E402
from nst.weights import load_vgg  # noqa: E402

SHARED = ROOT.parent / "shared"
CONTENT = SHARED / "images" / "content" / "tubingen.jpg"
STYLE = SHARED / "images" / "styles" / "starry_night.jpg"


class PeakRSS:
    """Peak resident memory growth during a block, sampled in a thread (CPU runs)."""

    def __init__(self) -> None:
        self.peak = 0

    @staticmethod
    def rss() -> int:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    def __enter__(self):
        import ctypes
        import gc

        gc.collect()
        try:  # hand freed heap pages back, so the baseline is what is really in use
            ctypes.CDLL("libc.so.6").malloc_trim(0)
        except OSError:
            pass
        self.base, self.peak, self.running = self.rss(), 0, True
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()
        return self

    def _sample(self) -> None:
        while self.running:
            self.peak = max(self.peak, self.rss() - self.base)
            time.sleep(0.005)

    def __exit__(self, *exc):
        self.running = False
        self.thread.join()
        self.peak = max(self.peak, self.rss() - self.base)


def measure(fn, device: torch.device):
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        t = time.perf_counter()
        out = fn()
        torch.cuda.synchronize()
        return out, time.perf_counter() - t, torch.cuda.max_memory_allocated()
    with PeakRSS() as mem:
        t = time.perf_counter()
        out = fn()
        elapsed = time.perf_counter() - t
    return out, elapsed, mem.peak


def evaluate(
    net: VGGFeatures, settings: Settings, content: torch.Tensor, style: torch.Tensor, image: torch.Tensor
):
    """Both outputs scored by one evaluator, in float32."""
    terms = targets.build_terms(settings.replace(precision="fp32"), net, content, [style])
    taps = sorted({layer for t, _ in terms for layer in t.layers})
    with torch.no_grad():
        feats = net(image, taps)
        return {t.name: float(w * t(feats, image)) for t, w in terms}


def bench_size(
    size: int,
    steps: int,
    backbone: str,
    weights: str | None,
    device: torch.device,
    reps: int,
    precision: str = "auto",
) -> dict:
    settings = Settings(
        backbone=backbone, size=size, steps=steps, tv_weight=0.0, init="content", precision=precision
    )
    content_img, style_img = load_image(CONTENT), load_image(STYLE)
    net = load_vgg(backbone, settings.pooling, weights, device)
    content_img = resize_to(content_img, Canvas.of(content_img).fit(size))
    # The tutorial's model needs the style image at the content's size; give both the same.
    style_img = style_img.resize(content_img.size)
    content = image_to_tensor(content_img, device)
    style = image_to_tensor(style_img, device)

    # Reference: same objective (constants taken from the engine's own terms).
    terms = dict(
        (t.name, t) for t, _ in targets.build_terms(settings.replace(precision="fp32"), net, content, [style])
    )
    c_term, s_term = terms["content"], terms["style"]
    assert isinstance(c_term, ContentLoss) and isinstance(s_term, GramStyleLoss)
    style_scales = {layer: s_term.scales[layer] * w for layer, w in zip(s_term.layers, s_term.weights)}
    plain = torch.nn.Sequential(*[m for m in net.features])
    names = layer_names(backbone)[: len(plain)]

    def ours():
        result = nst.stylize(content_img, style_img, settings, device=device, vgg_weights=weights)
        return image_to_tensor(result.image, device), result.steps

    def reference():
        out = run_reference(
            plain,
            names,
            content,
            style,
            steps,
            settings.content_layers,
            settings.style_layers,
            style_scales,
            {layer: c_term.scales[layer] / len(c_term.layers) for layer in c_term.layers},
            settings.style_weight,
            settings.content_weight,
        )
        return out, steps

    rows = {}
    for name, fn in (("reference", reference), ("nst", ours), ("reference", reference), ("nst", ours))[
        : 2 * reps
    ]:
        (image, n), seconds, peak = measure(fn, device)
        losses = evaluate(net, settings, content, style, image)
        best = rows.get(name)
        if best is None or seconds < best["seconds"]:
            rows[name] = {
                "seconds": seconds,
                "steps": n,
                "steps_per_s": n / seconds,
                "peak_mb": peak / 2**20,
                **losses,
            }
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--backbone", default="vgg16")
    ap.add_argument("--vgg-weights", default=None)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--precision", default="auto", help="the engine's precision setting (auto, fp32, bf16)")
    ap.add_argument("--reps", type=int, default=1, help="runs of each; the fastest counts")
    ap.add_argument("--out", default=None)
    ap.add_argument("--note", default="", help="free text added to the results (what changed)")
    args = ap.parse_args()
    device = pick_device(args.device)
    weights = args.vgg_weights
    if weights is None and args.backbone == "vgg16":
        weights = str(SHARED / "weights" / "vgg16-imagenet-features.safetensors")
    if weights is None:
        import torchvision
        from safetensors.torch import save_file

        torch.manual_seed(0)
        path = Path("/tmp") / f"nst-bench-random-{args.backbone}.safetensors"
        save_file(
            {
                k: v.contiguous()
                for k, v in getattr(torchvision.models, args.backbone)().features.state_dict().items()
            },
            str(path),
        )
        weights = str(path)
    lines = [
        f"## Gatys engine vs tutorial-style reference — {time.strftime('%Y-%m-%d %H:%M')}",
        "",
        f"Machine: {machine()}; device {device}; backbone {args.backbone} ({Path(weights).name}); "
        f"{args.steps} L-BFGS steps, content init, no TV; engine precision {args.precision}; "
        f"best of {args.reps}. {args.note}",
        "",
        "| size | impl | steps | wall s | steps/s | peak MB | final content | final style | total | speed ratio |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for size in args.sizes:
        rows = bench_size(size, args.steps, args.backbone, weights, device, args.reps, args.precision)
        ratio = rows["nst"]["steps_per_s"] / rows["reference"]["steps_per_s"]
        for name in ("reference", "nst"):
            r = rows[name]
            lines.append(
                f"| {size} | {name} | {r['steps']} | {r['seconds']:.2f} | {r['steps_per_s']:.2f} | "
                f"{r['peak_mb']:.0f} | {r['content']:.4f} | {r['style']:.4f} | {r['content'] + r['style']:.4f} | "
                f"{f'{ratio:.2f}x' if name == 'nst' else ''} |"
            )
        print("\n".join(lines[-2:]), flush=True)
    out = Path(args.out) if args.out else ROOT / "benchmarks" / "results" / f"gatys-{device.type}.md"
    append_results(out, "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
