"""Colour preservation: luminance-only transfer and colour statistics matching."""

import numpy as np
import pytest
import torch
from PIL import Image

import nst
from nst.color import combine_luminance, match_color, rgb_to_yiq, yiq_to_rgb
from nst.images import image_to_tensor
from nst.settings import Settings

FAST = dict(size=32, steps=6, style_layers=("conv1_1", "conv2_1"), content_layers=("conv2_1",))
YIQ = np.array([[0.299, 0.587, 0.114], [0.595716, -0.274453, -0.321263], [0.211456, -0.522591, 0.311135]])


def test_yiq_round_trip_and_combination_keeps_chrominance_exactly():
    torch.manual_seed(0)
    content, stylized = torch.rand(1, 3, 9, 11), torch.rand(1, 3, 9, 11)
    assert torch.allclose(yiq_to_rgb(rgb_to_yiq(content)), content, atol=1e-6)
    out = combine_luminance(stylized, content).double().numpy()[0].reshape(3, -1)
    c = content.double().numpy()[0].reshape(3, -1)
    s = stylized.double().numpy()[0].reshape(3, -1)
    np.testing.assert_allclose((YIQ @ out)[1:], (YIQ @ c)[1:], atol=1e-6)  # content's I, Q
    np.testing.assert_allclose((YIQ @ out)[0], (YIQ @ s)[0], atol=1e-6)  # stylized Y


def test_colour_matching_gives_the_style_the_contents_mean_and_covariance():
    rng = np.random.default_rng(1)
    content = torch.from_numpy(rng.random((1, 3, 20, 24)) * 0.4 + 0.3)
    mix = np.array([[0.9, 0.3, 0.1], [0.0, 0.5, 0.2], [0.1, 0.1, 0.4]])
    style = torch.from_numpy(np.einsum("ij,bjhw->bihw", mix, rng.random((1, 3, 30, 30))) * 0.6)
    out = match_color(style, content).numpy()[0].reshape(3, -1)
    c = content.numpy()[0].reshape(3, -1)
    np.testing.assert_allclose(out.mean(1), c.mean(1), atol=1e-6)
    np.testing.assert_allclose(np.cov(out, bias=True), np.cov(c, bias=True), atol=1e-6)


def test_luminance_only_transfer_keeps_the_contents_chrominance(vgg19_env, content_path, style_path):
    result = nst.stylize(content_path, style_path, Settings(**FAST, preserve_color="luminance"))
    out = np.asarray(result.image, dtype=np.float64) / 255
    content = Image.open(content_path).convert("RGB").resize(result.image.size, Image.Resampling.LANCZOS)
    c = np.asarray(image_to_tensor(content)[0].permute(1, 2, 0).numpy(), dtype=np.float64)
    inside = ((out > 0) & (out < 1)).all(-1)  # pixels not clipped into the RGB cube
    assert inside.mean() > 0.9
    iq_out = (out @ YIQ.T)[..., 1:][inside]
    iq_content = (c @ YIQ.T)[..., 1:][inside]
    # Equal up to the output's 8-bit rounding (at most half a level per channel).
    assert np.abs(iq_out - iq_content).max() < 0.6 / 255 * np.abs(YIQ[1:]).sum(1).max()
    assert np.abs((out @ YIQ.T)[..., 0] - (c @ YIQ.T)[..., 0]).mean() > 0.01  # the luminance was stylized


def test_colour_histogram_mode_runs_and_changes_the_result(vgg19_env, content_path, style_path):
    plain = nst.stylize(content_path, style_path, Settings(**FAST))
    matched = nst.stylize(content_path, style_path, Settings(**FAST, preserve_color="histogram"))
    assert matched.image.size == plain.image.size
    assert not np.array_equal(np.asarray(plain.image), np.asarray(matched.image))
    with pytest.raises(
        nst.SettingsError, match="preserve_color: 'sepia' is not one of none, luminance, histogram"
    ):
        Settings(preserve_color="sepia")
