"""Texture synthesis: any size from noise, blends, and its canvas checks."""

from __future__ import annotations

import pytest

import nst
from nst.errors import SettingsError
from nst.settings import Settings

TEXTURE = dict(
    steps=6, style_layers="conv1_1,conv2_1,conv3_1", hist_layers="relu1_1,relu2_1", precision="fp32"
)


def test_texture_of_any_size_from_noise(vgg19_env, style_path, style_b):
    result = nst.synthesize_texture(style_path, Settings(**TEXTURE, hist_weight=1.0), width=48, height=20)
    assert result.image.size == (48, 20)
    assert set(result.losses[0]) == {"style", "hist", "tv", "total"}
    assert result.losses[-1]["style"] < 0.5 * result.losses[0]["style"]
    blend = nst.synthesize_texture(
        [style_path, style_b],
        width=32,
        height=40,
        steps=3,
        style_loss="mmd-gauss",
        style_layers="conv1_1,conv2_1",
        scales=2,
    )
    assert blend.image.size == (32, 40) and blend.steps == 3
    for kwargs, message in [
        (dict(width=8, height=40), "width: must be between 16 and 8192, got 8"),
        (dict(width="wide", height=40), "width: expected a whole number"),
        (
            dict(width=40, height=40, photo_weight=1),
            "photo_weight: the photorealism loss needs a content photo",
        ),
        (dict(width=40, height=40, preserve_color="luminance"), "preserve_color: a texture has no content"),
        (dict(width=40, height=40, style_weight=0), "style_weight and hist_weight are both 0"),
    ]:
        with pytest.raises(SettingsError, match=message):
            nst.synthesize_texture(style_path, **kwargs)


@pytest.mark.parametrize("value", [float("nan"), float("inf")], ids=["nan", "inf"])
def test_texture_canvas_refuses_nan_and_infinity_by_name(value):
    from nst.errors import SettingsError
    from nst.requests import check_texture_canvas

    with pytest.raises(SettingsError, match="width"):
        check_texture_canvas(value, 32)
