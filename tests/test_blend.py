"""style_blend in every style statistic: the heavier style wins, and only the weights' ratios count.

Two flat, lightly noisy styles (red and blue) are blended into a texture from noise, with every style
loss (Gram, the MMD kernels, BN statistics) and with the histogram loss alone. The picture is judged by
its mean colour, measured here, not by any loss of the package: with 0.9/0.1 it must be near the red
style and far from the blue one, with 0.1/0.9 the other way round. Weights that do not sum to 1 (9/1)
must give the picture of the same weights normalized (0.9/0.1). The runs are on the CPU, seeded; every
margin is several times what float rounding moves (see each test).
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

import nst
from nst.settings import STYLE_LOSSES, Settings

RED, BLUE = (200, 40, 40), (40, 60, 200)
#: Every style statistic, mmd-poly also with c = 0 (its Gram part alone: with c its mean part alone
#: pulls the colour toward the heavier style), and the histogram loss on its own (style_weight 0).
LOSSES = (*STYLE_LOSSES, "mmd-poly-c0", "hist")
#: A red-heavy and a blue-heavy blend: each has the other's weights, swapped.
RED_HEAVY, BLUE_HEAVY = (0.9, 0.1), (0.1, 0.9)
#: RED_HEAVY times 10: the same ratio, summing to 10.
UNNORMALISED = (9.0, 1.0)
#: Mean-colour distances (0-255 levels): the heavier style's is below this, the lighter's above FAR.
#: Measured on the tiny random VGG19: 6 to 21 and 93 to 111 for every loss.
NEAR, FAR = 35.0, 75.0


def solid(colour: tuple[int, int, int], seed: int, size=(40, 32), noise: float = 12.0) -> Image.Image:
    """One colour with a little seeded noise (a style with one clear colour and some spread)."""
    rng = np.random.default_rng(seed)
    arr = np.clip(np.array(colour, float) + rng.normal(0, noise, (size[1], size[0], 3)), 0, 255)
    return Image.fromarray(arr.astype(np.uint8))


def colour_distance(picture: np.ndarray, colour: tuple[int, int, int]) -> float:
    """Mean absolute difference (levels) between the picture's mean colour and ``colour``."""
    return float(np.abs(picture.reshape(-1, 3).mean(0) - np.array(colour, float)).mean())


def blended(loss: str, blend: tuple[float, float]) -> np.ndarray:
    """A 32 px texture from noise blending the red and the blue style with ``blend``, under ``loss``."""
    terms = {
        "hist": dict(style_weight=0.0, hist_weight=1.0),
        "mmd-poly-c0": dict(style_loss="mmd-poly", mmd_poly_c=0.0),
    }.get(loss, dict(style_loss=loss))
    settings = Settings(
        steps=20,
        style_layers=("conv1_1", "conv2_1"),
        hist_layers=("relu1_1", "relu2_1"),
        precision="fp32",
        seed=0,
        style_blend=blend,
        **terms,
    )
    styles = [solid(RED, seed=1), solid(BLUE, seed=2)]
    result = nst.synthesize_texture(styles, settings, width=32, height=32, device="cpu")
    return np.asarray(result.image, dtype=np.float64)


@pytest.mark.parametrize("loss", LOSSES)
def test_the_heavier_style_of_a_blend_wins_in_every_style_loss(vgg19_env, loss):
    pictures = {blend: blended(loss, blend) for blend in (RED_HEAVY, BLUE_HEAVY)}
    distances = {
        blend: {"red": colour_distance(p, RED), "blue": colour_distance(p, BLUE)}
        for blend, p in pictures.items()
    }
    red_heavy, blue_heavy = distances[RED_HEAVY], distances[BLUE_HEAVY]
    assert red_heavy["red"] < NEAR and red_heavy["blue"] > FAR, distances
    assert blue_heavy["blue"] < NEAR and blue_heavy["red"] > FAR, distances


@pytest.mark.parametrize("loss", LOSSES)
def test_blend_weights_count_only_by_their_ratio(vgg19_env, loss):
    """9/1 paints what 0.9/0.1 paints. Not compared pixel by pixel: 20 L-BFGS steps amplify a change
    of the weights in their 7th digit (float rounding) to up to 18 levels at single pixels, 1.8 on
    average and 0.3 in the mean colour, whereas weights used unnormalised (a Gram target 10 times too
    large) move the mean colour by 70 levels and the average pixel by 80."""
    normalised, unnormalised = blended(loss, RED_HEAVY), blended(loss, UNNORMALISED)
    np.testing.assert_allclose(
        unnormalised.reshape(-1, 3).mean(0), normalised.reshape(-1, 3).mean(0), atol=2.0
    )
    assert np.abs(unnormalised - normalised).mean() < 6.0
