"""The package when the machine fails it, and when the same job runs twice.

Out of memory is simulated (no GPU here): the forward pass of VGG or of the CycleGAN generator
raises what torch raises on a full GPU (``torch.OutOfMemoryError``) or on a failed CPU
allocation; the package must answer with a :class:`~nst.errors.ResourceError` that says to use
a smaller size, keep nothing broken in memory, and run the next job normally.

Determinism: the same inputs, settings and seed give bit-identical pictures on the same device
(the CPU here), for the optimization methods (Gram, sampled MMD, texture) and CycleGAN
(tiled or not, freshly loaded or cached).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import nst
from cyclegan_fixtures import save_weights, texture, tiny_state
from nst import cyclegan, generator, vgg
from nst.errors import ResourceError
from nst.settings import Settings

FAST = dict(size=32, steps=3, style_layers=("conv1_1", "conv2_1", "conv3_1"), content_layers=("conv3_1",))


def _gpu_oom(*args, **kwargs):
    raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB (GPU 0; 15.77 GiB total capacity)")


def _cpu_oom(*args, **kwargs):
    raise RuntimeError("[enforce fail at alloc_cpu.cpp:127] err == 0. DefaultCPUAllocator: can't allocate memory: "
                       "you tried to allocate 99999999999 bytes. Error code 12 (Cannot allocate memory)")


@pytest.fixture
def tiny_file(tmp_path):
    return save_weights(tiny_state(3), tmp_path / "tiny.safetensors")


def test_gpu_out_of_memory_in_the_optimizer_is_a_resource_error_then_runs_again(vgg19_env, content_path, style_path,
                                                                                 monkeypatch):
    settings = Settings(**FAST)
    with monkeypatch.context() as m:
        m.setattr(vgg.VGGFeatures, "forward", _gpu_oom)
        with pytest.raises(ResourceError, match="out of GPU memory at size 32; try a smaller size"):
            nst.stylize(content_path, style_path, settings)
        with pytest.raises(ResourceError, match="try a smaller size"):
            nst.synthesize_texture(style_path, settings, width=32, height=24)
    result = nst.stylize(content_path, style_path, settings)
    assert result.steps == 3 and result.image.size == (32, 26)


def test_cpu_allocation_failure_in_the_optimizer_is_a_resource_error(vgg19_env, content_path, style_path,
                                                                     monkeypatch):
    monkeypatch.setattr(vgg.VGGFeatures, "forward", _cpu_oom)
    with pytest.raises(ResourceError, match="try a smaller size"):
        nst.stylize(content_path, style_path, Settings(**FAST))


@pytest.mark.parametrize("failure", [_gpu_oom, _cpu_oom], ids=["gpu", "cpu"])
def test_out_of_memory_while_painting_is_a_resource_error_then_paints_again(tiny_file, monkeypatch, failure):
    photo = texture(40, 32, seed=1)
    with monkeypatch.context() as m:
        m.setattr(generator.ResnetGenerator, "forward", failure)
        with pytest.raises(ResourceError, match="out of memory painting 40x32 px"):
            cyclegan.paint(photo, weights=tiny_file, device="cpu", precision="float32")
    assert cyclegan.paint(photo, weights=tiny_file, device="cpu", precision="float32").size == (40, 32)


@pytest.mark.parametrize("style_loss", ["gram", "mmd-gauss"])
def test_optimization_is_bit_identical_for_the_same_inputs_and_seed(vgg19_env, content_path, style_path, style_loss):
    settings = Settings(**FAST, init="noise", seed=11, style_loss=style_loss, scales=2)
    first = np.asarray(nst.stylize(content_path, style_path, settings).image)
    assert np.array_equal(first, np.asarray(nst.stylize(content_path, style_path, settings).image))


def test_texture_is_bit_identical_for_the_same_seed(vgg19_env, style_path):
    settings = Settings(steps=3, style_layers=("conv1_1", "conv2_1"), seed=4)
    a = np.asarray(nst.synthesize_texture(style_path, settings, width=40, height=24).image)
    b = np.asarray(nst.synthesize_texture(style_path, settings, width=40, height=24).image)
    c = np.asarray(nst.synthesize_texture(style_path, settings.replace(seed=5), width=40, height=24).image)
    assert np.array_equal(a, b) and not np.array_equal(a, c)


@pytest.mark.parametrize("precision", ["float32", "auto"])
def test_cyclegan_is_bit_identical_for_the_same_inputs(tiny_file, precision):
    photo = texture(150, 90, seed=2)

    def paint(**kwargs) -> np.ndarray:
        return np.asarray(cyclegan.paint(photo, weights=tiny_file, device="cpu", precision=precision,
                                         strength=0.9, brush_scale=1.25, **kwargs))

    first = paint()
    assert np.array_equal(first, paint()), "cached generator"
    cyclegan.clear_cache()
    assert np.array_equal(first, paint()), "freshly loaded generator"
    tiled = paint(tile_size=64)
    assert np.array_equal(tiled, paint(tile_size=64)), "tiled painting"


@pytest.mark.parametrize("value", [float("nan"), float("inf")], ids=["nan", "inf"])
def test_texture_canvas_refuses_nan_and_infinity_by_name(value):
    from nst.errors import SettingsError
    from nst.texture import check_canvas

    with pytest.raises(SettingsError, match="width"):
        check_canvas(value, 32)
