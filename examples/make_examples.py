"""Build the app's example gallery: ``examples/content/*.jpg``, ``examples/styles/*.jpg`` and the example
video ``examples/videos/coffee-pan.mp4``.

Everything here may be redistributed (see ``LICENSES.md``):

* photos bundled in scikit-image's ``skimage/data`` folder that scikit-image
  documents as public domain or CC0 (only read as files: ``pip install scikit-image`` is
  needed for this script, never by the project itself);
* painterly style images this script paints itself from seeded random numbers (numpy + PIL),
  dedicated to the public domain (CC0) like the rest of the generated files;
* a short video the script films itself: a camera panning across the coffee photo (its frames are
  crops of that CC0 photo), written with the project's own writer (``nst.clips``).

Run from anywhere: ``python examples/make_examples.py`` (``--skimage-data DIR`` to read the
files from a folder instead of the installed package). The output is deterministic for a
given numpy/PIL version; images are at most 512 px and saved as JPEG (quality 85).
"""

from __future__ import annotations

import argparse
import importlib.util
import math
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

HERE = Path(__file__).resolve().parent
SIZE = 512
QUALITY = 85

#: file in skimage/data -> (output name, folder, longest side)
SKIMAGE_FILES = {
    "astronaut.png": ("astronaut.jpg", "content"),
    "chelsea.png": ("chelsea.jpg", "content"),
    "coffee.png": ("coffee.jpg", "content"),
    "rocket.jpg": ("rocket.jpg", "content"),
}


def skimage_data_dir() -> Path:
    spec = importlib.util.find_spec("skimage")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit(
            "scikit-image is not installed: pip install scikit-image (only this script needs it), "
            "or pass --skimage-data DIR"
        )
    return Path(list(spec.submodule_search_locations)[0]) / "data"


def fit(im: Image.Image, longest: int = SIZE) -> Image.Image:
    scale = longest / max(im.size)
    if scale >= 1:
        return im
    return im.resize((round(im.width * scale), round(im.height * scale)), Image.Resampling.LANCZOS)


# ----------------------------------------------------------------------------- painted styles


def _palette_pick(
    rng: np.random.Generator, palette: list[tuple[int, int, int]], jitter: int = 18
) -> tuple[int, int, int]:
    c = np.array(palette[rng.integers(len(palette))]) + rng.integers(-jitter, jitter + 1, 3)
    return tuple(int(v) for v in np.clip(c, 0, 255))


def swirls(seed: int = 1) -> Image.Image:
    """Short strokes following a field of vortices, in night blues and star yellows."""
    rng = np.random.default_rng(seed)
    im = Image.new("RGB", (SIZE, SIZE), (22, 42, 92))
    draw = ImageDraw.Draw(im)
    centres = rng.uniform(0, SIZE, size=(6, 2))
    spins = rng.choice([-1.0, 1.0], size=6) * rng.uniform(0.6, 1.4, size=6)
    blues = [(30, 60, 140), (52, 94, 170), (90, 130, 200), (20, 40, 100), (120, 160, 210), (60, 110, 150)]
    lights = [(240, 210, 90), (250, 235, 150), (230, 180, 60), (200, 220, 230)]

    def angle(x: float, y: float) -> float:
        vx, vy = 0.35, 0.0
        for (cx, cy), s in zip(centres, spins):
            dx, dy = x - cx, y - cy
            r2 = dx * dx + dy * dy + 400.0
            vx += -s * dy * 2500.0 / r2 / math.sqrt(r2) * 8
            vy += s * dx * 2500.0 / r2 / math.sqrt(r2) * 8
        return math.atan2(vy, vx)

    for _ in range(5200):
        x, y = rng.uniform(0, SIZE, 2)
        near_centre = min(math.hypot(x - cx, y - cy) for cx, cy in centres) < 40
        colour = _palette_pick(rng, lights if (near_centre or rng.random() < 0.12) else blues)
        width = int(rng.integers(3, 7))
        points = [(x, y)]
        for _ in range(int(rng.integers(4, 10))):
            a = angle(x, y)
            x, y = x + 4 * math.cos(a), y + 4 * math.sin(a)
            points.append((x, y))
        draw.line(points, fill=colour, width=width, joint="curve")
    return im.filter(ImageFilter.SMOOTH)


def mosaic(seed: int = 2) -> Image.Image:
    """Stained glass: Voronoi cells of saturated colour with dark leading."""
    rng = np.random.default_rng(seed)
    n = 90
    pts = rng.uniform(0, SIZE, size=(n, 2))
    palette = [
        (200, 40, 40),
        (30, 90, 190),
        (240, 190, 40),
        (40, 150, 80),
        (140, 60, 160),
        (230, 120, 30),
        (60, 170, 190),
        (220, 220, 200),
    ]
    colours = np.array([_palette_pick(rng, palette, 25) for _ in range(n)], dtype=np.float64)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(np.float64)
    d = (xx[..., None] - pts[:, 0]) ** 2 + (yy[..., None] - pts[:, 1]) ** 2
    order = np.argsort(d, axis=-1)
    nearest, second = order[..., 0], order[..., 1]
    d1 = np.sqrt(np.take_along_axis(d, nearest[..., None], -1)[..., 0])
    d2 = np.sqrt(np.take_along_axis(d, second[..., None], -1)[..., 0])
    img = colours[nearest]
    shade = 0.85 + 0.15 * np.clip(d1 / 40.0, 0, 1)[..., None]  # lighter toward each cell's centre
    img = img * (1.15 - 0.3 * (1 - shade))
    lead = (d2 - d1) < 3.0
    img[lead] = (25, 22, 20)
    grain = rng.normal(0, 6, size=img.shape)
    return Image.fromarray(np.clip(img + grain, 0, 255).astype(np.uint8), "RGB")


def impasto(seed: int = 3) -> Image.Image:
    """Impressionist dabs along a smooth direction field, in a warm evening palette."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE] / SIZE
    sky = np.stack([230 - 60 * yy, 150 + 40 * np.sin(3 * xx), 90 + 80 * yy], axis=-1)
    im = Image.fromarray(np.clip(sky, 0, 255).astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(im)
    palette = [
        (240, 170, 70),
        (220, 100, 60),
        (250, 210, 120),
        (150, 70, 110),
        (90, 60, 120),
        (240, 140, 100),
        (70, 110, 150),
        (250, 235, 190),
    ]
    for _ in range(9000):
        x, y = rng.uniform(0, SIZE, 2)
        a = math.sin(x / 70.0) + math.cos(y / 55.0) + rng.normal(0, 0.25)
        length, width = rng.uniform(8, 20), rng.uniform(3, 7)
        dx, dy = math.cos(a) * length / 2, math.sin(a) * length / 2
        colour = _palette_pick(rng, palette, 22)
        draw.line([(x - dx, y - dy), (x + dx, y + dy)], fill=colour, width=int(width))
        draw.ellipse(
            [x + dx - width / 2, y + dy - width / 2, x + dx + width / 2, y + dy + width / 2], fill=colour
        )
    return im.filter(ImageFilter.SMOOTH_MORE)


def circles(seed: int = 4) -> Image.Image:
    """Concentric rings on a grid of coloured squares (after Kandinsky's colour studies)."""
    rng = np.random.default_rng(seed)
    cells = 4
    step = SIZE // cells
    palette = [
        (200, 50, 40),
        (240, 200, 60),
        (40, 80, 160),
        (30, 30, 40),
        (230, 120, 40),
        (60, 140, 90),
        (220, 210, 190),
        (150, 60, 120),
        (90, 170, 200),
    ]
    im = Image.new("RGB", (SIZE, SIZE))
    draw = ImageDraw.Draw(im)
    for i in range(cells):
        for j in range(cells):
            x0, y0 = i * step, j * step
            draw.rectangle([x0, y0, x0 + step, y0 + step], fill=_palette_pick(rng, palette, 10))
            cx, cy = x0 + step / 2 + rng.uniform(-8, 8), y0 + step / 2 + rng.uniform(-8, 8)
            r = step * rng.uniform(0.38, 0.46)
            while r > 6:
                draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=_palette_pick(rng, palette, 10))
                r *= rng.uniform(0.62, 0.8)
    arr = np.asarray(im.filter(ImageFilter.GaussianBlur(1.2)), dtype=np.float64)
    arr += rng.normal(0, 7, size=arr.shape)  # painted, not printed
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "RGB")


def watercolour(seed: int = 5) -> Image.Image:
    """Watercolour washes: translucent pools of pigment, darker at their rims, on grainy paper."""
    rng = np.random.default_rng(seed)
    paper = np.full((SIZE, SIZE, 3), (244, 238, 226), dtype=np.float64)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(np.float64)
    palette = [(40, 90, 160), (200, 80, 60), (230, 170, 60), (60, 130, 110), (130, 70, 130), (90, 60, 40)]
    for _ in range(70):
        cx, cy = rng.uniform(0, SIZE, 2)
        radius = rng.uniform(25, 90)
        angle = np.arctan2(yy - cy, xx - cx)
        edge = radius * (1 + 0.25 * np.sin(3 * angle + rng.uniform(0, 6)) + 0.1 * np.sin(7 * angle))
        dist = np.hypot(xx - cx, yy - cy) / edge
        inside = np.clip(1 - dist, 0, 1)
        density = 0.35 * (inside > 0) + 0.45 * np.exp(-((dist - 0.95) ** 2) / 0.004) * (dist < 1.05)
        pigment = np.array(palette[rng.integers(len(palette))], dtype=np.float64)
        paper = paper * (1 - density[..., None]) + pigment * density[..., None]
    grain = rng.normal(0, 6, size=(SIZE, SIZE, 1))
    im = Image.fromarray(np.clip(paper + grain, 0, 255).astype(np.uint8), "RGB")
    return im.filter(ImageFilter.GaussianBlur(1.0))


def woodcut(seed: int = 6) -> Image.Image:
    """A woodcut print: bold black cuts that flow with a field of directions, on warm paper, some red."""
    rng = np.random.default_rng(seed)
    im = Image.new("RGB", (SIZE, SIZE), (238, 226, 202))
    draw = ImageDraw.Draw(im)
    phase = rng.uniform(0, 2 * math.pi, 3)

    def angle(x: float, y: float) -> float:
        return (
            math.sin(x / 90 + phase[0]) * 1.4
            + math.cos(y / 70 + phase[1]) * 1.1
            + math.sin((x + y) / 150 + phase[2])
        )

    for y0 in np.arange(0, SIZE, 9.0):
        for x0 in np.arange(0, SIZE, 60.0):
            x, y = x0 + rng.uniform(0, 60), y0 + rng.uniform(-3, 3)
            points = [(x, y)]
            for _ in range(int(rng.integers(6, 16))):
                a = angle(x, y)
                x, y = x + 5 * math.cos(a), y + 5 * math.sin(a)
                points.append((x, y))
            ink = (175, 45, 35) if rng.random() < 0.06 else (24, 20, 18)
            draw.line(points, fill=ink, width=int(rng.integers(2, 5)), joint="curve")
    arr = np.asarray(im, dtype=np.float64) + rng.normal(0, 5, size=(SIZE, SIZE, 3))  # paper grain
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "RGB")


PAINTED = {
    "swirls.jpg": swirls,
    "mosaic.jpg": mosaic,
    "impasto.jpg": impasto,
    "circles.jpg": circles,
    "watercolour.jpg": watercolour,
    "woodcut.jpg": woodcut,
}


#: The example video: 24 frames at 12 fps of a 320x220 window sliding 4 px a frame across coffee.jpg,
#: each shrunk to 256x176 (the page's CPU size), no sound: small enough to keep in the repository.
PAN = {"frames": 24, "fps": 12, "window": (320, 220), "step": 4, "size": (256, 176)}


def pan_video(photo: Path, out: Path) -> None:
    """A camera panning across ``photo``, as an MP4 (H.264)."""
    from fractions import Fraction

    from nst.clips import ClipWriter

    (width, height), (w, h) = PAN["window"], PAN["size"]
    with Image.open(photo) as im, ClipWriter(out, Fraction(PAN["fps"]), crf=23) as writer:
        top = (im.height - height) // 2
        for k in range(PAN["frames"]):
            left = k * PAN["step"]
            writer.write(
                im.convert("RGB").crop((left, top, left + width, top + height)).resize((w, h), Image.LANCZOS)
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--skimage-data", type=Path, default=None, help="folder holding skimage's data files")
    parser.add_argument("--out", type=Path, default=HERE, help="where content/ and styles/ go [examples/]")
    args = parser.parse_args()
    data = args.skimage_data or skimage_data_dir()
    for folder in ("content", "styles"):
        (args.out / folder).mkdir(parents=True, exist_ok=True)
    for source, (name, folder) in SKIMAGE_FILES.items():
        im = Image.open(data / source)
        fit(im.convert("RGB")).save(args.out / folder / name, quality=QUALITY, optimize=True)
    for name, paint in PAINTED.items():
        paint().save(args.out / "styles" / name, quality=QUALITY, optimize=True)
    (args.out / "videos").mkdir(exist_ok=True)
    pan_video(args.out / "content" / "coffee.jpg", args.out / "videos" / "coffee-pan.mp4")
    for path in sorted((args.out / "content").glob("*.jpg")) + sorted((args.out / "styles").glob("*.jpg")):
        with Image.open(path) as im:
            print(f"{path.relative_to(args.out)}: {im.width}x{im.height}, {path.stat().st_size // 1024} KB")
    for path in sorted((args.out / "videos").glob("*.mp4")):
        print(f"{path.relative_to(args.out)}: {path.stat().st_size // 1024} KB")


if __name__ == "__main__":
    main()
