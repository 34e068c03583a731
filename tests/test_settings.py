"""Settings validation: bad values are refused with the setting's name and the reason."""

import math

import pytest

from nst.errors import SettingsError
from nst.geometry import Canvas
from nst.settings import Settings


def test_defaults_are_the_papers_layers_with_the_fifth_block_lighter():
    s = Settings()
    # The paper's Caffe ReLUs were in place: its conv4_2 and conv1_1 ... conv5_1 are rectified responses.
    assert s.content_layers == ("relu4_2",)
    assert s.style_layers == ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
    assert s.style_layer_weights is None
    assert s.layer_weights == pytest.approx((1 / 4.1,) * 4 + (0.1 / 4.1,))
    # Any choice of layers: a fifth-block layer (conv or relu) weighs a tenth of the others.
    chosen = Settings(style_layers=("conv5_2", "relu3_3", "relu5_4"))
    assert chosen.layer_weights == pytest.approx((0.1 / 1.2, 1 / 1.2, 0.1 / 1.2))
    assert Settings(style_layers=("relu5_1",)).layer_weights == pytest.approx((1.0,))
    assert s.pooling == "max" and s.optimizer == "lbfgs" and s.backbone == "vgg19"


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"style_weight": -1}, "style_weight: must not be negative"),
        ({"tv_weight": math.nan}, "tv_weight: must be a finite number"),
        ({"content_weight": "lots"}, "content_weight: expected a number"),
        ({"size": 0}, "size: must be between 32 and 8192, got 0"),
        ({"size": 100000}, "size: must be between 32 and 8192, got 100000"),
        ({"size": 12.5}, "size: expected a whole number"),
        ({"steps": 0}, "steps: must be between 1 and"),
        ({"style_layers": ("conv1_1", "conv9_9")}, "style_layers: 'conv9_9' is not a layer of vgg19"),
        (
            {"content_layers": ("conv5_4",), "backbone": "vgg16"},
            "content_layers: 'conv5_4' is not a layer of vgg16",
        ),
        ({"style_layers": ()}, "style_layers: at least one layer"),
        ({"style_layer_weights": (1, 2)}, "2 weights given for 5 style layers"),
        ({"style_layer_weights": (0, 0, 0, 0, 0)}, "at least one weight must be above zero"),
        ({"pooling": "median"}, "pooling: 'median' is not one of avg, max"),
        ({"init": "random"}, "init: 'random' is not one of content, matched, noise, style"),
        ({"optimizer": "sgd"}, "optimizer: 'sgd' is not one of lbfgs, adam"),
        ({"backbone": "resnet50"}, "backbone: 'resnet50' is not one of vgg16, vgg19"),
        ({"scales": 4, "size": 64}, "scales: 4 scales from size 64 would start below 16"),
        ({"content_weight": 0, "style_weight": 0}, "nothing to optimize"),
        ({"steps": True}, "steps: expected a whole number"),
    ],
)
def test_bad_values_are_refused_with_reason(changes, message):
    with pytest.raises(SettingsError, match=message.replace("(", r"\(").replace(")", r"\)")):
        Settings(**changes)


def test_strings_from_cli_and_api_are_parsed():
    s = Settings(
        size="256",
        steps="50.0",
        style_weight="1e4",
        style_layers="relu1_1, relu2_1",
        style_layer_weights="1,3",
        init="NOISE",
    )
    assert s.size == 256 and s.steps == 50 and s.style_weight == 1e4
    assert s.style_layers == ("relu1_1", "relu2_1")
    assert s.layer_weights == pytest.approx((0.25, 0.75))
    assert s.init == "noise"


def test_from_dict_refuses_unknown_names():
    with pytest.raises(SettingsError, match="unknown setting\\(s\\) colour"):
        Settings.from_dict({"colour": 1})
    assert Settings.from_dict({"steps": 10}).steps == 10
    assert Settings().replace(size=64).size == 64


@pytest.mark.parametrize(
    "changes, message",
    [
        (
            {"style_loss": "wasserstein"},
            "style_loss: 'wasserstein' is not one of gram, mmd-linear, mmd-poly, mmd-gauss, bn",
        ),
        ({"hist_weight": -1}, "hist_weight: must not be negative"),
        ({"photo_weight": "much"}, "photo_weight: expected a number"),
        ({"hist_layers": ("relu1_1", "relu9_1")}, "hist_layers: 'relu9_1' is not a layer of vgg19"),
        ({"hist_layers": ""}, "hist_layers: at least one layer"),
        ({"preserve_color": "yes"}, "preserve_color: 'yes' is not one of none, luminance, histogram"),
        ({"style_blend": (0, 0)}, "style_blend: at least one weight must be above zero"),
        ({"style_blend": (1, -1)}, "style_blend: must not be negative"),
        ({"mmd_poly_c": -2}, "mmd_poly_c: must not be negative"),
        ({"content_weight": 0, "style_weight": 0}, "nothing to optimize"),
    ],
)
def test_new_settings_are_validated_with_the_fields_name(changes, message):
    with pytest.raises(SettingsError, match=message):
        Settings(**changes)


def test_new_settings_parse_strings_and_histogram_alone_is_enough():
    s = Settings(
        style_loss="MMD-Gauss",
        hist_weight="5",
        hist_layers="relu2_1, relu3_1",
        photo_weight="1e4",
        preserve_color="Luminance",
        style_blend="2,1,1",
    )
    assert (s.style_loss, s.hist_weight, s.hist_layers, s.photo_weight, s.preserve_color) == (
        "mmd-gauss",
        5.0,
        ("relu2_1", "relu3_1"),
        1e4,
        "luminance",
    )
    assert s.blend_weights(3) == pytest.approx((0.5, 0.25, 0.25))
    assert Settings().blend_weights(4) == (0.25,) * 4
    assert Settings(content_weight=0, style_weight=0, hist_weight=1).hist_weight == 1.0


def test_the_size_bound_is_exactly_32_px():
    with pytest.raises(SettingsError, match=r"^size: must be between 32 and 8192, got 31$"):
        Settings(size=31)
    assert Settings(size=32).size == 32


def test_a_coarse_scale_keeps_the_style_layers_with_enough_positions_and_their_weights():
    settings = Settings(style_layers=("relu1_1", "relu4_1", "relu5_1"), style_layer_weights=(1, 2, 3))
    coarse = settings.at_scale(Canvas(128, 96), last=False)  # relu5_1: 8x6 = 48 positions; relu4_1: 16x12
    assert coarse.style_layers == ("relu1_1", "relu4_1") and coarse.style_layer_weights == (1.0, 2.0)
    assert settings.at_scale(Canvas(128, 96), last=True) is settings
    assert settings.at_scale(Canvas(256, 192), last=False) is settings  # relu5_1: 16x12 = 192 positions
    only_deep = settings.replace(style_layer_weights=(0, 0, 1))  # nothing left to weigh: unchanged
    assert only_deep.at_scale(Canvas(128, 96), last=False) is only_deep
    coarse_default = Settings().at_scale(Canvas(128, 96), last=False)  # relu5_1 left out
    assert coarse_default.style_layer_weights is None
    assert coarse_default.layer_weights == pytest.approx((0.25,) * 4)
