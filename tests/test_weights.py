"""Finding and reading VGG weights: every file layout, the torch hub cache, offline errors, bad files."""

from __future__ import annotations

import pytest
import torch

from nst import weights as W
from nst.errors import WeightsError
from nst.vgg import VGGFeatures


def test_every_file_layout_loads_the_same_weights(tmp_path, vgg19_state, vgg19_file, monkeypatch):
    from safetensors.torch import save_file

    full = {f"features.{k}": v for k, v in vgg19_state.items()}
    full["classifier.6.bias"] = torch.zeros(10)
    torch.save(full, tmp_path / "full.pth")
    torch.save(vgg19_state, tmp_path / "features.pth")
    save_file(
        {f"features.{k}": v.contiguous() for k, v in vgg19_state.items()},
        str(tmp_path / "prefixed.safetensors"),
    )
    x = torch.rand(1, 3, 32, 32)
    expected = VGGFeatures("vgg19", vgg19_state)(x, ["relu3_1"])["relu3_1"]
    for path in (
        tmp_path / "full.pth",
        tmp_path / "features.pth",
        tmp_path / "prefixed.safetensors",
        vgg19_file,
    ):
        net = W.load_vgg("vgg19", "max", path)
        # Close, not equal: a network a run already used is cached in channels-last, whose kernels round
        # differently; weights read wrongly (a layer off, a transpose) are off by far more.
        torch.testing.assert_close(
            net(x, ["relu3_1"])["relu3_1"], expected, rtol=1e-5, atol=1e-6, msg=str(path)
        )


def test_torch_hub_cache_is_used(monkeypatch, tmp_path, vgg19_state):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    cached = W.torchvision_cache_file("vgg19")
    assert cached == tmp_path / "hub" / "checkpoints" / "vgg19-dcbb9e9d.pth"
    cached.parent.mkdir(parents=True)
    torch.save({f"features.{k}": v for k, v in vgg19_state.items()}, cached)
    assert W.locate_vgg_weights("vgg19") == cached
    net = W.load_vgg("vgg19", "avg")
    assert torch.equal(net.features[0].weight, vgg19_state["0.weight"])
    assert W.load_vgg("vgg19", "avg") is net  # cached in memory


def test_offline_without_weights_names_both_fixes():
    with pytest.raises(WeightsError) as err:
        W.load_vgg("vgg19")
    msg = str(err.value)
    assert "this machine is offline" in msg
    assert "NST_VGG19_WEIGHTS" in msg and "--vgg-weights" in msg
    assert "vgg19-dcbb9e9d.pth" in msg and "TORCH_HOME" in msg


def test_bad_weight_files_are_refused(tmp_path, vgg19_state, vgg16_file, monkeypatch):
    with pytest.raises(WeightsError, match="looks like vgg16 weights"):
        W.load_vgg("vgg19", "avg", vgg16_file)
    (tmp_path / "junk.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(WeightsError, match="could not be read as a PyTorch checkpoint"):
        W.load_vgg("vgg19", "avg", tmp_path / "junk.pth")

    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    torch.save({"x": Evil()}, tmp_path / "evil.pth")
    with pytest.raises(WeightsError, match=r"would run code \(print\), which is refused for safety"):
        W.load_vgg("vgg19", "avg", tmp_path / "evil.pth")
    bad = dict(vgg19_state)
    bad["0.weight"] = torch.zeros(64, 3, 5, 5)
    torch.save(bad, tmp_path / "shape.pth")
    with pytest.raises(WeightsError, match=r"0.weight has shape \(64, 3, 5, 5\)"):
        W.load_vgg("vgg19", "avg", tmp_path / "shape.pth")
    monkeypatch.setenv("NST_VGG19_WEIGHTS", str(tmp_path / "nowhere.pth"))
    with pytest.raises(WeightsError, match="NST_VGG19_WEIGHTS points at .*nowhere.pth"):
        W.load_vgg("vgg19")
    assert W.load_vgg("vgg16", "max", vgg16_file).backbone == "vgg16"
