"""A small check with real pretrained VGG16 weights from ../shared (skipped when absent)."""

from pathlib import Path

import pytest

import nst
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
    result = nst.stylize(CONTENT, STYLE, Settings(backbone="vgg16", size=128, steps=40), vgg_weights=real_vgg16, device="cpu")
    first, last = result.losses[0], result.losses[-1]
    assert first["content"] == 0.0
    assert last["style"] < first["style"] / 10, (first, last)
    # Content is traded for style, but the photo must stay recognisable: relative feature error < 1.
    assert last["content"] / Settings().content_weight < 1.0
    assert result.image.size == (128, 96)
