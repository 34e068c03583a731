"""Painting with a CycleGAN generator: any size, strength, brush scale, precision, batches and tiles."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from nst import cyclegan
from nst.errors import SettingsError, WeightsError
from nst.generator import (
    load_generator_file,
    norm_stats,
)
from nst.geometry import Canvas
from nst.images import image_to_tensor
from support.painters import reference_output, tiny_generator
from support.pictures import as_array, texture


def test_missing_local_weights_file_is_a_weights_error(tmp_path):
    with pytest.raises(WeightsError, match=r"weights file '.*nowhere\.pth' does not exist"):
        cyclegan.paint(texture(32, 32), weights=tmp_path / "nowhere.pth")


@pytest.mark.parametrize("size", [(17, 16), (33, 50), (101, 37), (64, 64)])
def test_output_has_the_input_size_for_any_size(tiny_file, size):
    im = texture(*size)
    out = cyclegan.paint(im, weights=tiny_file)
    assert out.size == size and out.mode == "RGB"
    assert as_array(out).std() > 1, "a real picture, not a constant"
    assert cyclegan.paint(im, weights=tiny_file, brush_scale=2.5).size == size
    assert cyclegan.paint(im, weights=tiny_file, tile_size=64).size == size


def test_strength_zero_returns_the_input_bit_for_bit(tmp_path):
    im = texture(37, 29, seed=4)
    path = tmp_path / "in.png"
    im.save(path)
    # No generator is needed (the weights file does not even exist): the photo comes back as is.
    for source in (im, path, path.read_bytes()):
        out = cyclegan.paint(source, weights=tmp_path / "absent.pth", strength=0)
        assert out.size == im.size and np.array_equal(np.asarray(out), np.asarray(im))
    assert len(cyclegan._CACHE) == 0


def test_strength_blends_photo_and_painting(tiny_file):
    im = texture(40, 36, seed=5)
    photo, full = as_array(im), as_array(cyclegan.paint(im, weights=tiny_file, strength=1))
    for s in (0.25, 0.5, 0.8):
        mixed = as_array(cyclegan.paint(im, weights=tiny_file, strength=s))
        # Blending happens before rounding to 8 bits: at most one level from the blend of the rounded images.
        assert np.abs(mixed - ((1 - s) * photo + s * full)).max() <= 1.0
    assert np.abs(full - photo).mean() > 5, "the painting differs from the photo"


def test_brush_scale_paints_small_and_enlarges(tiny_file):
    im = texture(80, 64, seed=6)
    out = cyclegan.paint(im, weights=tiny_file, brush_scale=2, precision="float32")
    small = im.resize((40, 32), Image.Resampling.LANCZOS)
    net = load_generator_file(tiny_file)
    expected = reference_output(net.state_dict(), net.options, image_to_tensor(small))
    expected = F.interpolate(expected, size=(64, 80), mode="bicubic", align_corners=False).clamp(0, 1)
    diff = np.abs(as_array(out) - np.round(expected[0].permute(1, 2, 0).numpy() * 255))
    assert diff.max() <= 1
    assert cyclegan.work_canvas(Canvas(80, 64), 2) == (40, 32)
    assert cyclegan.work_canvas(Canvas(400, 20), 4) == (320, 16), "the short side never goes below 16 px"


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(strength=1.5), "strength"),
        (dict(strength=float("nan")), "strength"),
        (dict(brush_scale=0.5), "brush_scale"),
        (dict(brush_scale=9), "brush_scale"),
        (dict(tile_size=10), "tile_size"),
        (dict(precision="float16"), "only supported on GPUs"),
        (dict(precision="int8"), "precision"),
        (dict(device="cuda:7"), "device"),
    ],
)
def test_bad_settings_are_refused(tiny_file, kwargs, match):
    with pytest.raises(SettingsError, match=match):
        cyclegan.paint(texture(32, 32), weights=tiny_file, **kwargs)


def test_precision_auto_never_assumes_a_gpu(monkeypatch):
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert (
        cyclegan.resolve_dtype(cuda) == torch.float16
        and cyclegan.resolve_dtype(cuda, "float32") == torch.float32
    )
    monkeypatch.setattr(cyclegan, "cpu_bfloat16_is_faster", lambda: False)
    assert cyclegan.resolve_dtype(cpu) == torch.float32
    monkeypatch.setattr(cyclegan, "cpu_bfloat16_is_faster", lambda: True)
    assert cyclegan.resolve_dtype(cpu) == torch.bfloat16
    assert cyclegan.resolve_dtype(torch.device("mps")) == torch.float32
    if not torch.cuda.is_available():
        with pytest.raises(SettingsError, match="CUDA is not available"):
            cyclegan.paint(texture(32, 32), device="cuda")


def test_bfloat16_on_cpu_is_close_to_float32(tiny_file):
    im = texture(48, 48, seed=8)
    a = as_array(cyclegan.paint(im, weights=tiny_file, precision="float32"))
    b = as_array(cyclegan.paint(im, weights=tiny_file, precision="bfloat16"))
    assert np.abs(a - b).mean() < 3 and np.abs(a - b).max() < 24


def test_batch_gives_the_same_images_as_one_by_one(tiny_file):
    ims = [texture(40, 32, seed=s) for s in range(3)] + [texture(24, 36, seed=9)]
    calls = []
    batch = cyclegan.paint_batch(
        ims, weights=tiny_file, batch_size=2, precision="float32", progress=lambda d, t: calls.append((d, t))
    )
    for im, out in zip(ims, batch):
        assert (
            np.abs(as_array(out) - as_array(cyclegan.paint(im, weights=tiny_file, precision="float32"))).max()
            <= 1
        )
    assert calls == [(1, 3), (2, 3), (3, 3)]  # two batches of 40x32 images, one of 24x36


@settings(max_examples=60, deadline=None)
@given(
    length=st.integers(16, 900).map(lambda n: n * 4),
    tile=st.integers(16, 160).map(lambda n: n * 4),
    overlap=st.integers(0, 64),
    margin=st.integers(0, 24),
)
def test_blend_weights_partition_unity_and_skip_margins(length, tile, overlap, margin):
    overlap = min(overlap, tile // 3) // 4 * 4
    starts = cyclegan._plan(length, tile, overlap)
    size = min(tile, length)
    weights = cyclegan._blend_weights(starts, size, margin)
    total = torch.zeros(length, dtype=torch.float64)
    for i, (s, w) in enumerate(zip(starts, weights)):
        assert s % 4 == 0 and s + size <= length
        total[s : s + size] += w
        if i > 0 and overlap >= 2 * margin + 1:  # an inner edge: its margin is never used
            assert w[:margin].abs().max() == 0 if margin else True
        if i < len(starts) - 1 and overlap >= 2 * margin + 1:
            assert w[size - margin :].abs().max() == 0 if margin else True
    assert starts[0] == 0 and starts[-1] + size == length
    torch.testing.assert_close(total, torch.ones(length, dtype=torch.float64))


def test_tiles_equal_the_whole_image_given_the_same_norm_statistics():
    """With whole-image statistics and margins wider than the receptive field, tiling is exact.

    This checks the tiling itself (plan, quarter-grid alignment, margins, blending): the
    1-block tiny generator sees 23 px around each pixel (7x7 conv: 3, two stride-2 convs: 1+2,
    a block of two 3x3 convs at stride 4: 8, two transposed convs: 4+2, final 7x7: 3).
    """
    net = tiny_generator(2)
    x = image_to_tensor(texture(300, 260, seed=3)) * 2 - 1
    recorded = {}

    def record(layer, features):
        var, mean = torch.var_mean(features, dim=(2, 3), keepdim=True, correction=0)
        recorded[id(layer)] = (mean, var)

    token = norm_stats.set(record)
    with torch.inference_mode():
        whole = net(x)
    norm_stats.reset(token)
    with torch.inference_mode():
        tiled = cyclegan._run_tiled(net, x, tile=192, overlap=64, margin=24, progress=None, shared=recorded)
    torch.testing.assert_close(tiled, whole, atol=2e-5, rtol=0)


def _core_mask(starts: list[int], size: int, length: int, margin: int) -> torch.Tensor:
    """Positions where one tile has blend weight 1, i.e. away from every seam."""
    mask = torch.zeros(length, dtype=torch.bool)
    for start, w in zip(starts, cyclegan._blend_weights(starts, size, margin)):
        mask[start : start + size] |= w == 1
    return mask


@pytest.mark.parametrize("seed", [0, 1])
def test_tiled_painting_agrees_with_whole_image(seed):
    """Tiles normalise with their own statistics; away from seams they agree with the whole image.

    The test above shows that everything except the statistics is exact, so the difference
    measured here is what per-tile instance norm costs. On this stationary texture a tile's
    statistics differ from the whole image's only by sampling noise; for this tiny generator
    at 128 px tiles we measured, over the tile cores, a mean of 3.6-4.9 and a 99th percentile
    of 9.4-12.6 levels of 255 (channel-wise maximum), for 3 images x 3 generators. Tolerances
    are about 1.6x the worst measurement. A broken tiler (a misplaced tile, weights not
    summing to 1) is off by tens of levels. In the blended seams the error must be no worse
    than in the cores: no visible seam.
    """
    net = tiny_generator(seed)
    x = image_to_tensor(texture(300, 260, seed=seed + 1))
    whole = cyclegan.translate(net, x, tile_size=None)
    calls = []
    tiled = cyclegan.translate(
        net, x, tile_size=128, overlap=42, margin=12, progress=lambda d, t: calls.append((d, t))
    )
    rows, cols = cyclegan._plan(260, 128, 40), cyclegan._plan(300, 128, 40)
    core = _core_mask(rows, 128, 260, 12)[:, None] & _core_mask(cols, 128, 300, 12)[None, :]
    levels = (whole - tiled).abs()[0].amax(0) * 255
    assert 0.5 < core.float().mean() < 0.8
    assert levels[core].mean() < 8 and levels[core].quantile(0.99) < 20
    assert levels[~core].mean() < 1.5 * levels[core].mean()
    n = len(rows) * len(cols)
    assert n == 9 and calls == [(k, n) for k in range(1, n + 1)], "one network run per tile, each reported"
