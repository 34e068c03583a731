"""The same inputs, settings and seed give bit-identical pictures on the same device (the CPU here): Gram, sampled
MMD, texture and CycleGAN (tiled or not, freshly loaded or cached), through the package and through the API."""

from __future__ import annotations

import numpy as np
import pytest

import nst
from nst import cyclegan
from nst.settings import Settings
from support.pictures import rgb, texture

gradio_client = pytest.importorskip("gradio_client")
from gradio_client import handle_file  # noqa: E402

FAST = dict(size=32, steps=3, style_layers=("conv1_1", "conv2_1", "conv3_1"), content_layers=("conv3_1",))


@pytest.mark.parametrize("style_loss", ["gram", "mmd-gauss"])
def test_optimization_is_bit_identical_for_the_same_inputs_and_seed(
    vgg19_env, content_path, style_path, style_loss
):
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
        return np.asarray(
            cyclegan.paint(
                photo,
                weights=tiny_file,
                device="cpu",
                precision=precision,
                strength=0.9,
                brush_scale=1.25,
                **kwargs,
            )
        )

    first = paint()
    assert np.array_equal(first, paint()), "cached generator"
    cyclegan.clear_cache()
    assert np.array_equal(first, paint()), "freshly loaded generator"
    tiled = paint(tile_size=64)
    assert np.array_equal(tiled, paint(tile_size=64)), "tiled painting"


def test_same_inputs_and_seed_give_identical_pictures_through_the_api(
    client, vgg19_env, painter, content_path, style_path
):
    def gatys(seed: int) -> np.ndarray:
        image, _ = client.predict(
            handle_file(content_path),
            handle_file(style_path),
            size=48,
            steps=3,
            init="noise",
            seed=seed,
            api_name="/gatys",
        )
        return rgb(image)

    def cyclegan() -> np.ndarray:
        image, _ = client.predict(
            handle_file(content_path), painter=painter, strength=0.8, brush_scale=1.5, api_name="/cyclegan"
        )
        return rgb(image)

    first = gatys(5)
    assert np.array_equal(first, gatys(5)), "same seed, same picture"
    assert not np.array_equal(first, gatys(6)), "the seed matters"
    painted = cyclegan()
    from nst import cyclegan as cg

    cg.clear_cache()  # a freshly loaded generator paints the same picture
    assert np.array_equal(painted, cyclegan())
