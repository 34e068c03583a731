"""Time CycleGAN painting at 512 px (and 1024 px, whole and tiled) through the public API.

    python benchmarks/bench_cyclegan.py [--repeats 5] [--device auto] [--out benchmarks/results]

Uses the real pretrained generator in ../shared/weights/cyclegan-vintage-generator.safetensors
when present (same architecture and cost as the Monet/Van Gogh generators, with affine norm);
otherwise a randomly initialised full-size generator, which costs exactly as much. Writes
``<out>/cyclegan-<machine>.md`` naming the CPU/GPU, core count and torch version.

Timings are wall-clock through :func:`nst.cyclegan.paint`, so they include converting the
image in and out; the generator is loaded and warmed up first (the first call on a new size
also pays oneDNN/cuDNN set-up, reported separately as "first call"). The machine's load
average is recorded because other processes on a small machine change the numbers.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from measure import cpu_model  # noqa: E402
from PIL import Image  # noqa: E402
from safetensors.torch import save_file  # noqa: E402

from nst import cyclegan  # noqa: E402
from nst.devices import pick_device  # noqa: E402
from nst.generator import ResnetGenerator  # noqa: E402
from nst.images import load_image  # noqa: E402

SHARED = ROOT.parent / "shared"
VINTAGE = SHARED / "weights" / "cyclegan-vintage-generator.safetensors"
PHOTO = SHARED / "images" / "content" / "tubingen.jpg"


def machine_name(device: torch.device) -> str:
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
    else:
        name = f"{cpu_model()}-{os.cpu_count()}cpu"
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def test_photo(width: int, height: int) -> Image.Image:
    """The real photo resized (or a synthetic one if ../shared is absent), at exactly width x height."""
    if PHOTO.is_file():
        return load_image(PHOTO).resize((width, height), Image.Resampling.LANCZOS)
    rng = np.random.default_rng(0)
    return Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8))


def _cpu_ticks() -> tuple[int, int]:
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return fields[3] + fields[4], sum(fields)  # idle + iowait, total


def wait_until_idle(max_wait: float, window: float = 1.0, threshold: float = 0.9) -> bool:
    """Wait (at most ``max_wait`` s) until the CPUs were ``threshold`` idle over ``window`` s.

    On a shared machine other processes change every timing; starting each timed call in a
    quiet moment and keeping the minimum estimates the uncontended time. Linux only.
    """
    if not Path("/proc/stat").is_file() or max_wait <= 0:
        return False
    deadline = time.monotonic() + max_wait
    while time.monotonic() < deadline:
        idle0, total0 = _cpu_ticks()
        time.sleep(window)
        idle1, total1 = _cpu_ticks()
        if total1 > total0 and (idle1 - idle0) / (total1 - total0) >= threshold:
            return True
    return False


QUIET_WAIT = 0.0  # set from --wait-idle


def time_paint(image: Image.Image, repeats: int, **kwargs) -> tuple[float, float, float, int]:
    """(first call, min, median seconds, calls started in a quiet moment) of cyclegan.paint."""
    start = time.perf_counter()
    cyclegan.paint(image, **kwargs)
    first = time.perf_counter() - start
    times, quiet = [], 0
    for _ in range(repeats):
        quiet += wait_until_idle(QUIET_WAIT)
        start = time.perf_counter()
        cyclegan.paint(image, **kwargs)
        times.append(time.perf_counter() - start)
    return first, min(times), statistics.median(times), quiet


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument("--skip-1024", action="store_true", help="only the 512 px measurements")
    parser.add_argument(
        "--wait-idle",
        type=float,
        default=0.0,
        metavar="S",
        help="before each timed call wait up to S seconds for the CPUs to be 90%% idle (shared machines)",
    )
    args = parser.parse_args()
    global QUIET_WAIT
    QUIET_WAIT = args.wait_idle

    device = pick_device(args.device)
    if VINTAGE.is_file():
        weights, which = (
            VINTAGE,
            f"real pretrained generator ../shared/weights/{VINTAGE.name} (affine instance norm)",
        )
    else:
        torch.manual_seed(0)
        weights = Path(tempfile.mkdtemp()) / "random-generator.safetensors"
        save_file({k: v.contiguous() for k, v in ResnetGenerator().state_dict().items()}, str(weights))
        which = "randomly initialised full-size generator (../shared absent; same cost)"

    load_start = time.perf_counter()
    cyclegan.load_generator(weights=weights, device=device)
    load_seconds = time.perf_counter() - load_start
    auto = cyclegan.resolve_dtype(device, "auto")
    rows = []

    def measure(label: str, image: Image.Image, **kwargs) -> None:
        first, best, median, quiet = time_paint(image, args.repeats, weights=weights, device=device, **kwargs)
        rows.append((label, f"{image.width}x{image.height}", first, best, median, quiet))
        print(
            f"{label:<46} {image.width}x{image.height}: first {first:.2f} s, min {best:.2f} s, median {median:.2f} s"
            f" ({quiet}/{args.repeats} started quiet)",
            flush=True,
        )

    load_before = os.getloadavg()
    photo512 = test_photo(512, 384)
    square512 = test_photo(512, 512)
    measure(f"512 px photo, precision auto ({str(auto).removeprefix('torch.')})", photo512)
    measure(f"512 px square, precision auto ({str(auto).removeprefix('torch.')})", square512)
    if auto != torch.float32:
        measure("512 px photo, float32", photo512, precision="float32")
        measure("512 px square, float32", square512, precision="float32")
    measure("512 px photo, brush scale 2", photo512, brush_scale=2.0)
    if not args.skip_1024:
        photo1024 = test_photo(1024, 768)
        measure("1024 px photo, whole image", photo1024, tile_size=None)
        measure("1024 px photo, 512 px tiles (6 tiles)", photo1024, tile_size=512)
        whole = np.asarray(
            cyclegan.paint(photo1024, weights=weights, device=device, tile_size=None), dtype=np.int16
        )
        tiled = np.asarray(
            cyclegan.paint(photo1024, weights=weights, device=device, tile_size=512), dtype=np.int16
        )
        diff = np.abs(whole - tiled)
        tile_note = (
            f"1024x768, 512 px tiles vs whole image: mean {diff.mean():.2f}, 99th percentile "
            f"{np.percentile(diff, 99):.0f}, max {diff.max()} levels of 255 (tiles normalise with their own "
            f"statistics; see nst.cyclegan._run_tiled)"
        )
        print(tile_note)
    load_after = os.getloadavg()

    if device.type == "cuda":
        hardware = f"{torch.cuda.get_device_name(device)} (CUDA {torch.version.cuda})"
    else:
        hardware = f"{cpu_model()}, {os.cpu_count()} logical CPUs"
    lines = [
        f"# CycleGAN timings on {hardware}",
        "",
        f"- device: {device}; torch {torch.__version__}, {torch.get_num_threads()} intra-op threads; "
        f"bfloat16 measured faster on this CPU: {cyclegan.cpu_bfloat16_is_faster()}",
        f"- Python {platform.python_version()}, {platform.system()} {platform.release()}",
        f"- weights: {which}; loading them took {load_seconds:.2f} s",
        f"- load average (1, 5, 15 min) before: {', '.join(f'{v:.2f}' for v in load_before)}; "
        f"after: {', '.join(f'{v:.2f}' for v in load_after)} (other processes slow every number)",
        f"- {args.repeats} timed calls of `nst.cyclegan.paint` after one untimed first call"
        + (
            f", each started after waiting (up to {args.wait_idle:g} s) for the CPUs to be 90% idle for 1 s"
            if args.wait_idle > 0
            else ""
        )
        + f"; date {time.strftime('%Y-%m-%d %H:%M')}",
        "",
        "| case | size | first call (s) | min (s) | median (s) | calls started quiet |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    lines += [
        f"| {label} | {size} | {first:.2f} | {best:.2f} | {median:.2f} | {quiet}/{args.repeats} |"
        for label, size, first, best, median, quiet in rows
    ]
    if not args.skip_1024:
        lines += ["", f"Tiled vs whole: {tile_note}."]
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"cyclegan-{machine_name(device)}.md"
    path.write_text("\n".join(lines) + "\n")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
