"""The CycleGAN generator: the reference architecture, its instance norm, and loading published weights strictly."""

from __future__ import annotations

import pytest
import torch

from nst.errors import WeightsError
from nst.generator import (
    GeneratorOptions,
    InstanceNorm,
    ResnetGenerator,
    build_generator,
    infer_options,
    load_generator_file,
    norm_stats,
    read_state_dict,
)
from support.painters import TINY, save_weights, tiny_generator, tiny_state
from support.shared import VINTAGE


def test_default_generator_is_the_reference_resnet_9blocks():
    net = ResnetGenerator()
    state = net.state_dict()
    # The reference prints "Total number of parameters : 11.378 M" for resnet_9blocks, ngf 64.
    assert sum(p.numel() for p in net.parameters()) == 11_378_179
    assert tuple(state["model.1.weight"].shape) == (64, 3, 7, 7)
    assert tuple(state["model.4.weight"].shape) == (128, 64, 3, 3)
    assert tuple(state["model.10.conv_block.5.weight"].shape) == (256, 256, 3, 3)
    assert tuple(state["model.19.weight"].shape) == (256, 128, 3, 3)  # ConvTranspose2d: (in, out, k, k)
    assert tuple(state["model.26.weight"].shape) == (3, 64, 7, 7)
    assert not any(k.endswith(("running_mean", "running_var")) for k in state)
    assert "model.2.weight" not in state  # instance norm without affine parameters by default
    assert isinstance(net.model[-1], torch.nn.Tanh) and isinstance(net.model[0], torch.nn.ReflectionPad2d)


@pytest.mark.parametrize("affine", [False, True])
def test_instance_norm_equals_torch_including_channels_last_and_supplied_stats(affine):
    torch.manual_seed(0)
    ours = InstanceNorm(5, affine=affine)
    theirs = torch.nn.InstanceNorm2d(5, affine=affine)
    if affine:
        with torch.no_grad():
            ours.weight.uniform_(0.5, 2)
            ours.bias.uniform_(-1, 1)
        theirs.load_state_dict(ours.state_dict())
    x = torch.randn(2, 5, 9, 7) * 3 + 1
    torch.testing.assert_close(ours(x), theirs(x), atol=1e-5, rtol=1e-5)
    cl = x.contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(ours(cl), theirs(x), atol=1e-5, rtol=1e-5)

    def own_statistics(layer, features):  # supplied from outside, as tiling can
        var, mean = torch.var_mean(features, dim=(2, 3), keepdim=True, correction=0)
        return mean, var

    token = norm_stats.set(own_statistics)
    try:
        torch.testing.assert_close(ours(x), theirs(x), atol=1e-5, rtol=1e-5)
    finally:
        norm_stats.reset(token)


@pytest.mark.parametrize(
    "options",
    [
        TINY,
        GeneratorOptions(ngf=8, n_blocks=2, norm_affine=True),
        GeneratorOptions(ngf=6, n_blocks=3, use_dropout=True),
    ],
)
def test_options_are_inferred_from_the_state_dict(options):
    assert infer_options(tiny_state(0, options)) == options


def test_tiny_generator_output_shape_and_range():
    net = tiny_generator()
    y = net(torch.rand(2, 3, 20, 28) * 2 - 1)
    assert y.shape == (2, 3, 20, 28) and y.abs().max() <= 1


@pytest.mark.parametrize("suffix", [".safetensors", ".pth"])
def test_weights_file_round_trip(tmp_path, suffix):
    state = tiny_state(3, GeneratorOptions(ngf=8, n_blocks=2, norm_affine=True))
    net = load_generator_file(save_weights(state, tmp_path / f"g{suffix}"))
    assert net.options == GeneratorOptions(ngf=8, n_blocks=2, norm_affine=True)
    for k, v in net.state_dict().items():
        assert torch.equal(v, state[k])


def test_reference_cleanup_stale_norm_stats_and_module_prefix(tmp_path):
    """Old checkpoints carry InstanceNorm running stats and DataParallel prefixes; the reference drops them."""
    state = tiny_state()
    old = {f"module.{k}": v for k, v in state.items()}
    old["module.model.2.running_mean"] = torch.zeros(4)
    old["module.model.2.running_var"] = torch.ones(4)
    old["module.model.2.num_batches_tracked"] = torch.tensor(7)
    net = load_generator_file(save_weights(old, tmp_path / "old.pth"))
    x = torch.rand(1, 3, 16, 16)
    torch.testing.assert_close(net(x), tiny_generator()(x))


def test_wrong_key_set_is_refused_with_the_keys(tmp_path):
    state = tiny_state()
    state["model.18.kernel"] = state.pop("model.18.weight")
    state["extra.scale"] = torch.ones(1)
    with pytest.raises(WeightsError) as err:
        load_generator_file(save_weights(state, tmp_path / "bad.safetensors"))
    msg = str(err.value)
    assert "missing 1 keys: model.18.weight" in msg
    assert "unexpected 2 keys: extra.scale, model.18.kernel" in msg
    assert "bad.safetensors" in msg


def test_not_a_generator_is_refused_against_the_reference_layout(tmp_path):
    state = {"features.0.weight": torch.zeros(8, 3, 3, 3), "features.0.bias": torch.zeros(8)}
    with pytest.raises(
        WeightsError,
        match=r"do not fit the CycleGAN ResNet generator \(ResNet generator, 9 blocks, "
        r"ngf 64.*missing \d+ keys: model\.1\.bias.*unexpected 2 keys: features",
    ):
        load_generator_file(save_weights(state, tmp_path / "vgg.pth"))


def test_wrong_shape_is_refused(tmp_path):
    state = tiny_state()
    state["model.10.conv_block.1.weight"] = torch.zeros(16, 16, 1, 1)
    with pytest.raises(
        WeightsError,
        match=r"wrong shape: model\.10\.conv_block\.1\.weight \(16, 16, 1, 1\) "
        r"\(expected \(16, 16, 3, 3\)\)",
    ):
        load_generator_file(save_weights(state, tmp_path / "shape.pth"))


def test_pickled_module_is_refused_not_executed(tmp_path):
    path = tmp_path / "whole_module.pth"
    torch.save(tiny_generator(), path)  # a pickled nn.Module needs code to unpickle
    with pytest.raises(WeightsError, match="refused for safety"):
        read_state_dict(path)


@pytest.mark.parametrize("content,match", [(b"", "empty"), (b"not a checkpoint at all", "could not be read")])
def test_damaged_files_are_refused(tmp_path, content, match):
    path = tmp_path / "broken.pth"
    path.write_bytes(content)
    with pytest.raises(WeightsError, match=match):
        read_state_dict(path)


def test_non_finite_weights_are_refused():
    state = tiny_state()
    state["model.1.weight"][0, 0, 0, 0] = float("nan")
    with pytest.raises(WeightsError, match="NaN or infinite"):
        build_generator(state)


@pytest.mark.skipif(not VINTAGE.is_file(), reason="real vintage generator not present in ../shared")
def test_real_vintage_generator_loads_strict_with_affine_norm():
    net = load_generator_file(VINTAGE)
    assert net.options == GeneratorOptions(ngf=64, n_blocks=9, norm_affine=True)
    assert sum(p.numel() for p in net.parameters()) == 11_378_179 + 2 * (64 + 128 + 256 * 19 + 128 + 64)
