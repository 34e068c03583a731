"""nst.dials: the page's plain-word dials, each mapped onto one setting, and the CLI's dial flags."""

from __future__ import annotations

import pytest

from nst.cli import main
from nst.dials import BY_SETTING, DIALS, settings_from_dials
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
