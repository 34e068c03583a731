"""Where each style applies: blends, masks and segmentation regions, end to end on a random-weight VGG19."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

import nst
from nst.errors import SettingsError
from nst.settings import Settings

FAST = dict(
    size=32,
    steps=6,
    style_layers=("conv1_1", "conv2_1", "conv3_1"),
    content_layers=("conv3_1",),
    hist_layers=("relu1_1", "relu2_1"),
    precision="fp32",
)  # mask logic, compared bit-near: no bf16 rounding


def pixels(result):
    return np.asarray(result.image, dtype=np.int64)


@pytest.mark.parametrize("style_loss", ["gram", "mmd-gauss"])
def test_a_mask_of_all_ones_for_style_a_is_style_a_alone(
    vgg19_env, content_path, style_path, style_b, style_loss
):
    settings = Settings(**FAST, style_loss=style_loss, hist_weight=1.0)
    alone = nst.stylize(content_path, style_path, settings)
    ones, zeros = Image.new("L", (40, 32), 255), Image.new("L", (40, 32), 0)
    masked = nst.stylize(content_path, style_path, settings, masks=[ones])
    # Two styles, B's mask empty: B must have no influence at all.
    with_b = nst.stylize(content_path, [style_path, style_b], settings, masks=[ones, zeros])
    for other in (masked, with_b):
        assert np.abs(pixels(other) - pixels(alone)).max() <= 1
        assert other.losses[-1]["total"] == pytest.approx(alone.losses[-1]["total"], rel=1e-4)


def test_masks_place_each_style_in_its_region(vgg19_env, content_path, style_path, style_b):
    left = Image.new("L", (40, 32), 0)
    left.paste(255, (0, 0, 20, 32))
    right = Image.eval(left, lambda v: 255 - v)
    settings = Settings(**FAST)
    placed = nst.stylize(content_path, [style_path, style_b], settings, masks=[left, right])
    swapped = nst.stylize(content_path, [style_path, style_b], settings, masks=[right, left])
    assert placed.image.size == (32, 26)
    assert not np.array_equal(pixels(placed), pixels(swapped))
    with pytest.raises(SettingsError, match="1 mask\\(s\\) given for 2 style image\\(s\\)"):
        nst.stylize(content_path, [style_path, style_b], settings, masks=[left])
    with pytest.raises(SettingsError, match="style_blend: with masks"):
        nst.stylize(
            content_path, [style_path, style_b], settings.replace(style_blend=(1, 1)), masks=[left, right]
        )


def test_blend_weights_move_the_result_between_the_styles(vgg19_env, content_path, style_path, style_b):
    settings = Settings(**FAST)
    only_a = nst.stylize(content_path, [style_path, style_b], settings.replace(style_blend=(1, 0)))
    alone = nst.stylize(content_path, style_path, settings)
    assert np.abs(pixels(only_a) - pixels(alone)).max() <= 1
    mixed = nst.stylize(content_path, [style_path, style_b], settings.replace(style_blend="0.7,0.3"))
    assert mixed.settings.style_blend == (0.7, 0.3)
    assert not np.array_equal(pixels(mixed), pixels(alone))
    with pytest.raises(SettingsError, match="style_blend: 3 weight\\(s\\) given for 2 style image\\(s\\)"):
        nst.stylize(content_path, [style_path, style_b], settings.replace(style_blend=(1, 1, 1)))


def test_segmentation_regions_run_and_are_checked(vgg19_env, content_path, style_path, tmp_path):
    seg = Image.new("RGB", (40, 32), (0, 0, 255))
    seg.paste((0, 255, 0), (0, 0, 20, 32))
    style_seg = Image.new("RGB", (36, 36), (0, 0, 255))
    style_seg.paste((0, 255, 0), (0, 0, 36, 12))
    result = nst.stylize(
        content_path,
        style_path,
        Settings(**FAST, photo_weight=10.0),
        content_segmentation=seg,
        style_segmentation=style_seg,
    )
    assert result.image.size == (32, 26) and "photo" in result.losses[-1]
    with pytest.raises(SettingsError, match="give both content_segmentation and style_segmentation"):
        nst.stylize(content_path, style_path, Settings(**FAST), content_segmentation=seg)
