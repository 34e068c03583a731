"""The engine's extensions end to end on a random-weight VGG19: style losses, masks, blends,
segmentations, texture synthesis, and the settings that drive them."""

import numpy as np
import pytest
from PIL import Image

import nst
from nst.errors import SettingsError
from nst.settings import Settings
from tests.conftest import make_picture

FAST = dict(size=32, steps=6, style_layers=("conv1_1", "conv2_1", "conv3_1"), content_layers=("conv3_1",),
            hist_layers=("relu1_1", "relu2_1"), precision="fp32")  # mask logic, compared bit-near: no bf16 rounding


@pytest.fixture
def style_b(tmp_path):
    path = tmp_path / "style_b.png"
    make_picture(30, 40, seed=3).save(path)
    return path


def pixels(result):
    return np.asarray(result.image, dtype=np.int64)


@pytest.mark.parametrize("style_loss", ["gram", "mmd-gauss"])
def test_a_mask_of_all_ones_for_style_a_is_style_a_alone(vgg19_env, content_path, style_path, style_b, style_loss):
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
        nst.stylize(content_path, [style_path, style_b], settings.replace(style_blend=(1, 1)), masks=[left, right])


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


@pytest.mark.parametrize("style_loss", ["mmd-linear", "mmd-poly", "mmd-gauss", "bn"])
def test_every_style_loss_lowers_its_loss_from_noise(vgg19_env, content_path, style_path, style_loss):
    result = nst.stylize(content_path, style_path, Settings(**FAST, style_loss=style_loss, init="noise", content_weight=0))
    assert set(result.losses[0]) == {"style", "tv", "total"}
    assert result.losses[-1]["style"] < 0.5 * result.losses[0]["style"]


def test_histogram_and_photo_terms_are_reported_and_combine(vgg19_env, content_path, style_path):
    result = nst.stylize(content_path, style_path, Settings(**FAST, style_loss="bn", hist_weight=2.0, photo_weight=100.0))
    assert set(result.losses[-1]) == {"content", "style", "hist", "tv", "photo", "total"}
    assert result.losses[0]["photo"] == pytest.approx(0.0, abs=1e-4)  # the content itself is photorealistic
    assert result.losses[-1]["hist"] < result.losses[0]["hist"]


def test_segmentation_regions_run_and_are_checked(vgg19_env, content_path, style_path, tmp_path):
    seg = Image.new("RGB", (40, 32), (0, 0, 255))
    seg.paste((0, 255, 0), (0, 0, 20, 32))
    style_seg = Image.new("RGB", (36, 36), (0, 0, 255))
    style_seg.paste((0, 255, 0), (0, 0, 36, 12))
    result = nst.stylize(content_path, style_path, Settings(**FAST, photo_weight=10.0),
                         content_segmentation=seg, style_segmentation=style_seg)
    assert result.image.size == (32, 26) and "photo" in result.losses[-1]
    with pytest.raises(SettingsError, match="give both content_segmentation and style_segmentation"):
        nst.stylize(content_path, style_path, Settings(**FAST), content_segmentation=seg)


def test_texture_of_any_size_from_noise(vgg19_env, style_path, style_b):
    result = nst.synthesize_texture(style_path, Settings(**FAST, hist_weight=1.0), width=48, height=20)
    assert result.image.size == (48, 20)
    assert set(result.losses[0]) == {"style", "hist", "tv", "total"}
    assert result.losses[-1]["style"] < 0.5 * result.losses[0]["style"]
    blend = nst.synthesize_texture([style_path, style_b], width=32, height=40, steps=3, style_loss="mmd-gauss",
                                   style_layers="conv1_1,conv2_1", scales=2)
    assert blend.image.size == (32, 40) and blend.steps == 3
    for kwargs, message in [
        (dict(width=8, height=40), "width: must be between 16 and 4096 pixels, got 8"),
        (dict(width="wide", height=40), "width: expected a whole number"),
        (dict(width=40, height=40, photo_weight=1), "photo_weight: the photorealism loss needs a content photo"),
        (dict(width=40, height=40, preserve_color="luminance"), "preserve_color: a texture has no content"),
        (dict(width=40, height=40, style_weight=0), "style_weight and hist_weight are both 0"),
    ]:
        with pytest.raises(SettingsError, match=message):
            nst.synthesize_texture(style_path, **kwargs)


@pytest.mark.parametrize("changes, message", [
    ({"style_loss": "wasserstein"}, "style_loss: 'wasserstein' is not one of gram, mmd-linear, mmd-poly, mmd-gauss, bn"),
    ({"hist_weight": -1}, "hist_weight: must not be negative"),
    ({"photo_weight": "much"}, "photo_weight: expected a number"),
    ({"hist_layers": ("relu1_1", "relu9_1")}, "hist_layers: 'relu9_1' is not a layer of vgg19"),
    ({"hist_layers": ""}, "hist_layers: at least one layer"),
    ({"preserve_color": "yes"}, "preserve_color: 'yes' is not one of none, luminance, histogram"),
    ({"style_blend": (0, 0)}, "style_blend: at least one weight must be above zero"),
    ({"style_blend": (1, -1)}, "style_blend: must not be negative"),
    ({"mmd_poly_c": -2}, "mmd_poly_c: must not be negative"),
    ({"content_weight": 0, "style_weight": 0}, "nothing to optimize"),
])
def test_new_settings_are_validated_with_the_fields_name(changes, message):
    with pytest.raises(SettingsError, match=message):
        Settings(**changes)


def test_new_settings_parse_strings_and_histogram_alone_is_enough():
    s = Settings(style_loss="MMD-Gauss", hist_weight="5", hist_layers="relu2_1, relu3_1", photo_weight="1e4",
                 preserve_color="Luminance", style_blend="2,1,1")
    assert (s.style_loss, s.hist_weight, s.hist_layers, s.photo_weight, s.preserve_color) == (
        "mmd-gauss", 5.0, ("relu2_1", "relu3_1"), 1e4, "luminance")
    assert s.blend_weights(3) == pytest.approx((0.5, 0.25, 0.25))
    assert Settings().blend_weights(4) == (0.25,) * 4
    assert Settings(content_weight=0, style_weight=0, hist_weight=1).hist_weight == 1.0
