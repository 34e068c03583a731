"""nst.methods: the method names every front end uses, and the settings each method takes."""

from __future__ import annotations

import pytest

from nst.errors import SettingsError
from nst.methods import EXTENSION_FIELDS, HIST_WEIGHT, METHODS, MMD_STYLE_LOSS, PHOTO_WEIGHT, get_method
from nst.requests import PaintRequest, StylizeRequest, TextureRequest
from nst.settings import Settings


def test_every_method_has_a_stable_name_and_a_request_type():
    assert list(METHODS) == ["gatys", "histogram", "mmd", "photorealistic", "texture", "cyclegan"]
    assert {m.request for m in METHODS.values()} == {StylizeRequest, TextureRequest, PaintRequest}
    assert get_method(" Gatys ").name == "gatys"
    with pytest.raises(SettingsError, match="method: 'pointillism' is not one of gatys"):
        get_method("pointillism")


def test_gatys_parameters_are_the_settings_fields_minus_other_methods_own():
    params = METHODS["gatys"].parameters()
    for name in (
        "size",
        "steps",
        "content_weight",
        "style_weight",
        "tv_weight",
        "backbone",
        "style_layers",
        "seed",
        "style_blend",
        "preserve_color",
    ):
        assert name in params
    for name in EXTENSION_FIELDS:
        assert name not in params
    settings = METHODS["gatys"].setting_names()
    assert settings == [n for n in Settings.__dataclass_fields__ if n in params], "in Settings order"
    assert params == ["content", "style", *settings, "extra_styles", "masks"], (
        "the request's inputs around them"
    )


def test_texture_takes_no_content_settings():
    params = METHODS["texture"].parameters()
    assert "content_weight" not in params and "content_layers" not in params and "size" not in params
    assert "style_weight" in params and "steps" in params and "style_blend" in params


def test_method_settings_start_from_its_defaults_and_refuse_foreign_fields():
    gatys = METHODS["gatys"].settings({"steps": 7})
    assert gatys.steps == 7 and gatys.style_weight == Settings().style_weight
    with pytest.raises(SettingsError, match="does not take the setting"):
        METHODS["texture"].settings({"content_weight": 2})
    assert METHODS["cyclegan"].setting_names() == []
    with pytest.raises(SettingsError, match="takes no optimization settings"):
        METHODS["cyclegan"].settings({"steps": 3})
    page = {
        "steps": 7,
        "realism": 2,
        "content": "photo.png",
        "painter": "monet",
    }  # the page sends every control
    assert (
        METHODS["gatys"].pick(page) == {"steps": 7} and METHODS["photorealistic"].pick(page)["realism"] == 2
    )


@pytest.mark.parametrize(
    "name, field, value",
    [
        ("histogram", "hist_weight", HIST_WEIGHT),
        ("mmd", "style_loss", MMD_STYLE_LOSS),
        ("photorealistic", "photo_weight", PHOTO_WEIGHT),
    ],
)
def test_extension_methods_switch_on_their_own_setting(name, field, value):
    method = METHODS[name]
    assert getattr(method.settings(), field) == value and method.default(field) == value
    assert field in method.parameters()
    others = METHODS["gatys"].settings()
    assert getattr(others, field) in (0.0, "gram"), "every other method keeps it off"
    with pytest.raises(SettingsError, match="does not take"):
        METHODS["gatys"].settings({field: value})


def test_texture_leaves_the_histogram_off_unless_asked():
    assert METHODS["texture"].settings().hist_weight == 0
    assert METHODS["texture"].settings({"hist_weight": 3.0}).hist_weight == 3.0, "the API may switch it on"
