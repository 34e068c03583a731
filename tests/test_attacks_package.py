"""The package under hostile files and settings: weights that would run code or hold NaN, paths that are
folders or devices, sizes that only the short side rules out, runs too big for the device, and a stop
that must land while targets are still being built."""

from __future__ import annotations

import os
import pickle
import threading

import pytest
import torch
from PIL import Image

import nst
from nst import cyclegan
from nst import weights as vgg_weights
from nst.checkpoints import read_state_dict
from nst.errors import ImageError, ResourceError, SettingsError, Stopped, WeightsError
from nst.geometry import Canvas
from nst.images import load_image
from nst.memory import check_memory
from nst.methods import get_method
from nst.settings import MAX_STYLES, Settings
from nst.ui.server import ServerConfig
from support.page import START
from support.painters import save_weights, tiny_state

CPU = torch.device("cpu")


class _RunsCode:
    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


# ----------------------------------------------------------------------------- weights files


def test_a_plain_pickle_that_would_run_code_is_named_not_called_damaged(tmp_path):
    marker = tmp_path / "code-ran"
    evil = tmp_path / "latest_net_G.pth"
    with evil.open("wb") as f:
        pickle.dump({"model.1.weight": _RunsCode(str(marker))}, f)  # not torch's format: a bare pickle
    for load in (
        lambda: cyclegan.paint(Image.new("RGB", (32, 32)), weights=evil, device="cpu"),
        lambda: vgg_weights.load_vgg("vgg19", "avg", evil),
    ):
        with pytest.raises(WeightsError) as err:
            load()
        message = str(err.value)
        assert "would run code (posix.mkdir), which is refused for safety" in message, message
        assert "damaged" not in message and "weights_only=False" not in message and "\n" not in message
    assert not marker.exists()


def test_a_pickled_network_is_one_sentence_without_torchs_advice(tmp_path):
    path = tmp_path / "vgg19-full-model.pth"
    torch.save(torch.nn.Sequential(torch.nn.Conv2d(3, 64, 3)), path)
    with pytest.raises(WeightsError) as err:
        vgg_weights.load_vgg("vgg19", "avg", path)
    message = str(err.value)
    assert "would run code (torch.nn.modules.container.Sequential)" in message, message
    assert "weights_only=False" not in message and "\n" not in message and "refused for safety" in message, (
        message
    )


def test_nan_weights_are_refused_when_loaded_not_blamed_on_the_learning_rate(
    tmp_path, vgg19_state, content_path, style_path
):
    state = dict(vgg19_state)
    state["0.weight"] = state["0.weight"].clone()
    state["0.weight"][0, 0, 0, 0] = float("nan")
    path = tmp_path / "nan.pth"
    torch.save(state, path)
    with pytest.raises(
        WeightsError, match=r"contain NaN or infinite values \(in 0\.weight\); the file is damaged"
    ):
        nst.stylize(content_path, style_path, size=32, steps=1, vgg_weights=str(path))


@pytest.mark.parametrize("where", ["folder", "device"])
def test_folders_and_devices_are_named_for_what_they_are(where, tmp_path, style_path):
    path = tmp_path if where == "folder" else "/dev/null"
    said = "is a folder" if where == "folder" else "is not a regular file"
    with pytest.raises(WeightsError, match=said):
        read_state_dict(path)
    with pytest.raises(WeightsError, match=said):
        vgg_weights.load_vgg("vgg19", "avg", path)
    with pytest.raises(WeightsError, match=said):
        cyclegan.load_generator(weights=path, device="cpu")
    with pytest.raises(ImageError, match=f"content image {said}"):
        load_image(path, "content image")


# ----------------------------------------------------------------------------- images


def test_a_picture_just_over_the_pixel_limit_does_not_read_as_the_limit(tmp_path):
    path = tmp_path / "big.png"
    Image.new("1", (7100, 7085)).save(path)  # 50.3 megapixels
    with pytest.raises(ImageError) as err:
        load_image(path, "style image")
    assert "(50.3 megapixels); the limit is 50 megapixels" in str(err.value), err.value


def test_images_are_shrunk_as_they_are_decoded(tmp_path):
    gif = tmp_path / "huge.gif"
    Image.new("P", (7000, 7000)).save(gif)
    assert load_image(gif, "style image", max_size=64).size == (64, 64)
    jpeg = tmp_path / "photo.jpg"
    Image.new("RGB", (4000, 3000), "green").save(jpeg)
    assert load_image(jpeg, "content image", max_size=500).size == (500, 375)
    pano = tmp_path / "pano.png"
    Image.new("RGB", (1200, 100)).save(pano)
    assert load_image(pano, "content image", max_size=64).size == (192, 16), "the short side stays usable"


# ----------------------------------------------------------------------------- bounded work


def test_too_many_styles_are_refused_before_any_image_is_read(tmp_path):
    missing = [tmp_path / f"style{k}.png" for k in range(MAX_STYLES + 1)]
    with pytest.raises(
        SettingsError, match=f"style: {MAX_STYLES + 1} style images given; at most {MAX_STYLES}"
    ):
        nst.stylize(tmp_path / "photo.png", missing, size=32, steps=1)


def test_a_run_beyond_the_devices_memory_is_refused_before_any_image_is_read(tmp_path):
    missing = tmp_path / "not-read.png"
    with pytest.raises(
        ResourceError,
        match=r"a 4096x4096 px picture with these settings needs about [\d.]+ GB .*the style features.*lower the size",
    ):
        nst.synthesize_texture([missing] * 4, width=4096, height=4096, style_loss="bn")
    with pytest.raises(ResourceError, match="the matting Laplacian"):
        nst.stylize(missing, missing, size=4096, steps=1, photo_weight=1e4)
    # What the whole-picture engine had to refuse now runs in tiles, within the same budget.
    check_memory(Canvas(2048, 2048), Settings(size=2048, style_scale=2), 3, CPU)
    check_memory(Canvas(4096, 4096), Settings(size=4096), 1, CPU)


def test_a_stop_lands_while_targets_are_built(vgg19_env, content_path, style_path, monkeypatch):
    from nst import vgg

    stop = threading.Event()
    calls: list[int] = []
    forward = vgg.VGGFeatures.forward

    def counting(self, image, taps):
        calls.append(image.shape[-1])
        stop.set()  # someone pressed Stop while the first target was computed
        return forward(self, image, taps)

    monkeypatch.setattr(vgg.VGGFeatures, "forward", counting)
    with pytest.raises(Stopped):
        nst.stylize(content_path, [style_path, style_path, style_path], size=64, steps=50, stop=stop)
    assert len(calls) == 1, "no further style and no optimizer step after the stop"


def test_a_stop_after_a_step_returns_the_picture_at_full_size(vgg19_env, content_path, style_path):
    stop = threading.Event()
    result = nst.stylize(
        content_path, style_path, size=64, steps=50, scales=2, callback=lambda info: stop.set(), stop=stop
    )
    assert result.stopped and result.steps == 1 and result.image.size == (64, 51)


# ----------------------------------------------------------------------------- every accepted input runs


ASPECTS = [(1, 16), (1, 12), (1, 8), (1, 3), (1, 1), (3, 1), (8, 1), (12, 1), (16, 1)]


@pytest.mark.parametrize("method", ["gatys", "histogram", "mmd", "photorealistic", "texture", "cyclegan"])
def test_every_aspect_runs_or_is_refused_by_name_at_the_pages_defaults(
    method, vgg19_env, tmp_path, style_path, monkeypatch
):
    """From 1:16 to 16:1 through every method, the way the page's Run button goes (its controls at their CPU
    starting values, steps cut to 2): a picture of the expected size, or the loader's refusal beyond 12:1."""
    monkeypatch.setenv(
        "NST_CYCLEGAN_MONET_FILE", str(save_weights(tiny_state(3), tmp_path / "tiny.safetensors"))
    )
    config = ServerConfig.from_env({"NST_DEVICE": "cpu"})
    side = config.defaults.size
    for w, h in ASPECTS:
        photo = tmp_path / f"photo{w}x{h}.png"
        Image.new("RGB", (300 * w, 300 * h), (120, 80, 40)).save(photo)
        canvas = (side, max(16, side * h // w)) if w >= h else (max(16, side * w // h), side)
        controls = {
            **START,
            "method": method,
            "content": str(photo),
            "style": str(style_path),
            "size": side,
            "max_size": side,
            "scales": config.defaults.scales,
            "steps": 2,
            "width": canvas[0],
            "height": canvas[1],
        }
        try:
            request = get_method(method).request_from(controls, device="cpu").prepare(config.limits)
            image = request.run().image
        except ImageError as exc:
            assert max(w, h) / min(w, h) > 12 and "the limit is 12:1" in str(exc), (w, h, exc)
            continue
        if method == "texture":
            assert image.size == canvas, (w, h, image.size)
        else:
            assert max(image.size) == side and min(image.size) >= 16, (w, h, image.size)
