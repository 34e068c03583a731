"""Which face detector keep_faces uses: MTCNN (``nst.faces.find_faces``, from facenet-pytorch) against
OpenCV's Haar cascades, on accuracy, false positives, time and install weight.

Why: keep_faces needs every face of a photo at the sizes the app runs at (long side 256, 384, 512 px),
three-quarter and small ones included, and nothing found on a landscape or a painting. The two
candidates that install from PyPI with their models inside: facenet-pytorch 2.5.3 (MTCNN, three small
networks; 2.6.0 pins torch<2.3) and opencv-python-headless 4.x (Haar cascades; OpenCV 5 wheels no longer
ship the XML files). mediapipe is sized for information only: its wheel has no face model.

What, each picture resized with PIL's LANCZOS so that its longest side is the size:

1. **Faces**: MTCNN as ``find_faces`` runs it (``MIN_FACE``, ``MIN_SCORE``) and the Haar cascades
   frontalface_default, frontalface_alt2, profileface (run on the mirrored picture too, for the other
   side) and their union, each with scaleFactor 1.1, minNeighbors 5, minSize 16 x 16 on the gray picture.
   Ground truth is each face's centre: a box that contains a centre not yet counted is a hit, one that
   contains only counted centres a duplicate, any other a false positive. The pictures: insightface's
   ``t1.jpg`` (a group of six: frontal, three-quarter, near-profile; a framed portrait on the wall near
   (330, 85) is a real face too small to need, so a box on it counts as neither hit nor false positive),
   scikit-image's astronaut and camera (a three-quarter face half behind the camera) and matplotlib's
   Grace Hopper; and insightface's ``Tom_Hanks_54745.png``, a tight 112 x 112 face crop, found or not at
   112 and at 256 px. MTCNN's every box (down to its own last-stage threshold, 0.7) is listed with its
   score, and MIN_SCORE / MIN_FACE are swept over the whole set.
2. **False positives** at 256 and 512 px on face-free pictures: scikit-image's coffee, rocket, coins
   (Greek coins: the heads in relief are faces of a kind, reported apart), brick, page, hubble_deep_field,
   chelsea (a cat: reported apart), ``../shared/images`` content (tubingen, golden_gate,
   hoovertowernight) and starry_night and shipwreck; a uniform gray, seeded white noise and a gradient.
3. **Time** of one detection (median of ``--repeats``, after a warm-up) at 256 and 512 px, and the
   detector's load time.
4. **Install weight**: wheel and installed size (``du`` of the folders in this venv), bundled face
   models, and the packages each brings beyond the project's requirements.txt (``pip install --dry-run
   --report`` in a throwaway venv, with and without the package); that facenet-pytorch resolves to 2.5.3
   beside the project's torch range.

The insightface 2.1 wheel (1.2 MB) is fetched with ``pip download`` into ``~/.cache/nst-bench`` and its
two pictures read from the zip, never copied into the repository. Needs network for pip, and
scikit-image, matplotlib, opencv-python-headless and facenet-pytorch in the venv. Run by hand:

    python benchmarks/bench_face_detector.py [--repeats 7] [--no-install]
        [--out benchmarks/results/face-detector-cpu.md]

Appends to ``results/face-detector-cpu.md`` with the date and the machine.
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.measure import append_results, machine  # noqa: E402
from nst import faces  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
SHARED = ROOT.parent / "shared" / "images"
CACHE = Path.home() / ".cache" / "nst-bench"
SIZES = (256, 384, 512)
FREE_SIZES = (256, 512)
HAAR_ARGS = {"scaleFactor": 1.1, "minNeighbors": 5, "minSize": (16, 16)}
OPENCV, FACENET, INSIGHTFACE = (
    "opencv-python-headless==4.14.0.94",
    "facenet-pytorch==2.5.3",
    "insightface==2.1",
)

Box = tuple[float, float, float, float]


@dataclass
class Photo:
    """A picture with its faces' centres (and centres to ignore) in its own pixels."""

    image: Image.Image
    centres: list[tuple[float, float]]
    ignore: list[tuple[float, float]] = field(default_factory=list)


def pip(*args: str, python: str = sys.executable) -> subprocess.CompletedProcess:
    return subprocess.run([python, "-m", "pip", *args], check=True, capture_output=True, text=True)


def wheel(spec: str, into: Path) -> Path:
    """The wheel of ``spec`` (``name==version``, or a bare name for the newest), downloaded once."""
    name = spec.split("==")[0].replace("-", "_")
    version = spec.split("==")[1] if "==" in spec else None
    found = sorted(into.glob(f"{name}-{version or '*'}-*.whl"))
    if not found or version is None:
        into.mkdir(parents=True, exist_ok=True)
        pip("download", spec, "--no-deps", "-d", str(into))
        found = sorted(into.glob(f"{name}-{version or '*'}-*.whl"), key=lambda p: p.stat().st_mtime)
    return found[-1]


def insightface_images() -> dict[str, Image.Image]:
    with zipfile.ZipFile(wheel(INSIGHTFACE, CACHE / "wheels")) as z:
        return {
            name: Image.open(io.BytesIO(z.read(f"insightface/data/images/{name}"))).convert("RGB")
            for name in ("t1.jpg", "Tom_Hanks_54745.png")
        }


def face_photos(t1: Image.Image) -> dict[str, Photo]:
    """The pictures with faces. Every centre was checked by eye on the picture with the boxes drawn."""
    import matplotlib.cbook
    from skimage import data

    assert t1.size == (1280, 886), t1.size
    return {
        "t1 (group of 6)": Photo(
            t1,
            [(110, 320), (330, 200), (525, 320), (800, 395), (965, 125), (1180, 330)],
            ignore=[(330, 85)],  # the framed portrait on the wall
        ),
        "astronaut": Photo(Image.fromarray(data.astronaut()), [(224, 119)]),
        "camera (3/4, behind camera)": Photo(Image.fromarray(data.camera()).convert("RGB"), [(228, 155)]),
        "grace_hopper": Photo(
            Image.open(matplotlib.cbook.get_sample_data("grace_hopper.jpg")).convert("RGB"), [(266, 228)]
        ),
    }


def face_free() -> dict[str, Image.Image]:
    """Pictures without a human face (chelsea: a cat; coins: heads in relief), and synthetic ones."""
    from skimage import data

    pictures = {}
    for name in ("coffee", "rocket", "brick", "page", "hubble_deep_field", "coins", "chelsea"):
        try:
            pictures[name] = Image.fromarray(getattr(data, name)()).convert("RGB")
        except Exception as exc:  # a picture scikit-image would have to download
            print(f"skipping {name}: {exc}")
    for path in sorted((SHARED / "content").glob("*.jpg")) + [
        SHARED / "styles" / "starry_night.jpg",
        SHARED / "styles" / "shipwreck.jpg",
    ]:
        pictures[path.stem] = Image.open(path).convert("RGB")
    h, w = 384, 512
    pictures["uniform gray"] = Image.new("RGB", (w, h), (128, 128, 128))
    noise = np.random.default_rng(0).integers(0, 256, (h, w, 3), dtype=np.uint8)
    pictures["white noise (seed 0)"] = Image.fromarray(noise)
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    gradient = np.stack([255 * x / w, 255 * y / h, 255 * (1 - x / w) * 0.5 + 64], axis=-1)
    pictures["gradient"] = Image.fromarray(gradient.astype(np.uint8))
    return pictures


NOT_HUMAN = {"chelsea", "coins"}


def resized(image: Image.Image, side: int) -> tuple[Image.Image, float]:
    scale = side / max(image.size)
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return image.resize(size, Image.Resampling.LANCZOS), scale


# --- detectors: each takes an RGB picture and gives boxes (left, top, right, bottom) with scores or None


def mtcnn(image: Image.Image) -> list[tuple[Box, float | None]]:
    return [(f.box, f.score) for f in faces.find_faces(image)]


def mtcnn_raw(image: Image.Image, detector: object | None = None) -> list[tuple[Box, float | None]]:
    """Every box MTCNN gives (its own thresholds: 0.7 at the last stage), before MIN_SCORE."""
    with torch.inference_mode():
        boxes, scores = (detector or faces._detector()).detect(image)
    if boxes is None:
        return []
    boxes = np.asarray(boxes, dtype=np.float64)
    return [(tuple(b), float(s)) for b, s in zip(boxes, np.asarray(scores, dtype=np.float64))]


def haar_detectors() -> dict[str, Callable[[Image.Image], list[tuple[Box, float | None]]]]:
    import cv2

    cascades = {
        name: cv2.CascadeClassifier(cv2.data.haarcascades + f"haarcascade_{name}.xml")
        for name in ("frontalface_default", "frontalface_alt2", "profileface")
    }

    def run(gray: np.ndarray, name: str, mirrored: bool = False) -> list[tuple[Box, float | None]]:
        width = gray.shape[1]
        found = cascades[name].detectMultiScale(
            np.ascontiguousarray(gray[:, ::-1] if mirrored else gray), **HAAR_ARGS
        )
        boxes = []
        for x, y, w, h in np.asarray(found).reshape(-1, 4).tolist():
            left = width - x - w if mirrored else x
            boxes.append(((float(left), float(y), float(left + w), float(y + h)), None))
        return boxes

    def gray(image: Image.Image) -> np.ndarray:
        return cv2.cvtColor(np.asarray(image.convert("RGB")), cv2.COLOR_RGB2GRAY)

    def profiles(g: np.ndarray) -> list[tuple[Box, float | None]]:
        return run(g, "profileface") + run(g, "profileface", mirrored=True)

    return {
        "Haar default": lambda im: run(gray(im), "frontalface_default"),
        "Haar alt2": lambda im: run(gray(im), "frontalface_alt2"),
        "Haar profile (both sides)": lambda im: profiles(gray(im)),
        "Haar union": lambda im: (
            lambda g: run(g, "frontalface_default") + run(g, "frontalface_alt2") + profiles(g)
        )(gray(im)),
    }


# --- scoring


def contains(box: Box, point: tuple[float, float]) -> bool:
    return box[0] <= point[0] <= box[2] and box[1] <= point[1] <= box[3]


def judge(
    boxes: list[Box], centres: list[tuple[float, float]], ignore: list[tuple[float, float]]
) -> list[str]:
    """Each box's verdict, in order: "hit", "duplicate", "ignored" (the wall portrait) or "false positive"."""
    counted: set[int] = set()
    verdicts = []
    for box in boxes:
        inside = [i for i, c in enumerate(centres) if contains(box, c)]
        new = [i for i in inside if i not in counted]
        if new:
            counted.add(new[0])
            verdicts.append("hit")
        elif inside:
            verdicts.append("duplicate")
        elif any(contains(box, c) for c in ignore):
            verdicts.append("ignored")
        else:
            verdicts.append("false positive")
    return verdicts


def scaled(points: list[tuple[float, float]], scale: float) -> list[tuple[float, float]]:
    return [(x * scale, y * scale) for x, y in points]


def cell(hits: int, total: int, fps: int) -> str:
    return f"{hits}/{total}" + (f", **{fps} FP**" if fps else "")


def describe(box: Box, scale: float, score: float | None) -> str:
    """A box in the original picture's pixels, with its score if it has one."""
    left, top, right, bottom = (v / scale for v in box)
    text = f"{right - left:.0f}x{bottom - top:.0f} at ({left:.0f},{top:.0f})"
    return text + (f" score {score:.4f}" if score is not None else "")


# --- the parts


def accuracy(
    photos: dict[str, Photo], detectors: dict
) -> tuple[list[str], dict, list[str], list[tuple], list[str]]:
    """Table of hits and false positives per picture and size; totals; MTCNN's every box; raw results;
    where the false positives are."""
    names = list(detectors)
    lines = [
        "| picture | px | faces | " + " | ".join(names) + " |",
        "| --- | --- | --- | " + " | ".join("---" for _ in names) + " |",
    ]
    totals = {(n, s): [0, 0, 0] for n in names for s in SIZES}
    raw_rows, raw, notes = [], [], []
    for size in SIZES:
        for title, photo in photos.items():
            image, scale = resized(photo.image, size)
            centres, ignore = scaled(photo.centres, scale), scaled(photo.ignore, scale)
            cells = []
            for name in names:
                found = detectors[name](image)
                verdicts = judge([b for b, _ in found], centres, ignore)
                wrong = [describe(b, scale, s) for (b, s), v in zip(found, verdicts) if v == "false positive"]
                if wrong and name != "Haar union":
                    notes.append(f"- {name} on {title} at {size} px: " + ", ".join(wrong))
                hits, fps = verdicts.count("hit"), verdicts.count("false positive")
                for i, v in enumerate((hits, len(centres), fps)):
                    totals[name, size][i] += v
                cells.append(cell(hits, len(centres), fps))
            lines.append(
                f"| {title} | {image.width}x{image.height} | {len(centres)} | " + " | ".join(cells) + " |"
            )
            found = sorted(mtcnn_raw(image), key=lambda d: -(d[1] or 0))
            raw.append((title, size, found, centres, ignore))
            for (box, score), verdict in zip(found, judge([b for b, _ in found], centres, ignore)):
                kept = "yes" if score >= faces.MIN_SCORE else "no"
                raw_rows.append(
                    f"| {title} | {size} | {box[2] - box[0]:.0f}x{box[3] - box[1]:.0f} "
                    f"| {score:.4f} | {verdict} | {kept} |"
                )
        lines.append(
            f"| **all, {size} px** | | {totals[names[0], size][1]} | "
            + " | ".join(cell(*totals[n, size]).replace("**", "") for n in names)
            + " |"
        )
    return lines, totals, raw_rows, raw, notes


def false_positives(pictures: dict[str, Image.Image], detectors: dict) -> tuple[list[str], dict, list[str]]:
    names = list(detectors)
    lines = [
        "| picture | px | " + " | ".join(names) + " |",
        "| --- | --- | " + " | ".join("---" for _ in names) + " |",
    ]
    totals = {(n, group): 0 for n in names for group in ("human", "not human")}
    notes = []
    for size in FREE_SIZES:
        for title, picture in pictures.items():
            image, scale = resized(picture, size)
            cells = []
            for name in names:
                found = detectors[name](image)
                group = "not human" if title in NOT_HUMAN else "human"
                totals[name, group] += len(found)
                cells.append(f"**{len(found)}**" if found else "0")
                if found and name != "Haar union":
                    shown = ", ".join(describe(b, scale, s) for b, s in found)
                    notes.append(f"- {name} on {title} at {size} px: {shown}")
            label = title + (" (not a human face: reported apart)" if title in NOT_HUMAN else "")
            lines.append(f"| {label} | {image.width}x{image.height} | " + " | ".join(cells) + " |")
        # MTCNN below MIN_SCORE, for the record
        for title, picture in pictures.items():
            image, scale = resized(picture, size)
            for box, score in mtcnn_raw(image):
                if score < faces.MIN_SCORE:
                    notes.append(
                        f"- MTCNN below MIN_SCORE on {title} at {size} px: {describe(box, scale, score)}"
                    )
    lines.append(
        "| **all human-free, both sizes** | | "
        + " | ".join(f"**{totals[n, 'human']}**" for n in names)
        + " |"
    )
    lines.append(
        "| cat + coins, both sizes | | " + " | ".join(str(totals[n, "not human"]) for n in names) + " |"
    )
    return lines, totals, notes


def sweep(photos: dict[str, Photo], free: dict[str, Image.Image], raw: list[tuple]) -> list[str]:
    """Face hits and false positives over the whole set for other MIN_FACE and MIN_SCORE."""
    from facenet_pytorch import MTCNN

    scores = (0.7, 0.9, 0.95, 0.98, 0.99)
    lines = [
        "| MIN_FACE | " + " | ".join(f"MIN_SCORE {s}: hits, FP (faces), FP (free)" for s in scores) + " |",
        "| --- | " + " | ".join("---" for _ in scores) + " |",
    ]
    for min_face in (faces.MIN_FACE, 20):
        detector = MTCNN(keep_all=True, min_face_size=min_face, device="cpu").eval()
        runs = []
        if min_face == faces.MIN_FACE:
            runs = [(found, centres, ignore) for _, _, found, centres, ignore in raw]
        else:
            for size in SIZES:
                for photo in photos.values():
                    image, scale = resized(photo.image, size)
                    runs.append(
                        (
                            mtcnn_raw(image, detector),
                            scaled(photo.centres, scale),
                            scaled(photo.ignore, scale),
                        )
                    )
        free_runs = [
            mtcnn_raw(resized(picture, size)[0], detector)
            for size in FREE_SIZES
            for title, picture in free.items()
            if title not in NOT_HUMAN
        ]
        cells = []
        for threshold in scores:
            hits = fps = 0
            for found, centres, ignore in runs:
                kept = sorted((d for d in found if d[1] >= threshold), key=lambda d: -d[1])
                verdicts = judge([b for b, _ in kept], centres, ignore)
                hits += verdicts.count("hit")
                fps += verdicts.count("false positive")
            free_fps = sum(1 for found in free_runs for _, s in found if s >= threshold)
            total = sum(len(c) for _, c, _ in runs)
            cells.append(f"{hits}/{total}, {fps}, {free_fps}")
        lines.append(f"| {min_face} | " + " | ".join(cells) + " |")
    return lines


def tom_hanks(crop: Image.Image, detectors: dict) -> list[str]:
    names = list(detectors)
    lines = [
        "| picture | px | " + " | ".join(names) + " |",
        "| --- | --- | " + " | ".join("---" for _ in names) + " |",
    ]
    for side in (crop.width, 256):
        image = crop if side == crop.width else crop.resize((side, side), Image.Resampling.LANCZOS)
        cells = []
        for name in names:
            found = detectors[name](image)
            centre = (image.width / 2, image.height / 2)
            hit = [s for b, s in found if contains(b, centre)]
            text = "found" if hit else "**not found**"
            if hit and hit[0] is not None:
                text += f" ({hit[0]:.4f})"
            if len(found) > len(hit):
                text += f", {len(found) - len(hit)} other box(es)"
            cells.append(text)
        lines.append(f"| Tom_Hanks_54745.png | {side}x{side} | " + " | ".join(cells) + " |")
    return lines


def timing(detectors: dict, pictures: dict[str, Image.Image], repeats: int) -> tuple[list[str], dict]:
    """Median (and min) ms per detection with 1 thread and with torch's and OpenCV's default threads."""
    import os

    import cv2
    from facenet_pytorch import MTCNN

    start = time.perf_counter()
    mtcnn20 = MTCNN(keep_all=True, min_face_size=20, device="cpu").eval()
    load_mtcnn = time.perf_counter() - start
    start = time.perf_counter()
    for name in ("frontalface_default", "frontalface_alt2", "profileface"):
        cv2.CascadeClassifier(cv2.data.haarcascades + f"haarcascade_{name}.xml")
    load_haar = time.perf_counter() - start

    def with_min_face_20(image: Image.Image) -> list[tuple[Box, float | None]]:
        return [(b, s) for b, s in mtcnn_raw(image, mtcnn20) if s >= faces.MIN_SCORE]

    timed = {"MTCNN": detectors["MTCNN"], "MTCNN, MIN_FACE 20": with_min_face_20}
    timed |= {name: fn for name, fn in detectors.items() if name != "MTCNN"}
    names = list(timed)
    lines = [
        "| picture | px | threads | " + " | ".join(names) + " |",
        "| --- | --- | --- | " + " | ".join("---" for _ in names) + " |",
    ]
    medians: dict = {}
    default_torch, default_cv = torch.get_num_threads(), cv2.getNumThreads()
    load = os.getloadavg()
    for threads in (1, default_torch):
        torch.set_num_threads(threads)
        cv2.setNumThreads(threads)
        for size in FREE_SIZES:
            for title, picture in pictures.items():
                image, _ = resized(picture, size)
                cells = []
                for name in names:
                    timed[name](image)  # warm-up
                    times = []
                    for _ in range(repeats):
                        start = time.perf_counter()
                        timed[name](image)
                        times.append(1000 * (time.perf_counter() - start))
                    medians[name, size, title, threads] = statistics.median(times)
                    cells.append(f"{statistics.median(times):.0f} ({min(times):.0f})")
                lines.append(
                    f"| {title} | {image.width}x{image.height} | {threads} | " + " | ".join(cells) + " |"
                )
    torch.set_num_threads(default_torch)
    cv2.setNumThreads(default_cv)
    lines.append(
        f"\nMedian (min) of {repeats} after a warm-up; MTCNN's time is `find_faces`' (conversion and "
        f"filtering included), Haar's includes the gray conversion. Threads: torch's and OpenCV's, set alike; "
        f"the default here is {default_torch}. Load average when timing began: "
        f"{load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} (1 / 5 / 15 min) on {os.cpu_count()} cores: other jobs "
        "shared the CPU, which hurts torch's default threads most; the 1-thread rows are the steadier. "
        f"Load: MTCNN's three networks {1000 * load_mtcnn:.0f} ms (facenet_pytorch already imported), "
        f"the three cascades {1000 * load_haar:.0f} ms."
    )
    return lines, medians


def du_mb(paths: list[Path]) -> float:
    out = subprocess.run(["du", "-sk", *map(str, paths)], check=True, capture_output=True, text=True).stdout
    return sum(int(line.split()[0]) for line in out.splitlines()) * 1024 / 1e6


def dry_run(python: str, *requirements: str) -> dict[str, str]:
    """The packages a fresh install of requirements.txt plus ``requirements`` would bring, name: version."""
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        pip("install", "--dry-run", "--quiet", "--report", str(report), *requirements, python=python)
        installs = json.loads(report.read_text())["install"]
    return {i["metadata"]["name"].lower().replace("_", "-"): i["metadata"]["version"] for i in installs}


def install_weight() -> tuple[list[str], dict]:
    site = Path(sysconfig.get_paths()["purelib"])
    base_req = ("-r", str(ROOT / "requirements.txt"))
    rows, sizes, no_model = [], {}, []
    with tempfile.TemporaryDirectory() as tmp:
        wheels = Path(tmp) / "wheels"
        venv = Path(tmp) / "venv"
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        python = str(venv / "bin" / "python")
        base = dry_run(python, *base_req)
        found = {spec: wheel(spec, wheels) for spec in (OPENCV, FACENET, "mediapipe")}
        mediapipe_spec = "mediapipe==" + found["mediapipe"].name.split("-")[1]
        installed = {
            OPENCV: [site / "cv2", site / "opencv_python_headless.libs"],
            FACENET: [site / "facenet_pytorch"],
        }
        for spec, path in found.items():
            with zipfile.ZipFile(path) as z:
                unpacked = sum(i.file_size for i in z.infolist()) / 1e6
                names = z.namelist()
            models = [n for n in names if n.endswith((".tflite", ".pt", ".onnx", ".binarypb"))]
            models += [n for n in names if "haarcascade_" in n and n.endswith(".xml")]
            face_models = [n.rsplit("/", 1)[-1] for n in models if "face" in n or n.endswith(".pt")]
            pinned = mediapipe_spec if spec == "mediapipe" else spec
            if not face_models:
                no_model.append(pinned)
            try:
                extra = dry_run(python, *base_req, pinned)
                own = pinned.split("==")[0]
                new = sorted(f"{k} {v}" for k, v in extra.items() if k not in base and k != own)
                extras = ", ".join(new) or "nothing else"
            except subprocess.CalledProcessError as exc:
                extras = "does not resolve: " + exc.stderr.strip().splitlines()[-1][:200]
            wheel_mb = path.stat().st_size / 1e6
            du = f"{du_mb(installed[spec]):.1f}" if spec in installed else "(not installed)"
            sizes[pinned.split("==")[0]] = (wheel_mb, du)
            rows.append(
                f"| {pinned} | {path.name} | {wheel_mb:.1f} | {unpacked:.1f} | {du} "
                f"| {', '.join(face_models) or '**none**'} | {extras} |"
            )
        # facenet-pytorch beside the project's torch range, and why not 2.6.0
        resolved = dry_run(python, "facenet-pytorch", "torch>=2.11,<2.15")
        with zipfile.ZipFile(wheel("facenet-pytorch==2.6.0", wheels)) as z:
            meta = z.read("facenet_pytorch-2.6.0.dist-info/METADATA").decode()
        pins = [
            line.split(":", 1)[1].strip() for line in meta.splitlines() if line.startswith("Requires-Dist")
        ]
    lines = [
        "| package | wheel (linux x86_64, cp311) | wheel MB | unpacked MB | installed MB (`du`) "
        "| face models in the wheel | brings beyond requirements.txt |",
        "| --- | --- | --- | --- | --- | --- | --- |",
        *rows,
        "",
        *(
            f"{spec}: no model file in the wheel (no .tflite, .binarypb, .onnx or .pt); its "
            "`mediapipe.tasks` FaceDetector needs a `.tflite` model downloaded separately, so it is not "
            "a candidate."
            for spec in no_model
        ),
        f'`pip install --dry-run facenet-pytorch "torch>=2.11,<2.15"` (fresh venv) resolves to facenet-pytorch '
        f"**{resolved.get('facenet-pytorch')}** with torch {resolved.get('torch')}; facenet-pytorch 2.6.0 "
        f"requires {', '.join(pins)}.",
        "Installed = `du -sk` of cv2/ + opencv_python_headless.libs/, and of facenet_pytorch/, in this venv's "
        "site-packages; MB = 10^6 bytes. The extras are what a fresh `pip install -r requirements.txt <package>` "
        "adds to `pip install -r requirements.txt` (both `--dry-run --report`).",
    ]
    return lines, sizes


def verdict(acc: dict, free: dict, ms: dict, sizes: dict, wrong: list[str]) -> str:
    """The figures that decide, in a paragraph."""

    def per_size(name: str) -> str:
        return ", ".join(f"{acc[name, s][0]}/{acc[name, s][1]} at {s}" for s in SIZES) + " px"

    def fps(name: str) -> str:
        on_faces = sum(acc[name, s][2] for s in SIZES)
        return (
            f"{on_faces} false positive(s) on the face pictures, {free[name, 'human']} on the human-free "
            f"pictures ({free[name, 'not human']} on the cat and the coins)"
        )

    def timing_text(name: str) -> str:
        return " / ".join(f"{ms[name, s, 't1 (group of 6)', 1]:.0f}" for s in FREE_SIZES)

    cascades = ("Haar default", "Haar alt2", "Haar profile (both sides)")
    best = max(cascades, key=lambda n: sum(acc[n, s][0] for s in SIZES))
    parts = [
        f"**Verdict.** MTCNN (`find_faces`, MIN_FACE {faces.MIN_FACE}, MIN_SCORE {faces.MIN_SCORE}) found "
        f"{per_size('MTCNN')}, with {fps('MTCNN')}. The union of the Haar cascades found "
        f"{per_size('Haar union')}, with {fps('Haar union')}; the best single cascade, {best[5:]}, "
        f"{per_size(best)}, with {fps(best)}. "
        f"Time on t1 at 256 / 512 px, one thread: MTCNN {timing_text('MTCNN')} ms, the Haar union "
        f"{timing_text('Haar union')} ms, frontalface_default alone {timing_text('Haar default')} ms.",
    ]
    if "opencv-python-headless" in sizes and "facenet-pytorch" in sizes:
        cv_wheel, cv_du = sizes["opencv-python-headless"]
        fn_wheel, fn_du = sizes["facenet-pytorch"]
        parts.append(
            f"Install: opencv-python-headless {cv_wheel:.0f} MB wheel, {cv_du} MB installed; facenet-pytorch "
            f"{fn_wheel:.1f} MB wheel, {fn_du} MB installed (it runs on the torch and torchvision the project "
            "already has)."
        )
    if wrong:
        parts.append(
            "MTCNN boxes (any score down to its own 0.7) not on a human face: " + "; ".join(wrong) + "."
        )
    else:
        parts.append(
            "No MTCNN box, at any score down to its own last-stage 0.7, fell on anything but a face."
        )
    return " ".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--no-install", action="store_true", help="skip part 4 (pip dry-runs, downloads)")
    parser.add_argument("--out", default=str(RESULTS / "face-detector-cpu.md"))
    args = parser.parse_args()

    pictures = insightface_images()
    photos = face_photos(pictures["t1.jpg"])
    free = face_free()
    detectors = {"MTCNN": mtcnn, **haar_detectors()}

    acc_lines, acc, raw_rows, raw, acc_notes = accuracy(photos, detectors)
    free_lines, free_totals, notes = false_positives(free, detectors)
    sweep_lines = sweep(photos, free, raw)
    hanks_lines = tom_hanks(pictures["Tom_Hanks_54745.png"], detectors)
    timed = {"t1 (group of 6)": photos["t1 (group of 6)"].image, "coffee": free["coffee"]}
    time_lines, ms = timing(detectors, timed, args.repeats)
    weight_lines, sizes = install_weight() if not args.no_install else (["(skipped: --no-install)"], {})

    # every MTCNN box, at any score down to its own 0.7, that is not on a human face
    wrong = []
    for title, size, found, centres, ignore in raw:
        for (_, score), v in zip(found, judge([b for b, _ in found], centres, ignore)):
            if v in ("false positive", "ignored"):
                wrong.append(f"{v} on {title} at {size} px, score {score:.4f}")
    wrong += [n[2:] for n in notes if n.startswith("- MTCNN")]

    lines = [
        f"\n## {time.strftime('%Y-%m-%d')}, {machine()}\n",
        verdict(acc, free_totals, ms, sizes, wrong),
        "",
        "### 1. Faces found (hits/faces, and false positives)\n",
        "A box that contains a face's centre is a hit (each face once); a second box on a counted face is a "
        "duplicate (not shown, not a false positive); a box on the wall portrait of t1 is ignored. Haar: "
        "scaleFactor 1.1, minNeighbors 5, minSize 16x16, gray picture; profile run on the picture and its "
        "mirror; the union is all four runs.\n",
        *acc_lines,
        "",
        "False positives on the face pictures (box in the original picture's pixels; the union's are "
        "these):\n"
        if acc_notes
        else "No false positive on the face pictures.",
        *acc_notes,
        "",
        "Tom Hanks, a tight face crop (the box must contain the crop's centre):\n",
        *hanks_lines,
        "",
        f"MTCNN's every box on the face pictures (down to its last-stage threshold 0.7), with its score, "
        f"whether it is a face, and whether MIN_SCORE {faces.MIN_SCORE} keeps it:\n",
        "| picture | px | box w x h | score | verdict | kept |",
        "| --- | --- | --- | --- | --- | --- |",
        *raw_rows,
        "",
        "MTCNN with other thresholds, over the three sizes of the face pictures (hits/faces, false "
        "positives there) and the two sizes of the human-free pictures (false positives):\n",
        *sweep_lines,
        "",
        "### 2. False positives on pictures without a human face (boxes found)\n",
        *free_lines,
        "",
        *(notes or ["No box from any detector."]),
        "",
        "### 3. Time per detection (ms)\n",
        *time_lines,
        "",
        "### 4. Install weight\n",
        *weight_lines,
        "",
    ]
    append_results(args.out, "\n".join(lines))


if __name__ == "__main__":
    main()
