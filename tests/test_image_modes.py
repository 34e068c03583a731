"""Every pixel mode PIL opens becomes the right RGB picture, or is refused in one sentence.

Each case writes a real file (PNG, TIFF, or JPEG for YCbCr: PIL writes YCbCr TIFFs it cannot
read back) and reads it through :func:`nst.images.load_image`; modes PIL writes to no file
(``La``, ``RGBa``, ``HSV``, ``I;16N``) are given as PIL images. TIFF kinds PIL cannot write
(unsigned and 16-bit signed integers, several float channels) are written byte by byte here.
Expected colours come from the textbook formulas, not from PIL.
"""

from __future__ import annotations

import colorsys
import io
import struct

import numpy as np
import pytest
from PIL import Image

from nst.errors import ImageError
from nst.images import load_image

SIZE = (32, 16)


def tiff_bytes(arr: np.ndarray, sample_format: int, photometric: int | None = None) -> bytes:
    """A little-endian, uncompressed, one-strip TIFF of ``arr`` (HxW or HxWxN), as the spec lays it out.

    ``sample_format`` is TIFF tag 339: 1 unsigned integer, 2 signed integer, 3 float.
    """
    arr = np.ascontiguousarray(arr, dtype=arr.dtype.newbyteorder("<"))
    height, width = arr.shape[:2]
    samples = 1 if arr.ndim == 2 else arr.shape[2]
    data = arr.tobytes()
    photometric = (1 if samples < 3 else 2) if photometric is None else photometric
    ifd_at = 8 + len(data)
    tags = [(256, width), (257, height), (258, arr.dtype.itemsize * 8), (259, 1), (262, photometric)]
    tags += [(273, 8), (277, samples), (278, height), (279, len(data)), (339, sample_format)]
    extra_at = ifd_at + 2 + 12 * len(tags) + 4
    entries, extra = b"", b""
    for tag, value in tags:
        if tag in (258, 339) and samples > 1:  # one value per sample, stored after the directory
            entries += struct.pack("<HHII", tag, 3, samples, extra_at + len(extra))
            extra += struct.pack(f"<{samples}H", *[value] * samples)
        elif tag in (256, 257, 273, 278, 279):
            entries += struct.pack("<HHII", tag, 4, 1, value)
        else:
            entries += struct.pack("<HHIHH", tag, 3, 1, value, 0)
    ifd = struct.pack("<H", len(tags)) + entries + b"\0\0\0\0"
    return b"II*\0" + struct.pack("<I", ifd_at) + data + ifd + extra


def _solid(mode: str, value) -> Image.Image:
    return Image.new(mode, SIZE, value)


def _palette(rgb: tuple[int, int, int], mode: str = "P", alpha: int | None = None) -> Image.Image:
    im = Image.new(mode, SIZE, 1 if alpha is None else (1, alpha))
    im.putpalette([0, 0, 0, *rgb] + [0] * 762)
    return im


def _on_white(rgb, alpha: float) -> tuple[float, ...]:
    """``rgb`` seen at opacity ``alpha`` (0..1) over white."""
    return tuple(c * alpha + 255 * (1 - alpha) for c in rgb)


def _lab_to_srgb(lab: tuple[float, float, float]) -> tuple[float, ...]:
    """CIE L*a*b* to 8-bit sRGB, as ICC colour management does it (PIL's LAB mode, like Photoshop's,
    is relative to the D50 white): Lab to XYZ (D50), Bradford adaptation to D65, then sRGB."""
    L, a, b = lab
    fy = (L + 16) / 116
    fx, fz = fy + a / 500, fy - b / 200

    def finv(t):
        return t**3 if t > 6 / 29 else 3 * (6 / 29) ** 2 * (t - 4 / 29)

    xyz_d50 = np.array([0.96422 * finv(fx), finv(fy), 0.82521 * finv(fz)])
    bradford = [
        [0.9555766, -0.0230393, 0.0631636],
        [-0.0282895, 1.0099416, 0.0210077],
        [0.0122982, -0.0204830, 1.3299098],
    ]
    to_srgb = [
        [3.2404542, -1.5371385, -0.4985314],
        [-0.9692660, 1.8760108, 0.0415560],
        [0.0556434, -0.2040259, 1.0572252],
    ]
    linear = np.array(to_srgb) @ np.array(bradford) @ xyz_d50
    gamma = [12.92 * c if c <= 0.0031308 else 1.055 * c ** (1 / 2.4) - 0.055 for c in linear]
    return tuple(min(max(c, 0.0), 1.0) * 255 for c in gamma)


# PIL's LAB mode stores L* scaled to 0..255 and a*, b* offset by 128.
_LAB = (60, 150, 100)
_LAB_REAL = (60 * 100 / 255, 150 - 128, 100 - 128)
_HSV = (170, 200, 180)
_YCBCR = (100, 50, 200)

# (case, image, suffix to save it as, or None to hand the PIL image over, expected RGB)
SOLID = [
    ("1", _solid("1", 1), ".png", (255, 255, 255)),
    ("L", _solid("L", 64), ".png", (64, 64, 64)),
    ("P", _palette((10, 200, 30)), ".png", (10, 200, 30)),
    ("PA", _palette((0, 0, 255), "PA", 128), ".tiff", _on_white((0, 0, 255), 128 / 255)),
    ("LA", _solid("LA", (64, 128)), ".png", _on_white((64, 64, 64), 128 / 255)),
    # Premultiplied: the stored grey is already grey * alpha.
    ("La", _solid("La", (32, 128)), None, (32 + 127, 32 + 127, 32 + 127)),
    ("RGB", _solid("RGB", (10, 20, 30)), ".png", (10, 20, 30)),
    ("RGBA", _solid("RGBA", (200, 100, 0, 64)), ".png", _on_white((200, 100, 0), 64 / 255)),
    ("RGBa", _solid("RGBa", (50, 60, 70, 128)), None, (50 + 127, 60 + 127, 70 + 127)),
    ("RGBX", _solid("RGBX", (10, 20, 30, 0)), ".tiff", (10, 20, 30)),
    # Naive CMYK: each channel is (1 - ink) * (1 - black).
    ("CMYK", _solid("CMYK", (0, 128, 255, 64)), ".tiff", (191, 127 * 191 / 255, 0)),
    # JFIF: R = Y + 1.402 (Cr-128), G = Y - 0.344136 (Cb-128) - 0.714136 (Cr-128), B = Y + 1.772 (Cb-128).
    ("YCbCr", _solid("YCbCr", _YCBCR), ".jpg", (200.9, 75.4, 0)),
    ("YCbCr-image", _solid("YCbCr", _YCBCR), None, (200.9, 75.4, 0)),
    ("LAB", _solid("LAB", _LAB), ".tiff", _lab_to_srgb(_LAB_REAL)),
    ("HSV", _solid("HSV", _HSV), None, tuple(255 * c for c in colorsys.hsv_to_rgb(*(v / 255 for v in _HSV)))),
    # 16-bit: a quarter of the full range is a quarter grey (63.75).
    ("I;16", _solid("I;16", 16384), ".tiff", (63.75,) * 3),
    ("I;16L", _solid("I;16L", 16384), ".tiff", (63.75,) * 3),
    ("I;16B", _solid("I;16B", 16384), ".tiff", (63.75,) * 3),
    ("I;16N", _solid("I;16N", 16384), None, (63.75,) * 3),
    ("I;16-png", _solid("I;16", 49152), ".png", (191.25,) * 3),
    # 8-bit values in a 32-bit image (an "L" image converted to "I") keep their 8-bit meaning.
    ("I-8bit-values", _solid("I", 64), ".tiff", (64, 64, 64)),
    ("I-16bit-values", _solid("I", 16384), ".tiff", (63.75,) * 3),
    ("F", _solid("F", 0.25), ".tiff", (63.75,) * 3),
    (
        "F-negative-and-over",
        Image.fromarray(np.repeat([[-0.5, 1.0]], 16, 0).repeat(16, 1).astype("f4")),
        ".tiff",
        None,
    ),
]


@pytest.mark.parametrize("case, im, suffix, expected", SOLID, ids=[c[0] for c in SOLID])
def test_mode_becomes_the_right_colour(tmp_path, case, im, suffix, expected):
    if suffix is None:
        out = load_image(im)
    else:
        path = tmp_path / f"{case}{suffix}"
        im.save(path)
        out = load_image(path)
    assert out.mode == "RGB" and out.size == im.size
    pixels = np.asarray(out, dtype=float)
    if expected is None:  # float below 0 is black, above 1 is white
        assert pixels[0, 0].tolist() == [0, 0, 0] and pixels[0, -1].tolist() == [255, 255, 255]
        return
    assert np.abs(pixels - np.array(expected)).max() <= 1.5, (case, pixels[0, 0], expected)


def _gradient(low: int, high: int, dtype) -> tuple[np.ndarray, np.ndarray]:
    """A left-to-right ramp from ``low`` to ``high`` (both ends included), and its expected grey."""
    steps = np.linspace(0.0, 1.0, 64)
    values = np.array([low + round(s * (high - low)) for s in steps], dtype=object)
    row = values.astype(dtype)
    return np.repeat(row[None, :], 16, 0), 255 * steps


@pytest.mark.parametrize(
    "case, low, high, dtype, sample_format",
    [
        ("int32-full-range", -(2**31), 2**31 - 1, np.int32, 2),
        ("int32-non-negative", 0, 2**31 - 1, np.int32, 2),
        ("uint32-full-range", 0, 2**32 - 1, np.uint32, 1),
        ("int16-full-range", -(2**15), 2**15 - 1, np.int16, 2),
        ("uint16-full-range", 0, 2**16 - 1, np.uint16, 1),
        ("int32-8bit-values", 0, 255, np.int32, 2),
    ],
)
def test_integer_tiff_is_scaled_from_its_range(tmp_path, case, low, high, dtype, sample_format):
    arr, grey = _gradient(low, high, dtype)
    path = tmp_path / f"{case}.tiff"
    path.write_bytes(tiff_bytes(arr, sample_format))
    out = np.asarray(load_image(path), dtype=float)
    assert np.abs(out[:, :, 0] - grey[None, :]).max() <= 1, (case, out[0, ::8, 0], grey[::8])
    assert (out[..., 0] == out[..., 1]).all() and (out[..., 0] == out[..., 2]).all()


def test_int32_saved_by_pil_spans_black_to_white(tmp_path):
    """The issue's file: a 32-bit TIFF whose values span the int32 range came out pure white."""
    arr, grey = _gradient(-(2**31), 2**31 - 1, np.int32)
    Image.fromarray(arr).save(tmp_path / "i32.tiff")
    out = np.asarray(load_image(tmp_path / "i32.tiff"), dtype=float)
    assert np.abs(out[:, :, 0] - grey[None, :]).max() <= 1


@pytest.mark.parametrize("bad, word", [(np.nan, "NaN"), (np.inf, "infinite"), (-np.inf, "infinite")])
def test_float_with_nan_or_inf_is_refused(tmp_path, bad, word):
    arr = np.full(SIZE[::-1], 0.5, np.float32)
    arr[3, 5] = bad
    path = tmp_path / "float.tiff"
    Image.fromarray(arr).save(path)
    with pytest.raises(ImageError, match=rf"^'{path}' has {word} .*values") as caught:
        load_image(path)
    assert "save it again" in str(caught.value)
    with pytest.raises(ImageError, match=rf"^style image has {word}"):
        load_image(path, "style image")


@pytest.mark.parametrize("samples", [2, 3, 4])
@pytest.mark.parametrize("dtype, sample_format", [(np.float32, 3), (np.int32, 2)])
def test_multichannel_32bit_tiff_is_refused(tmp_path, samples, dtype, sample_format):
    """PIL reads no TIFF with several 32-bit channels; the refusal is one sentence naming the file."""
    path = tmp_path / "many.tiff"
    path.write_bytes(tiff_bytes(np.zeros((16, 16, samples), dtype), sample_format))
    with pytest.raises(ImageError, match=rf"^'{path}' is not an image file that can be read"):
        load_image(path)


def test_uint32_tiff_given_as_a_pil_image():
    """A caller's opened TIFF keeps its tags (an upright image is not copied), so it reads as unsigned."""
    arr, grey = _gradient(0, 2**32 - 1, np.uint32)
    out = np.asarray(load_image(Image.open(io.BytesIO(tiff_bytes(arr, 1)))), dtype=float)
    assert np.abs(out[:, :, 0] - grey[None, :]).max() <= 1


@pytest.mark.parametrize("samples", [3, 4])
def test_16bit_colour_tiff_keeps_its_colour(tmp_path, samples):
    """PIL reads 16-bit RGB(A) TIFFs as 8-bit RGB(A): a quarter, a half and all of the range."""
    arr = np.empty((16, 32, samples), np.uint16)
    arr[...] = [16384, 32768, 65535, 65535][:samples]
    path = tmp_path / "rgb16.tiff"
    path.write_bytes(tiff_bytes(arr, 1))
    out = np.asarray(load_image(path), dtype=float)
    assert np.abs(out - [63.75, 127.5, 255]).max() <= 1


@pytest.mark.parametrize(
    ("dtype", "low", "high"),
    [
        (np.uint16, 0, 65535),
        (np.int16, -32768, 32767),
        (np.int32, -(2**31), 2**31 - 1),
        (np.uint32, 0, 2**32 - 1),
        (np.float32, 0.0, 65535.0),
    ],
    ids=["uint16", "int16", "int32", "uint32", "float-0-65535"],
)
def test_arrays_from_python_are_scaled_like_files(dtype, low, high):
    """An array handed to load_image follows the files' rule: a full-range ramp spans black to white, its
    quarter point is a quarter grey (it was clipped to 255: all but the darkest pixels white)."""
    ramp = np.linspace(low, high, 64 * 32).reshape(32, 64)
    arr = np.round(ramp).astype(dtype) if np.dtype(dtype).kind != "f" else ramp.astype(dtype)
    grey = np.asarray(load_image(arr))[:, :, 0].reshape(-1)
    assert grey[0] == 0 and grey[-1] == 255
    assert abs(int(grey[len(grey) // 4]) - 64) <= 1, grey[len(grey) // 4]


def test_arrays_beyond_32_bits_or_with_nan_are_refused():
    with pytest.raises(
        ImageError, match="the image array has pixel values from 0 to 1099511627776, beyond 32 bits"
    ):
        load_image(np.full((32, 32), 2**40, dtype=np.int64))
    with pytest.raises(ImageError, match=r"the image array has NaN \(not-a-number\) pixel values"):
        load_image(np.full((32, 32), np.nan, dtype=np.float32))
