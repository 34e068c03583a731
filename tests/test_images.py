"""Image loading, conversion and the tensor round trip."""

import io

import numpy as np
import pytest
import torch
from PIL import Image

from nst.errors import ImageError
from nst.geometry import Canvas
from nst.images import (
    MAX_INPUT_PIXELS,
    image_to_tensor,
    load_image,
    resize_to,
    save_image,
    tensor_to_image,
)
from support.pictures import make_picture


def test_round_trip_is_bit_exact(tmp_path):
    im = make_picture(37, 23, seed=5)
    t = image_to_tensor(im)
    assert t.shape == (1, 3, 23, 37) and t.dtype == torch.float32
    assert 0.0 <= t.min() and t.max() <= 1.0
    back = tensor_to_image(t)
    assert np.array_equal(np.asarray(back), np.asarray(im))
    # Rounding, not truncation: 0.5/255 below a level still maps to that level.
    nudged = tensor_to_image(t - 0.4 / 255)
    assert np.array_equal(np.asarray(nudged), np.asarray(im))
    # Out-of-range values clamp instead of wrapping.
    wild = tensor_to_image(torch.tensor([-3.0, 0.5, 7.0]).view(1, 3, 1, 1).expand(1, 3, 2, 2))
    assert np.asarray(wild)[0, 0].tolist() == [0, 128, 255]


@pytest.mark.parametrize("mode", ["L", "RGBA", "P", "CMYK", "LA", "I;16", "I", "F"])
def test_modes_become_rgb(tmp_path, mode):
    src = make_picture(32, 20, seed=3)
    if mode == "I;16":
        arr = np.asarray(src.convert("L"), dtype=np.uint16) * 257
        im = Image.fromarray(arr)
    elif mode == "I":
        im = Image.fromarray(np.asarray(src.convert("L"), dtype=np.int32) * 257)
    elif mode == "F":
        im = Image.fromarray(np.asarray(src.convert("L"), dtype=np.float32) / 255.0)
    else:
        im = src.convert(mode)
    assert im.mode == mode
    path = tmp_path / ("x.tiff" if mode in ("CMYK", "I;16", "I", "F") else "x.png")
    im.save(path)
    out = load_image(path)
    assert out.mode == "RGB" and out.size == (32, 20)
    if mode in ("L", "I;16", "I", "F"):
        # High bit depths are scaled, not clipped: same grey levels as the 8-bit version.
        expected = np.asarray(src.convert("L"), dtype=int)
        assert np.abs(np.asarray(out)[..., 0].astype(int) - expected).max() <= 1


def test_transparency_composites_on_white(tmp_path):
    im = Image.new("RGBA", (20, 20), (255, 0, 0, 0))
    im.paste((0, 0, 255, 255), (0, 0, 10, 20))
    path = tmp_path / "a.png"
    im.save(path)
    out = np.asarray(load_image(path))
    assert out[5, 5].tolist() == [0, 0, 255]
    assert out[5, 15].tolist() == [255, 255, 255]


def test_exif_rotation_is_applied(tmp_path):
    im = make_picture(40, 20, seed=1)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise on display
    path = tmp_path / "r.jpg"
    im.save(path, exif=exif.tobytes())
    assert load_image(path).size == (20, 40)


def test_animated_gif_uses_first_frame(tmp_path):
    frames = [Image.new("RGB", (20, 20), c) for c in [(250, 0, 0), (0, 250, 0)]]
    path = tmp_path / "a.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:])
    px = np.asarray(load_image(path))[10, 10]
    assert px[0] > 200 and px[1] < 50


@pytest.mark.parametrize(
    "data, message",
    [
        (b"", "empty"),
        (b"this is plain text, not a picture", "not an image"),
    ],
)
def test_refuses_non_images(tmp_path, data, message):
    path = tmp_path / "bad.png"
    path.write_bytes(data)
    with pytest.raises(ImageError, match=message):
        load_image(path)


def test_refuses_truncated_file(tmp_path):
    buf = io.BytesIO()
    make_picture(64, 64, seed=1).save(buf, format="PNG")
    path = tmp_path / "cut.png"
    path.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    with pytest.raises(ImageError, match="damaged or truncated"):
        load_image(path)


def test_refuses_tiny_huge_and_thin(tmp_path):
    Image.new("RGB", (1, 1)).save(tmp_path / "one.png")
    with pytest.raises(ImageError, match="1x1 pixels; images must be at least 16"):
        load_image(tmp_path / "one.png", "content image")
    Image.new("RGB", (600, 20)).save(tmp_path / "thin.png")
    with pytest.raises(ImageError, match="aspect ratio of 30.0:1"):
        load_image(tmp_path / "thin.png")
    # A bomb: a tiny file that declares 20000 x 20000 pixels. Refused before decoding.
    Image.new("1", (20000, 20000)).save(tmp_path / "bomb.png")
    assert (tmp_path / "bomb.png").stat().st_size < 1_000_000
    with pytest.raises(ImageError, match="400 megapixels.*limit is 50 megapixels"):
        load_image(tmp_path / "bomb.png")
    assert 20000 * 20000 > MAX_INPUT_PIXELS


def test_resize_keeps_aspect_and_save_checks_suffix(tmp_path):
    im = make_picture(300, 200, seed=2)
    small = resize_to(im, Canvas.of(im).fit(96))
    assert small.size == (96, 64) and resize_to(small, Canvas(96, 64)) is small
    with pytest.raises(ImageError, match="suffix"):
        save_image(small, tmp_path / "out.xyz")
    with pytest.raises(ImageError, match="does not exist"):
        save_image(small, tmp_path / "missing" / "out.png")
    path = save_image(image_to_tensor(small), tmp_path / "out.png")
    assert np.array_equal(np.asarray(Image.open(path)), np.asarray(small))
