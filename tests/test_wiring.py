"""Wiring: every setting reaches the place it is documented to change, checked by what the run does.

Formulas are tested in test_losses/test_style_losses; here the question is whether the engine reads the
layers it was given, returns the image it promises, and whether blends, masks, segmentations, style
scale and colour modes move the picture the documented way. Each test here failed with a planted
wiring bug (``benchmarks/mutations.py`` keeps the list and plants them again).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

import nst
from nst import engine
from nst.images import image_to_tensor, load_image
from nst.settings import CONTENT_WEIGHT_GROWTH, Settings
from nst.vgg import VGGFeatures
from support.pictures import make_picture

EXACT = dict(size=32, steps=1, scales=1, precision="fp32", tv_weight=0.0, init="noise", seed=3)


@pytest.fixture(scope="module")
def net(vgg19_state) -> VGGFeatures:
    return VGGFeatures("vgg19", vgg19_state, pooling=Settings().pooling)


def solid(colour: tuple[int, int, int], size=(40, 32), noise: float = 12.0, seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    arr = np.clip(np.array(colour, float) + rng.normal(0, noise, (size[1], size[0], 3)), 0, 255)
    return Image.fromarray(arr.astype(np.uint8))


def first_image(settings: Settings, size: tuple[int, int]) -> torch.Tensor:
    """The noise the engine starts from (init noise): the same generator and seed, computed here."""
    gen = torch.Generator().manual_seed(settings.seed)
    return torch.rand((1, 3, size[1], size[0]), generator=gen)


def at(path, size: tuple[int, int]) -> torch.Tensor:
    """An image as the engine sees it at ``size``: shrunk as it is decoded, then fitted (LANCZOS)."""
    image = load_image(path, "image", max_size=max(size))
    return image_to_tensor(image if image.size == size else image.resize(size, Image.Resampling.LANCZOS))


# ----------------------------------------------------------------------------- which layers each term reads


@pytest.mark.parametrize("layer", ["conv2_2", "relu3_1"])
def test_the_content_term_reads_content_layers(vgg19_env, net, content_path, style_path, layer):
    settings = Settings(**EXACT, content_layers=(layer,), style_layers=("conv1_1",), style_weight=0.0)
    result = nst.stylize(content_path, style_path, settings)
    size = result.image.size
    x0, content = first_image(settings, size), at(content_path, size)
    with torch.no_grad():
        f, t = net(x0, [layer])[layer], net(content, [layer])[layer]
    expected = F.mse_loss(f, t).item() / t.pow(2).mean().item()
    assert result.losses[0]["content"] == pytest.approx(expected, rel=1e-4)


def test_the_content_weight_grows_with_the_side_of_each_scale_above_256_px(
    vgg19_env, net, content_path, style_path
):
    # 2 scales to 640 px: the first step is at 320 px, where content_weight 2 counts 2 * (320 / 256) ** growth.
    settings = Settings(
        **{**EXACT, "size": 640, "steps": 2, "scales": 2}, content_weight=2.0, style_weight=0.0
    )
    settings = settings.replace(content_layers=("conv1_1",), style_layers=("conv1_1",))
    result = nst.stylize(content_path, style_path, settings)
    coarse = tuple(round(side / 2) for side in result.image.size)
    assert max(coarse) == 320
    x0, content = first_image(settings, coarse), at(content_path, coarse)
    with torch.no_grad():
        f, t = net(x0, ["conv1_1"])["conv1_1"], net(content, ["conv1_1"])["conv1_1"]
    unweighted = F.mse_loss(f, t).item() / t.pow(2).mean().item()
    grown = 2.0 * (320 / 256) ** CONTENT_WEIGHT_GROWTH
    assert grown > 2.2  # the growth is large enough to tell the coarse scale from the final one
    assert result.losses[0]["content"] == pytest.approx(grown * unweighted, rel=1e-4)


def gram_style_value(net, x0: torch.Tensor, style: torch.Tensor, layers, weights) -> float:
    """The paper's style loss, normalized by the style's own Gram energy per layer, computed here."""

    def gram(a: torch.Tensor) -> torch.Tensor:
        flat = a.reshape(a.shape[1], -1)
        return flat @ flat.T / flat.shape[1]

    total = 0.0
    with torch.no_grad():
        for layer, w in zip(layers, weights):
            f, s = net(x0, [layer])[layer], net(style, [layer])[layer]
            total += w * ((gram(f) - gram(s)).pow(2).sum() / gram(s).pow(2).sum()).item()
    return total


def test_the_style_term_reads_style_layers_with_their_weights(vgg19_env, net, content_path, style_path):
    layers, weights = ("conv1_2", "relu2_1"), (3.0, 1.0)
    settings = Settings(**EXACT, style_layers=layers, style_layer_weights=weights, content_weight=0.0)
    result = nst.stylize(content_path, style_path, settings)
    x0 = first_image(settings, result.image.size)
    style = at(style_path, (32, 32))  # a 36x36 style at the output's longest side, 32 px
    expected = gram_style_value(net, x0, style, layers, (0.75, 0.25))
    assert result.losses[0]["style"] == pytest.approx(settings.style_weight * expected, rel=1e-4)


def test_without_weights_a_fifth_block_style_layer_weighs_a_tenth(vgg19_env, net, content_path, style_path):
    layers = ("conv1_2", "relu5_1")
    settings = Settings(**EXACT, style_layers=layers, content_weight=0.0)
    result = nst.stylize(content_path, style_path, settings)
    x0 = first_image(settings, result.image.size)
    style = at(style_path, (32, 32))
    expected = gram_style_value(net, x0, style, layers, (1 / 1.1, 0.1 / 1.1))
    assert result.losses[0]["style"] == pytest.approx(settings.style_weight * expected, rel=1e-4)


def test_a_coarse_scale_leaves_out_style_layers_with_few_positions_and_the_last_keeps_them(
    vgg19_env, net, content_path, style_path
):
    layers = ("conv1_1", "relu5_1")  # relu5_1: 8x6 = 48 positions at 128x102, under MIN_STYLE_POSITIONS
    settings = Settings(
        **{**EXACT, "size": 256, "steps": 2, "scales": 2}, style_layers=layers, content_weight=0.0
    )
    result = nst.stylize(content_path, style_path, settings)
    assert result.image.size == (256, 205)  # the 40x32 content
    x0 = first_image(settings, (128, 102))
    coarse = gram_style_value(net, x0, at(style_path, (128, 128)), ("conv1_1",), (1.0,))
    both = gram_style_value(
        net, x0, at(style_path, (128, 128)), layers, (1 / 1.1, 0.1 / 1.1)
    )  # relu5_1 a tenth
    assert abs(coarse - both) > 0.02 * coarse  # the test can tell the two apart
    assert result.losses[0]["style"] == pytest.approx(settings.style_weight * coarse, rel=1e-4)
    # One scale is the last: relu5_1 stays, though its 4x3 grid is smaller still.
    small = settings.replace(size=64, steps=1, scales=1)
    x0 = first_image(small, (64, 51))
    expected = gram_style_value(net, x0, at(style_path, (64, 64)), layers, (1 / 1.1, 0.1 / 1.1))
    assert nst.stylize(content_path, style_path, small).losses[0]["style"] == pytest.approx(
        small.style_weight * expected, rel=1e-4
    )


@pytest.mark.parametrize("style_scale, side", [(0.5, 16), (2.0, 64)])
def test_style_scale_sets_the_size_the_style_is_seen_at(
    vgg19_env, net, content_path, style_path, style_scale, side
):
    layers = ("conv1_2", "conv2_1")
    settings = Settings(**EXACT, style_layers=layers, content_weight=0.0, style_scale=style_scale)
    result = nst.stylize(content_path, style_path, settings)
    x0 = first_image(settings, result.image.size)
    expected = gram_style_value(net, x0, at(style_path, (side, side)), layers, (0.5, 0.5))
    unscaled = gram_style_value(net, x0, at(style_path, (32, 32)), layers, (0.5, 0.5))
    assert abs(expected - unscaled) > 0.02 * unscaled  # the test can tell the sizes apart
    assert result.losses[0]["style"] == pytest.approx(settings.style_weight * expected, rel=1e-4)


def test_the_histogram_term_reads_hist_layers(vgg19_env, net, tmp_path):
    """Risser's loss at equal sizes is an exact sort: each channel's k-th smallest output value is
    matched with the style's k-th smallest."""
    content, style = tmp_path / "c.png", tmp_path / "s.png"
    make_picture(40, 32, seed=1).save(content)
    make_picture(40, 32, seed=2).save(style)  # same shape as the content: the same number of positions
    layer = "relu2_1"
    settings = Settings(**EXACT, hist_weight=1.0, hist_layers=(layer,), style_weight=0.0, content_weight=0.0)
    result = nst.stylize(content, style, settings)
    size = result.image.size
    with torch.no_grad():
        f = net(first_image(settings, size), [layer])[layer][0].flatten(1).numpy()
        s = net(at(style, size), [layer])[layer][0].flatten(1).numpy()
    matched = np.empty_like(f)
    for c in range(f.shape[0]):
        matched[c, np.argsort(f[c], kind="stable")] = np.sort(s[c])
    expected = ((f - matched) ** 2).mean(1).sum() / (s**2).mean(1).sum()
    assert result.losses[0]["hist"] == pytest.approx(expected, rel=1e-3)


# ----------------------------------------------------------------------------- which image is returned


class Schedule:
    """A loss whose value follows a fixed schedule, lowest at the third evaluation, with a gradient that
    keeps moving the image: the returned picture must be the one evaluated third."""

    name, layers = "schedule", ()

    def __init__(self) -> None:
        self.seen: list[torch.Tensor] = []

    def __call__(self, features, image: torch.Tensor) -> torch.Tensor:
        offsets = [5.0, 4.0, 1.0, 3.0, 6.0, 7.0, 8.0, 9.0]
        value = offsets[min(len(self.seen), len(offsets) - 1)]
        self.seen.append(image.detach().clone())
        return (image - 0.9).pow(2).mean() + value


@pytest.mark.parametrize("optimizer", ["lbfgs", "adam"])
def test_the_best_evaluated_image_is_returned(net, optimizer):
    term = Schedule()
    x = torch.full((1, 3, 8, 8), 0.2)
    out, stopped = engine.optimize(x, net, [(term, 1.0)], Settings(optimizer=optimizer), steps=5)
    assert not stopped and len(term.seen) == 6  # five steps and the final check
    assert torch.equal(out, term.seen[2].clamp(0, 1))
    assert not torch.equal(out, term.seen[-1])


# ----------------------------------------------------------------------------- settings move the picture


def colour_distance(image: Image.Image, colour: tuple[int, int, int]) -> float:
    return float(np.abs(np.asarray(image, float).reshape(-1, 3).mean(0) - np.array(colour)).mean())


RED, BLUE = (200, 40, 40), (40, 60, 200)
TEXTURE = dict(steps=25, style_layers=("conv1_1", "conv2_1"), precision="fp32", seed=0)


def test_style_blend_weighs_the_styles(vgg19_env):
    red, blue = solid(RED, seed=1), solid(BLUE, seed=2)
    results = {
        blend: nst.synthesize_texture(
            [red, blue], Settings(**TEXTURE, style_blend=blend), width=32, height=32
        ).image
        for blend in ((0.9, 0.1), (0.5, 0.5), (0.1, 0.9))
    }
    to_red = {b: colour_distance(im, RED) for b, im in results.items()}
    assert to_red[(0.9, 0.1)] < to_red[(0.5, 0.5)] < to_red[(0.1, 0.9)], to_red


#: Style only, from noise: each part of the picture can take only the colour its part of the style has.
TWO_PARTS = Settings(
    size=40, steps=30, style_layers=("conv1_1", "conv2_1"), content_weight=0.0, init="noise", precision="fp32"
)


def assert_red_left_blue_right(out: np.ndarray) -> None:
    redness = out[..., 0] - out[..., 2]
    left, right = redness[:, :16].mean(), redness[:, 24:].mean()
    assert left > right + 40, (left, right)


def test_masks_put_each_style_in_its_own_part(vgg19_env, content_path):
    left = np.zeros((32, 40), np.uint8)
    left[:, :20] = 255
    masks = [Image.fromarray(left), Image.fromarray(255 - left)]
    out = np.asarray(
        nst.stylize(content_path, [solid(RED, seed=1), solid(BLUE, seed=2)], TWO_PARTS, masks=masks).image,
        float,
    )
    assert_red_left_blue_right(out)


def test_segmentations_match_regions_by_label(vgg19_env, content_path):
    """The content's left half (green label) takes the style's top (green label, red paint); its right half
    (blue label) the style's bottom (blue paint)."""
    seg = Image.new("RGB", (40, 32), (0, 0, 255))
    seg.paste((0, 255, 0), (0, 0, 20, 32))
    style = Image.new("RGB", (40, 40), BLUE)
    style.paste(RED, (0, 0, 40, 20))
    style_seg = Image.new("RGB", (40, 40), (0, 0, 255))
    style_seg.paste((0, 255, 0), (0, 0, 40, 20))
    out = np.asarray(
        nst.stylize(
            content_path, style, TWO_PARTS, content_segmentation=seg, style_segmentation=style_seg
        ).image,
        float,
    )
    assert_red_left_blue_right(out)


def test_histogram_colour_mode_keeps_the_contents_colours(vgg19_env, tmp_path):
    content = tmp_path / "green.png"
    solid((60, 170, 70), seed=3).save(content)
    settings = Settings(size=40, steps=15, style_layers=("conv1_1", "conv2_1"), precision="fp32")
    plain = nst.stylize(content, solid(RED, seed=1), settings).image
    kept = nst.stylize(content, solid(RED, seed=1), settings.replace(preserve_color="histogram")).image
    green = (60, 170, 70)
    assert colour_distance(kept, green) < 0.5 * colour_distance(plain, green), (
        colour_distance(kept, green),
        colour_distance(plain, green),
    )
