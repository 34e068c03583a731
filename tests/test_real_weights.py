"""Checks with real pretrained VGG16 weights and real pictures from ../shared (skipped when absent)."""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import nst
from nst.methods import METHODS
from nst.settings import Settings
from support.shared import SHARED

WEIGHTS = SHARED / "weights" / "vgg16-imagenet-features.safetensors"
CONTENT = SHARED / "images" / "content" / "tubingen.jpg"
STYLE = SHARED / "images" / "styles" / "starry_night.jpg"


@pytest.fixture
def real_vgg16() -> Path:
    if not (WEIGHTS.is_file() and CONTENT.is_file() and STYLE.is_file()):
        reason = f"real-weights check skipped: {WEIGHTS} or the images in {SHARED / 'images'} are absent"
        print(reason)
        pytest.skip(reason)
    return WEIGHTS


def test_real_vgg16_style_loss_falls_content_stays(real_vgg16):
    result = nst.stylize(
        CONTENT, STYLE, Settings(backbone="vgg16", size=128, steps=40), vgg_weights=real_vgg16, device="cpu"
    )
    first, last = result.losses[0], result.losses[-1]
    assert first["content"] == 0.0
    assert last["style"] < first["style"] / 5, (first, last)  # relu taps at 40 steps: about 9x
    # Content is traded for style, but the photo must stay recognisable: relative feature error < 1.
    assert last["content"] / Settings().content_weight < 1.0
    assert result.image.size == (128, 96)


def colour_statistics(image: Image.Image) -> np.ndarray:
    pixels = np.asarray(image.convert("RGB"), dtype=np.float64).reshape(-1, 3) / 255
    return np.concatenate([pixels.mean(0), pixels.std(0)])


def test_the_photorealistic_default_carries_the_styles_colour_and_light(real_vgg16):
    """Golden Gate styled by Hoover Tower at night with the photorealistic method's defaults: the picture's
    colour mean and spread move at least halfway from the photo's to the night photo's."""
    photo, night = (
        SHARED / "images" / "content" / "golden_gate.jpg",
        SHARED / "images" / "content" / "hoovertowernight.jpg",
    )
    settings = METHODS["photorealistic"].settings(
        {"backbone": "vgg16", "size": 128, "steps": 40, "scales": 2}
    )
    result = nst.stylize(photo, night, settings, vgg_weights=real_vgg16, device="cpu")
    start, target = colour_statistics(Image.open(photo)), colour_statistics(Image.open(night))
    moved = 1 - np.linalg.norm(colour_statistics(result.image) - target) / np.linalg.norm(start - target)
    assert moved >= 0.5, moved
    assert result.losses[-1]["photo"] < 1.0, "and it stays a photograph: the photorealism term is small"
