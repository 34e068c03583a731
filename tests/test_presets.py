"""nst.presets: method names, the settings each method takes and pins, and the app's dials."""

from __future__ import annotations

import math

import pytest

from nst import presets
from nst.errors import SettingsError
from nst.settings import Settings


def test_dials_hit_the_package_defaults_at_their_defaults():
    d = Settings()
    assert presets.style_weight_from_strength(presets.DEFAULT_STYLE_STRENGTH) == pytest.approx(d.style_weight)
    assert presets.content_weight_from_fidelity(presets.DEFAULT_CONTENT_FIDELITY) == pytest.approx(d.content_weight)
    assert presets.tv_weight_from_smoothness(presets.DEFAULT_SMOOTHNESS) == pytest.approx(d.tv_weight)
    assert presets.hist_weight_from_strength(presets.DEFAULT_HIST_STRENGTH) == pytest.approx(presets.HIST_WEIGHT)
    assert presets.photo_weight_from_realism(presets.DEFAULT_REALISM) == pytest.approx(presets.PHOTO_WEIGHT)


def test_style_strength_is_a_log_scale_over_the_useful_range():
    assert presets.style_weight_from_strength(0) == pytest.approx(1.0)
    assert presets.style_weight_from_strength(10) == pytest.approx(100.0)
    ratios = [presets.style_weight_from_strength(s + 1) / presets.style_weight_from_strength(s) for s in range(10)]
    assert max(ratios) == pytest.approx(min(ratios)), "equal slider steps, equal ratios"
    for w in (1.0, 3.0, 10.0, 55.0, 100.0):
        assert presets.style_weight_from_strength(presets.strength_from_style_weight(w)) == pytest.approx(w)


def test_zero_turns_smoothing_histogram_and_photorealism_off():
    assert presets.tv_weight_from_smoothness(0) == 0
    assert presets.hist_weight_from_strength(0) == 0
    assert presets.photo_weight_from_realism(0) == 0
    assert presets.tv_weight_from_smoothness(0.5) > 0


@pytest.mark.parametrize("value", [-1, 10.5, float("nan"), "loud", None])
def test_dials_refuse_values_off_the_scale(value):
    with pytest.raises(SettingsError, match="style strength"):
        presets.style_weight_from_strength(value)


def test_colour_choices_map_to_preserve_color_values():
    assert set(presets.COLOR_CHOICES.values()) == {"none", "luminance", "histogram"}
    for label, value in presets.COLOR_CHOICES.items():
        assert presets.preserve_color_from_choice(label) == value
        assert presets.preserve_color_from_choice(value) == value
    with pytest.raises(SettingsError, match="colour preservation"):
        presets.preserve_color_from_choice("sepia")


def test_every_method_has_a_stable_name_and_a_kind():
    assert list(presets.METHODS) == ["gatys", "histogram", "mmd", "photorealistic", "texture", "cyclegan"]
    assert {m.kind for m in presets.METHODS.values()} == {"optimize", "texture", "cyclegan"}
    assert presets.get_method(" Gatys ").name == "gatys"
    with pytest.raises(SettingsError, match="method: 'pointillism' is not one of gatys"):
        presets.get_method("pointillism")
    assert presets.METHODS["gatys"].available


def test_gatys_parameters_are_the_settings_fields_minus_other_methods_own():
    params = presets.METHODS["gatys"].parameters()
    for name in ("size", "steps", "content_weight", "style_weight", "tv_weight", "backbone", "style_layers", "seed"):
        assert name in params
    for name in presets.EXTENSION_FIELDS:
        assert name not in params
    assert params == [n for n in Settings.__dataclass_fields__ if n in params], "in Settings order"


def test_texture_takes_no_content_settings():
    params = presets.METHODS["texture"].parameters()
    assert "content_weight" not in params and "content_layers" not in params and "size" not in params
    assert "style_weight" in params and "steps" in params


def test_method_settings_start_from_its_defaults_and_refuse_foreign_fields():
    gatys = presets.METHODS["gatys"].settings(steps=7)
    assert gatys.steps == 7 and gatys.style_weight == Settings().style_weight
    with pytest.raises(SettingsError, match="does not take the setting"):
        presets.METHODS["texture"].settings(content_weight=2)
    assert presets.METHODS["cyclegan"].parameters() == []


@pytest.mark.parametrize("name, field, value", [
    ("histogram", "hist_weight", presets.HIST_WEIGHT),
    ("mmd", "style_loss", presets.MMD_STYLE_LOSS),
    ("photorealistic", "photo_weight", presets.PHOTO_WEIGHT),
])
def test_extension_methods_switch_on_their_own_setting(name, field, value):
    method = presets.METHODS[name]
    if not presets.has_field(field):
        reason = f"Settings has no {field} yet"
        print(reason)
        pytest.skip(reason)
    assert method.available
    assert getattr(method.settings(), field) == value
    assert field in method.parameters()
    others = presets.METHODS["gatys"].settings()
    assert getattr(others, field) in (0.0, "gram"), "every other method pins it off"
    with pytest.raises(SettingsError, match="does not take"):
        presets.METHODS["gatys"].settings(**{field: value})


def test_settings_from_dials_maps_every_dial():
    s = presets.settings_from_dials("gatys", style_strength=10, content_fidelity=0, smoothness=7, size=64, steps=5)
    assert s.style_weight == pytest.approx(100) and s.content_weight == pytest.approx(0.1)
    assert s.tv_weight == pytest.approx(100) and (s.size, s.steps) == (64, 5)


def test_default_backbone_follows_the_environment(monkeypatch):
    monkeypatch.delenv("NST_BACKBONE", raising=False)
    assert presets.default_backbone() == Settings().backbone
    monkeypatch.setenv("NST_BACKBONE", "VGG16")
    assert presets.default_backbone() == "vgg16"
    monkeypatch.setenv("NST_BACKBONE", "resnet")
    with pytest.raises(SettingsError, match="NST_BACKBONE"):
        presets.default_backbone()


def test_duration_estimate_grows_with_size_and_steps_and_stays_bounded():
    small = presets.estimate_seconds("gatys", 512, 300)
    assert presets.estimate_seconds("gatys", 1024, 300) > small
    assert presets.estimate_seconds("gatys", 512, 1000) > small
    assert 30 <= small <= presets.estimate_seconds("gatys", 4096, 10_000) == 600
    assert presets.estimate_seconds("cyclegan", 2048, 1) == 30
    assert presets.estimate_seconds("gatys", 512, 300, device_type="cpu") > presets.estimate_seconds("gatys", 512, 300)


def test_quick_start_defaults_are_valid_settings():
    for quick in (presets.QUICK_CPU, presets.QUICK_GPU):
        s = Settings(size=quick.size, steps=quick.steps, scales=quick.scales)
        assert s.size <= quick.max_size and math.isfinite(s.lr)


def test_texture_dials_leave_the_histogram_off_unless_asked():
    if not presets.METHODS["texture"].available:
        pytest.skip("no texture synthesis in this version")
    s = presets.settings_from_dials("texture", style_strength=5, smoothness=3, hist_strength=10, steps=5)
    assert s.hist_weight == 0 and s.style_loss == "gram"
    assert presets.METHODS["texture"].settings(hist_weight=3.0).hist_weight == 3.0, "the API may switch it on"
