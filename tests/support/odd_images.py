"""Odd image files, each with what every front end must do with it: convert it in the documented
way (``nst.images``) or refuse it with the package's message.

Shared by the CLI and app reliability tests, so the package, the command line and the API are
held to the same list. Every file is built in memory from a few pixels; the decompression bomb is
a real 20000 x 20000 PNG (400 megapixels of zeros, about 390 KB compressed), built once.
"""

from __future__ import annotations

import functools
import io
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

RED, GREEN, BLUE, WHITE = (220, 20, 30), (20, 200, 40), (30, 40, 210), (255, 255, 255)


def _save(im: Image.Image, fmt: str, **kwargs) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format=fmt, **kwargs)
    return buf.getvalue()


def halves(width: int, height: int, left: tuple, right: tuple, mode: str = "RGB") -> Image.Image:
    """Left half one colour, right half another."""
    arr = np.zeros((height, width, 3), np.uint8)
    arr[:, : width // 2] = left
    arr[:, width // 2 :] = right
    return Image.fromarray(arr, "RGB").convert(mode) if mode != "RGB" else Image.fromarray(arr, "RGB")


def png16() -> bytes:
    """16-bit grayscale, a ramp from 0 (left) to 65535 (right): must be scaled to 8 bits, not clipped."""
    ramp = np.linspace(0, 65535, 64).round().astype(np.uint16)
    return _save(Image.fromarray(np.tile(ramp, (24, 1))), "PNG")


def cmyk(fmt: str) -> bytes:
    return _save(Image.new("RGB", (40, 24), RED).convert("CMYK"), fmt)


def palette_with_transparency() -> bytes:
    """Palette PNG: index 0 (black in the palette) is transparent on the left half, blue on the right."""
    im = Image.new("P", (32, 24), 0)
    im.putpalette([0, 0, 0, *BLUE] + [0, 0, 0] * 254)
    im.paste(1, (16, 0, 32, 24))
    return _save(im, "PNG", transparency=0)


def rgba() -> bytes:
    """RGBA: fully transparent red on the left (must come out white), opaque blue on the right."""
    im = Image.new("RGBA", (32, 24), RED + (0,))
    im.paste(BLUE + (255,), (16, 0, 32, 24))
    return _save(im, "PNG")


def animated(fmt: str) -> bytes:
    frames = [Image.new("RGB", (32, 24), c) for c in (RED, GREEN, BLUE)]
    extra = {"lossless": True} if fmt == "WEBP" else {}
    return _save(frames[0], fmt, save_all=True, append_images=frames[1:], duration=100, loop=0, **extra)


def exif_rotated() -> bytes:
    """Stored 40x20, red left / blue right, EXIF orientation 6 (display rotated 90 degrees clockwise):
    upright it is 20x40, red on top, blue below."""
    exif = Image.Exif()
    exif[0x0112] = 6
    return _save(halves(40, 20, RED, BLUE), "JPEG", quality=95, exif=exif.tobytes())


def grayscale_jpeg() -> bytes:
    ramp = np.linspace(0, 255, 48).round().astype(np.uint8)
    return _save(Image.fromarray(np.tile(ramp, (20, 1)), "L"), "JPEG", quality=95)


def truncated_png() -> bytes:
    rng = np.random.default_rng(0)
    data = _save(Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)), "PNG")
    return data[: len(data) // 2]


def tiff_cut_in_its_header() -> bytes:
    """The first 10 bytes of a TIFF: PIL warns "Corrupt EXIF data" on its way to refusing it."""
    return _save(Image.new("RGB", (20, 20), RED), "TIFF")[:10]


@functools.cache
def bomb_png(side: int = 20_000) -> bytes:
    """A real PNG of side x side black pixels (8-bit gray): a few hundred KB that decode to 400 MB."""

    def chunk(tag: bytes, payload: bytes) -> bytes:
        return struct.pack(">I", len(payload)) + tag + payload + struct.pack(">I", zlib.crc32(tag + payload))

    packer = zlib.compressobj(6)
    rows = b"\x00" * (side + 1) * 1000  # filter byte + pixels, 1000 rows at a time
    idat = b"".join(packer.compress(rows) for _ in range(side // 1000)) + packer.flush()
    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def close(a, b, tol: int) -> bool:
    return bool(np.abs(np.asarray(a, int) - np.asarray(b, int)).max() <= tol)


def _check_png16(arr: np.ndarray) -> None:
    expected = np.linspace(0, 255, 64).round()
    assert (arr[..., 0] == arr[..., 1]).all() and (arr[..., 1] == arr[..., 2]).all(), "gray stays gray"
    assert close(arr[0, :, 0], expected, 1), f"16-bit values are scaled, not clipped: {arr[0, ::8, 0]}"


def _check_colour(colour: tuple, tol: int) -> Callable[[np.ndarray], None]:
    def check(arr: np.ndarray) -> None:
        assert close(arr.reshape(-1, 3).mean(0), colour, tol), arr.reshape(-1, 3).mean(0)

    return check


def _check_left_white_right_blue(arr: np.ndarray) -> None:
    w = arr.shape[1]
    assert close(arr[:, : w // 2 - 1], WHITE, 0), "transparent pixels are composited onto white"
    assert close(arr[:, w // 2 + 1 :], BLUE, 0)


def _check_red_top_blue_bottom(arr: np.ndarray) -> None:
    h = arr.shape[0]
    assert close(arr[: h // 2 - 3].reshape(-1, 3).mean(0), RED, 12), "EXIF orientation applied: red on top"
    assert close(arr[h // 2 + 3 :].reshape(-1, 3).mean(0), BLUE, 12)


def _check_gray_ramp(arr: np.ndarray) -> None:
    assert (arr[..., 0] == arr[..., 1]).all() and (arr[..., 1] == arr[..., 2]).all()
    assert arr[:, 0, 0].mean() < 10 and arr[:, -1, 0].mean() > 245


@dataclass(frozen=True)
class Odd:
    """An odd input: ``refused`` is the regex of the package's message, else the conversion's
    expected ``size`` (width, height) and a ``check`` of the RGB pixels."""

    name: str
    suffix: str
    data: Callable[[], bytes]
    refused: str | None = None
    size: tuple[int, int] | None = None
    check: Callable[[np.ndarray], None] | None = None

    def write(self, folder: Path) -> Path:
        path = folder / f"{self.name}{self.suffix}"
        path.write_bytes(self.data())
        return path


CONVERTED = [
    Odd("png16", ".png", png16, size=(64, 24), check=_check_png16),
    Odd("cmyk-jpeg", ".jpg", lambda: cmyk("JPEG"), size=(40, 24), check=_check_colour(RED, 8)),
    Odd("cmyk-tiff", ".tif", lambda: cmyk("TIFF"), size=(40, 24), check=_check_colour(RED, 2)),
    Odd(
        "palette-transparent",
        ".png",
        palette_with_transparency,
        size=(32, 24),
        check=_check_left_white_right_blue,
    ),
    Odd("rgba", ".png", rgba, size=(32, 24), check=_check_left_white_right_blue),
    Odd("animated-gif", ".gif", lambda: animated("GIF"), size=(32, 24), check=_check_colour(RED, 8)),
    Odd("animated-webp", ".webp", lambda: animated("WEBP"), size=(32, 24), check=_check_colour(RED, 2)),
    Odd("exif-rotated", ".jpg", exif_rotated, size=(20, 40), check=_check_red_top_blue_bottom),
    Odd("grayscale", ".jpg", grayscale_jpeg, size=(48, 20), check=_check_gray_ramp),
]

REFUSED = [
    Odd("zero-bytes", ".png", lambda: b"", refused=r"is empty \(0 bytes\)"),
    Odd(
        "truncated",
        ".png",
        truncated_png,
        refused=r"could not be decoded; the file looks damaged or truncated",
    ),
    Odd(
        "tiff-cut-in-header", ".tif", tiff_cut_in_its_header, refused=r"is not an image file that can be read"
    ),
    Odd(
        "not-an-image",
        ".jpg",
        lambda: b"milk, eggs, flour\n" * 20,
        refused=r"is not an image file that can be read",
    ),
    Odd(
        "one-pixel",
        ".png",
        lambda: _save(Image.new("RGB", (1, 1), RED), "PNG"),
        refused=r"is 1x1 pixels; images must be at least 16 pixels on each side",
    ),
    Odd(
        "bomb-20000x20000",
        ".png",
        bomb_png,
        refused=r"(too large|20000x20000 pixels) \(400 megapixels\); the limit is 50 megapixels",
    ),
    Odd(
        "aspect-30-to-1",
        ".png",
        lambda: _save(halves(600, 20, RED, BLUE), "PNG"),
        refused=r"is 600x20 pixels, an aspect ratio of 30\.0:1; the limit is 12:1",
    ),
]
