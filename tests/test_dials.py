"""nst.dials: the page's plain-word dials, each mapped onto one setting, and the CLI's dial flags."""

from __future__ import annotations

import pytest

from nst.cli import main
from nst.dials import BY_SETTING, DIALS, settings_from_dials, settings_from_values
from nst.errors import SettingsError
from nst.methods import HIST_WEIGHT, PHOTO_WEIGHT
from nst.settings import Settings


def test_dials_hit_the_package_defaults_at_their_defaults():
    d = Settings()
    at_default = settings_from_dials({name: dial.default for name, dial in DIALS.items()})
    assert at_default["style_weight"] == pytest.approx(d.style_weight)
    assert at_default["content_weight"] == pytest.approx(d.content_weight)
    assert at_default["tv_weight"] == pytest.approx(d.tv_weight)
    assert at_default["hist_weight"] == pytest.approx(HIST_WEIGHT)
    assert at_default["photo_weight"] == pytest.approx(PHOTO_WEIGHT)
    assert all(BY_SETTING[d.setting] is d for d in DIALS.values()), "one dial per setting"


def test_style_strength_is_a_log_scale_over_the_useful_range():
    weight = DIALS["style_strength"].weight
    assert weight(0) == pytest.approx(1.0) and weight(10) == pytest.approx(100.0)
    ratios = [weight(s + 1) / weight(s) for s in range(10)]
    assert max(ratios) == pytest.approx(min(ratios)), "equal slider steps, equal ratios"


#: Each dial at two positions that are neither its default nor 0, and the setting the mapping in
#: nst.dials's docstring gives there, worked out by hand (10 ** exponent): a changed slope moves both.
SLOPES = {
    "style_strength": ("style_weight", [(2.0, 2.51188643150958), (7.5, 31.6227766016838)]),  # 10 ** (s / 5)
    "content_fidelity": (  # 10 ** ((f - 5) / 5)
        "content_weight",
        [(1.0, 0.158489319246111), (8.5, 5.01187233627272)],
    ),
    "smoothness": ("tv_weight", [(1.0, 0.1), (6.0, 31.6227766016838)]),  # 10 ** ((s - 3) / 2)
    "hist_strength": ("hist_weight", [(2.0, 2.51188643150958), (9.0, 63.0957344480193)]),  # 10 ** (h / 5)
    "realism": ("photo_weight", [(3.0, 31.6227766016838), (6.0, 1000.0)]),  # 10 ** (r / 2)
}


def test_every_dial_is_pinned_here():
    assert set(SLOPES) == set(DIALS), "a new dial needs its two points in SLOPES"


@pytest.mark.parametrize("name", sorted(SLOPES))
def test_each_dials_slope_is_pinned_at_two_points(name):
    setting, points = SLOPES[name]
    assert DIALS[name].default not in [value for value, _ in points]
    for value, expected in points:
        assert settings_from_dials({name: value}) == {setting: pytest.approx(expected, rel=1e-9)}, value
    # The same through the front ends' path, onto the Settings field.
    assert getattr(settings_from_values({name: points[0][0]}), setting) == pytest.approx(
        points[0][1], rel=1e-9
    )


def test_zero_turns_smoothing_histogram_and_photorealism_off():
    off = settings_from_dials({"smoothness": 0, "hist_strength": 0, "realism": 0})
    assert off == {"tv_weight": 0.0, "hist_weight": 0.0, "photo_weight": 0.0}
    assert settings_from_dials({"smoothness": 0.5})["tv_weight"] > 0


@pytest.mark.parametrize("value", [-1, 10.5, float("nan"), "loud", None])
def test_dials_refuse_values_off_the_scale_by_their_name(value):
    with pytest.raises(SettingsError, match="^style_strength: "):
        settings_from_dials({"style_strength": value})


def test_unknown_dials_are_named():
    with pytest.raises(SettingsError, match="unknown dial\\(s\\) loudness"):
        settings_from_dials({"loudness": 5})


def test_the_cli_takes_the_same_dials_and_refuses_a_dial_with_its_setting(
    capsys, content_path, style_path, tmp_path, monkeypatch
):
    seen = {}
    monkeypatch.setattr(
        "nst.requests.StylizeRequest.run",
        lambda self, *a, **k: seen.setdefault("settings", self.settings) and 0 / 0,
    )
    with pytest.raises(ZeroDivisionError):
        main(
            f"gatys {content_path} {style_path} -o {tmp_path / 'o.png'} --style-strength 10 --smoothness 0".split()
        )
    assert seen["settings"].style_weight == pytest.approx(100) and seen["settings"].tv_weight == 0
    code = main(
        f"gatys {content_path} {style_path} -o {tmp_path / 'o.png'} --style-strength 10 --style-weight 3".split()
    )
    assert (
        code == 2
        and "style_weight: give either style_weight or its dial style_strength, not both"
        in capsys.readouterr().err
    )
