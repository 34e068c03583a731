"""keep_faces: faces found (and none where there are none), their mask, and its weight in both losses.

The detector is the real MTCNN of facenet-pytorch (its weights come inside the package); the networks of
the runs are the tests' tiny random VGGs. The losses with a face are checked against a computation written
here from the documented formulas, at the first step of a run whose starting image is known.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

import nst
from nst import faces, requests
from nst.faces import Face, face_mask, find_faces
from nst.geometry import Canvas
from nst.images import image_to_tensor, load_image, resize_to
from nst.settings import Settings
from nst.vgg import VGGFeatures
from support.pictures import make_picture, texture

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "content"
#: The astronaut's face in examples/content/astronaut.jpg (512 x 512): the middle of her eyes and mouth.
ASTRONAUT_FACE = (224, 115)


def astronaut(side: int) -> Image.Image:
    return load_image(EXAMPLES / "astronaut.jpg", "photo", side)


def test_finds_the_one_face_of_the_astronaut_at_the_apps_sizes():
    for side in (128, 256, 512):
        found = find_faces(astronaut(side))
        assert len(found) == 1, (side, found)
        left, top, right, bottom = found[0].box
        x, y = (v * side / 512 for v in ASTRONAUT_FACE)
        assert left < x < right and top < y < bottom, (side, found[0])
        assert 0.1 * side < right - left < 0.25 * side, "a face's width, not the head and shoulders"
        assert found[0].score >= faces.MIN_SCORE


def test_a_poster_is_looked_at_shrunk_and_its_boxes_scaled_back(monkeypatch):
    """A 3072 px photo is looked at 1024 px (MTCNN's pyramid starts at the picture's own size: 4.8 s and
    1.7 GB more at 4096 px); the face's box is in the poster's pixels, where the 1024 px box times 3 is."""
    poster = astronaut(512).resize((3072, 3072), Image.Resampling.BICUBIC)
    detector, sizes = faces._detector(), []
    real_detect = detector.detect
    monkeypatch.setattr(detector, "detect", lambda im: sizes.append(im.size) or real_detect(im))
    (big,) = find_faces(poster)
    (small,) = find_faces(poster.resize((1024, 1024), Image.Resampling.LANCZOS))
    assert sizes == [(1024, 1024), (1024, 1024)]
    np.testing.assert_allclose(big.box, [3 * v for v in small.box], rtol=0.02)


@pytest.mark.parametrize(
    "picture",
    [
        lambda: make_picture(256, 192, seed=1),
        lambda: texture(200, 256, seed=4),
        lambda: Image.new("RGB", (256, 256), (128, 128, 128)),
        lambda: Image.fromarray(np.random.default_rng(0).integers(0, 256, (256, 256, 3), dtype=np.uint8)),
        lambda: load_image(EXAMPLES / "coffee.jpg", "photo", 256),
        lambda: load_image(EXAMPLES / "rocket.jpg", "photo", 256),
    ],
    ids=["gradients", "texture", "gray", "noise", "coffee", "rocket"],
)
def test_no_face_is_found_where_there_is_none(picture):
    assert find_faces(picture()) == ()


def test_a_photo_without_faces_is_painted_bit_for_bit_as_with_keep_faces_off(
    vgg19_env, content_path, style_path
):
    fast = Settings(size=48, steps=4, scales=2, precision="fp32")
    auto = nst.stylize(content_path, style_path, fast.replace(keep_faces="auto"))
    off = nst.stylize(content_path, style_path, fast.replace(keep_faces="off"))
    assert auto.faces == () and off.faces is None
    assert np.array_equal(np.asarray(auto.image), np.asarray(off.image))
    assert auto.losses == off.losses


def _expected_mask(face: Face, found_on: Canvas, canvas: Canvas, x: float, y: float) -> float:
    """The documented mask at one pixel centre, written out: an ellipse WIDEN x HEIGHTEN the box's half sides,
    raised by RAISE of its height, 1 inside and a raised cosine down to 0 over FEATHER of its radius."""
    sx, sy = canvas.width / found_on.width, canvas.height / found_on.height
    left, top, right, bottom = face.box
    cx, cy = (left + right) / 2 * sx, ((top + bottom) / 2 - faces.RAISE * (bottom - top)) * sy
    a, b = (right - left) / 2 * sx * faces.WIDEN, (bottom - top) / 2 * sy * faces.HEIGHTEN
    r = math.hypot((x - cx) / a, (y - cy) / b)
    if r <= 1:
        return 1.0
    if r >= 1 + faces.FEATHER:
        return 0.0
    return (1 + math.cos(math.pi * (r - 1) / faces.FEATHER)) / 2


def test_the_face_mask_is_the_documented_soft_ellipse_on_any_canvas():
    face = Face((40.0, 30.0, 80.0, 90.0), 0.99)
    found_on = Canvas(160, 120)
    for canvas in (Canvas(160, 120), Canvas(80, 60), Canvas(320, 240)):
        mask = face_mask([face], found_on, canvas)[0, 0]
        assert mask.shape == (canvas.height, canvas.width)
        expected = torch.tensor(
            [
                [_expected_mask(face, found_on, canvas, x + 0.5, y + 0.5) for x in range(canvas.width)]
                for y in range(canvas.height)
            ]
        )
        torch.testing.assert_close(mask, expected, atol=1e-5, rtol=0)
        assert 0 < float(mask.mean()) < 0.5 and float(mask.max()) == 1.0 and float(mask.min()) == 0.0
    two = face_mask([face, Face((100.0, 10.0, 140.0, 50.0), 0.98)], found_on, found_on)[0, 0]
    assert float(two[30, 120]) == 1.0 and float(two[60, 60]) == 1.0, "every face kept, not only the first"


def test_a_settings_keep_faces_and_its_strength():
    assert Settings().keep_faces == "auto" and Settings().finds_faces
    assert Settings(keep_faces=False).keep_faces == "off" and Settings(keep_faces=True).keep_faces == "auto"
    assert not Settings(keep_faces="OFF ").finds_faces and not Settings(face_strength=0).finds_faces
    with pytest.raises(nst.SettingsError, match=r"^keep_faces: 'always' is not one of auto, off"):
        Settings(keep_faces="always")
    with pytest.raises(nst.SettingsError, match=r"^face_strength: .*1\.5"):
        Settings(face_strength=1.5)


#: A face in the 64 x 48 test photo (found "by" a stand-in detector: the wiring, not MTCNN, is under test).
FACE = Face((20.0, 8.0, 44.0, 40.0), 0.99)


@pytest.fixture
def one_face(monkeypatch) -> list:
    seen: list = []

    def detect(photo: Image.Image) -> tuple[Face, ...]:
        seen.append(photo.size)
        return (FACE,)

    monkeypatch.setattr(requests, "find_faces", detect)
    return seen


def _independent_losses(settings: Settings, net: VGGFeatures, content, style, x) -> dict[str, float]:
    """Content and style losses of image ``x`` with the face kept, from the formulas in the docs: the content
    MSE at relu4_2 with each position weighted 1 + CONTENT_GAIN * strength * mask (averaged to the grid),
    over the target's mean square; the Gram loss of each style layer with the output's positions weighted
    q = 1 - strength * mask, G = sum q f f^T / sum q, times the region's share mean(q), over its value
    for G = 0; both times their weights."""
    s = settings.face_strength
    layers = (*settings.content_layers, *settings.style_layers)
    with torch.no_grad():
        fx, fc, fs = (net(t, layers) for t in (x, content, style))
    mask = face_mask([FACE], Canvas.of(content), Canvas.of(x))

    def pooled(layer: str) -> torch.Tensor:
        return F.adaptive_avg_pool2d(mask, fx[layer].shape[-2:])

    (cl,) = settings.content_layers
    gain = 1 + faces.CONTENT_GAIN * s * pooled(cl)
    content_loss = float((gain * (fx[cl] - fc[cl]) ** 2).mean() / fc[cl].pow(2).mean())
    style_loss = 0.0
    for layer in settings.style_layers:
        f = fx[layer][0].flatten(1).double()
        q = (1 - s * pooled(layer)).flatten().double()
        gram = (f * q) @ f.T / q.sum()
        fst = fs[layer][0].flatten(1).double()
        target = fst @ fst.T / fst.shape[1]
        style_loss += float(q.mean() * (gram - target).pow(2).sum() / target.pow(2).sum()) / len(
            settings.style_layers
        )
    return {"content": settings.content_weight * content_loss, "style": settings.style_weight * style_loss}


@pytest.mark.parametrize("strength", [0.4, 1.0])
def test_the_face_mask_weighs_both_losses_as_documented(vgg19_env, vgg19_state, one_face, tmp_path, strength):
    """The first step's losses (at the known noise start) of a run with a face equal the formulas computed
    here; without the face, they differ (so the face, and where it is, is what the numbers depend on)."""
    make_picture(64, 48, seed=1).save(tmp_path / "photo.png")
    make_picture(48, 48, seed=2).save(tmp_path / "style.png")
    settings = Settings(
        size=64,
        steps=1,
        init="noise",
        seed=5,
        precision="fp32",
        tv_weight=0.0,
        style_layers=("relu1_1", "relu2_1", "relu3_1"),
        face_strength=strength,
        content_weight=3.0,
    )
    result = nst.stylize(tmp_path / "photo.png", tmp_path / "style.png", settings)
    assert one_face == [(64, 48)] and result.faces == (FACE,)
    net = VGGFeatures("vgg19", vgg19_state, pooling=settings.pooling)
    content = image_to_tensor(Image.open(tmp_path / "photo.png").convert("RGB"))
    style = image_to_tensor(resize_to(Image.open(tmp_path / "style.png").convert("RGB"), Canvas(64, 64)))
    x = torch.rand((1, 3, 48, 64), generator=torch.Generator().manual_seed(settings.seed))
    expected = _independent_losses(settings, net, content, style, x)
    got = result.losses[0]
    assert got["content"] == pytest.approx(expected["content"], rel=1e-4)
    assert got["style"] == pytest.approx(expected["style"], rel=1e-4)
    off = nst.stylize(
        tmp_path / "photo.png", tmp_path / "style.png", settings.replace(keep_faces="off")
    ).losses[0]
    assert abs(off["content"] / got["content"] - 1) > 0.02 and abs(off["style"] / got["style"] - 1) > 0.002


def test_faces_are_looked_for_only_when_keep_faces_is_on(vgg19_env, one_face, content_path, style_path):
    run = Settings(size=40, steps=1, precision="fp32")
    assert nst.stylize(content_path, style_path, run.replace(keep_faces="off")).faces is None
    assert nst.stylize(content_path, style_path, run.replace(face_strength=0)).faces is None
    assert one_face == []
    assert nst.stylize(content_path, style_path, run).faces == (FACE,)
