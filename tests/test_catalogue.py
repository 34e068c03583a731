"""The catalogue of CycleGAN painters: entries, environment overrides, loading from the Hub cache offline."""

from __future__ import annotations

import re

import numpy as np
import pytest

from nst import catalogue, cyclegan
from nst.errors import SettingsError, WeightsError
from nst.images import image_to_tensor
from support.painters import TINY, fill_hub_cache, reference_output, tiny_state
from support.pictures import as_array, texture


def test_catalogue_entries_are_complete_and_pinned():
    names = [e.name for e in catalogue.entries()]
    assert names[:4] == ["monet", "vangogh", "cezanne", "ukiyoe"]
    for e in catalogue.entries():
        assert e.display_name and e.description and e.licence and e.source
        if e.available:
            assert re.fullmatch(r"[0-9a-f]{40}", e.revision), "Hub sources are pinned to a commit"
            assert e.repo_type in ("model", "space", "dataset") and e.filename.endswith(
                (".pth", ".safetensors")
            )
            assert e.hub_url.startswith(
                "https://huggingface.co/spaces/" if e.repo_type == "space" else "https://"
            )
            assert f"hf download {e.repo_id} {e.filename}" in e.download_command()
    assert {e.name for e in catalogue.entries(available_only=True)} >= {"monet", "vangogh"}


def test_unknown_style_is_refused_with_the_choices():
    with pytest.raises(SettingsError, match="not in the CycleGAN catalogue; choose one of monet, vangogh"):
        catalogue.get_entry("../../etc/passwd")
    assert catalogue.get_entry("Van Gogh").name == "vangogh"


def test_environment_can_point_an_entry_elsewhere(monkeypatch):
    monkeypatch.setenv("NST_CYCLEGAN_CEZANNE_REPO", "me/cyclegan-mirror")
    monkeypatch.setenv("NST_CYCLEGAN_CEZANNE_FILE", "style_cezanne.safetensors")
    entry = catalogue.get_entry("cezanne")
    assert (entry.repo_id, entry.filename, entry.revision, entry.repo_type) == (
        "me/cyclegan-mirror",
        "style_cezanne.safetensors",
        None,
        "model",
    )
    assert "environment" in entry.source
    monkeypatch.setenv("NST_CYCLEGAN_CEZANNE_REPO_TYPE", "bucket")
    with pytest.raises(SettingsError, match="REPO_TYPE"):
        catalogue.get_entry("cezanne")


def test_catalogue_style_loads_from_the_hub_cache_offline(hub_cache):
    entry = catalogue.get_entry("monet")
    state = tiny_state(5)
    snapshot = fill_hub_cache(hub_cache, entry, state)
    assert cyclegan.weights_file("monet") == snapshot
    assert len(cyclegan._CACHE) == 0, "nothing is loaded before first use"

    im = texture(48, 40, seed=2)
    out = cyclegan.paint(im, painter="monet", device="cpu", precision="float32")
    expected = reference_output(state, TINY, image_to_tensor(im))
    diff = np.abs(as_array(out) - np.round(expected[0].permute(1, 2, 0).numpy() * 255))
    assert out.size == im.size and diff.max() <= 1

    net = cyclegan.load_generator("monet", device="cpu", precision="float32")
    assert cyclegan.load_generator("MONET", device="cpu", precision="float32") is net, (
        "cached in memory per style"
    )
    assert len(cyclegan._CACHE) == 1
    assert cyclegan.load_generator("monet", device="cpu", precision="bfloat16") is not net, (
        "and per precision"
    )


def test_missing_weights_offline_says_how_to_fix(hub_cache):
    with pytest.raises(WeightsError) as err:
        cyclegan.paint(texture(32, 32), painter="vangogh")
    msg = str(err.value)
    entry = catalogue.get_entry("vangogh")
    for part in (
        entry.repo_id,
        entry.filename,
        entry.revision,
        "offline",
        str(hub_cache),
        "HF_HUB_CACHE",
        f"hf download {entry.repo_id} {entry.filename} --repo-type space --revision {entry.revision}",
        "--weights FILE",
    ):
        assert part in msg


def test_style_without_a_source_names_the_fix(hub_cache, monkeypatch):
    with pytest.raises(WeightsError, match="has no confirmed source.*NST_CYCLEGAN_UKIYOE_REPO"):
        cyclegan.load_generator("ukiyoe")
    monkeypatch.setenv("NST_CYCLEGAN_UKIYOE_REPO", "me/ukiyoe")
    monkeypatch.setenv("NST_CYCLEGAN_UKIYOE_FILE", "g.safetensors")
    monkeypatch.setenv("NST_CYCLEGAN_UKIYOE_REVISION", "a" * 40)
    fill_hub_cache(hub_cache, catalogue.get_entry("ukiyoe"), tiny_state(1))
    assert cyclegan.load_generator("ukiyoe").options == TINY


def test_hub_file_with_wrong_keys_is_refused(hub_cache):
    state = tiny_state()
    del state["model.1.bias"]
    fill_hub_cache(hub_cache, catalogue.get_entry("monet"), state)
    with pytest.raises(WeightsError, match=r"latest_net_G\.pth' do not fit.*missing 1 keys: model\.1\.bias"):
        cyclegan.load_generator("monet")
