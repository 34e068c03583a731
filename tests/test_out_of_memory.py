"""Out of memory, simulated (no GPU here): the forward pass of VGG or of the CycleGAN generator raises what torch
raises on a full GPU or a failed CPU allocation; the package answers with a ResourceError that says to use a
smaller size, the app with that sentence, and the next job runs normally."""

from __future__ import annotations

import re

import pytest
import torch
from PIL import Image

import nst
from nst import cyclegan, generator, vgg
from nst.errors import ResourceError
from nst.settings import Settings
from support.http import refusal, wait_until, worker_threads
from support.pictures import texture

gradio_client = pytest.importorskip("gradio_client")
from gradio_client import handle_file  # noqa: E402

FAST = dict(size=32, steps=3, style_layers=("conv1_1", "conv2_1", "conv3_1"), content_layers=("conv3_1",))
#: The same run through the API (layers as text).
API = dict(size=48, steps=1)


def _gpu_oom(*args, **kwargs):
    raise torch.OutOfMemoryError(
        "CUDA out of memory. Tried to allocate 20.00 GiB (GPU 0; 15.77 GiB total capacity)"
    )


def _cpu_oom(*args, **kwargs):
    raise RuntimeError(
        "[enforce fail at alloc_cpu.cpp:127] err == 0. DefaultCPUAllocator: can't allocate memory: "
        "you tried to allocate 99999999999 bytes. Error code 12 (Cannot allocate memory)"
    )


def test_gpu_out_of_memory_in_the_optimizer_is_a_resource_error_then_runs_again(
    vgg19_env, content_path, style_path, monkeypatch
):
    settings = Settings(**FAST)
    with monkeypatch.context() as m:
        m.setattr(vgg.VGGFeatures, "forward", _gpu_oom)
        with pytest.raises(ResourceError, match="out of GPU memory at size 32; try a smaller size"):
            nst.stylize(content_path, style_path, settings)
        with pytest.raises(ResourceError, match="try a smaller size"):
            nst.synthesize_texture(style_path, settings, width=32, height=24)
    result = nst.stylize(content_path, style_path, settings)
    assert result.steps == 3 and result.image.size == (32, 26)


def test_cpu_allocation_failure_in_the_optimizer_is_a_resource_error(
    vgg19_env, content_path, style_path, monkeypatch
):
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


def test_gpu_out_of_memory_is_a_clear_message_and_the_next_run_works(
    client, vgg19_env, monkeypatch, content_path, style_path, painter
):
    from nst import generator, vgg

    def oom(*args, **kwargs):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")

    with monkeypatch.context() as m:
        m.setattr(vgg.VGGFeatures, "forward", oom)
        message = refusal(
            client.predict, handle_file(content_path), handle_file(style_path), **API, api_name="/gatys"
        )
        assert re.search(r"out of (GPU )?memory.*smaller size", message), message
    with monkeypatch.context() as m:
        m.setattr(generator.ResnetGenerator, "forward", oom)
        message = refusal(client.predict, handle_file(content_path), painter=painter, api_name="/cyclegan")
        assert re.search(r"out of memory painting 40x32 px", message), message
    assert wait_until(lambda: not worker_threads(), 10), "the worker thread ended"
    image, info = client.predict(handle_file(content_path), handle_file(style_path), **API, api_name="/gatys")
    assert info["done"] and Image.open(image).size == (48, 38)
    image, info = client.predict(handle_file(content_path), painter=painter, api_name="/cyclegan")
    assert info["done"] and Image.open(image).size == (40, 32)


def test_cpu_allocation_failure_and_bugs_still_get_a_sentence(
    client, vgg19_env, monkeypatch, content_path, style_path
):
    """Whatever escapes the package (a CPU allocator failure, a bug) reaches the person as a sentence."""
    from nst import vgg

    def cpu_oom(*args, **kwargs):
        raise RuntimeError(
            "[enforce fail at alloc_cpu.cpp:127] DefaultCPUAllocator: can't allocate memory: "
            "you tried to allocate 99999999999 bytes"
        )

    def bug(*args, **kwargs):
        raise KeyError("conv4_2")

    with monkeypatch.context() as m:
        m.setattr(vgg.VGGFeatures, "forward", cpu_oom)
        message = refusal(
            client.predict, handle_file(content_path), handle_file(style_path), **API, api_name="/gatys"
        )
        assert re.search(r"out of memory.*smaller", message), message
        m.setattr(vgg.VGGFeatures, "forward", bug)
        message = refusal(
            client.predict, handle_file(content_path), handle_file(style_path), **API, api_name="/gatys"
        )
        assert re.search(r"went wrong on the server \(KeyError\)", message), message
    image, info = client.predict(handle_file(content_path), handle_file(style_path), **API, api_name="/gatys")
    assert info["done"]
