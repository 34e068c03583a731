"""Tiled optimization against the whole picture: features, every loss term's value and gradient, targets, and
the engine's choice of tiles (nst.tiles, nst.memory), on a random-weight VGG19 in float32."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import nst
from nst import memory, targets
from nst.engine import WholeObjective
from nst.errors import ResourceError, SettingsError
from nst.faces import Face, face_mask
from nst.geometry import Canvas
from nst.images import image_to_tensor
from nst.layers import reach
from nst.regions import Region
from nst.settings import PAPER_STYLE_LAYERS, Settings
from nst.tiles import ALIGN, TiledObjective, assemble, halo, plan_tiles
from nst.vgg import VGGFeatures
from support.pictures import make_picture

CPU = torch.device("cpu")
SHALLOW = (
    "conv1_1",
    "conv2_1",
    "conv3_1",
)  # reach 14 px: a 16 px halo, so small pictures get many real tiles


@pytest.fixture(scope="module")
def net(vgg19_state) -> VGGFeatures:
    return VGGFeatures("vgg19", vgg19_state, pooling=Settings().pooling)


def picture(width: int, height: int, seed: int) -> torch.Tensor:
    return image_to_tensor(make_picture(width, height, seed=seed))


def noisy(content: torch.Tensor) -> torch.Tensor:
    """A picture part-way through an optimization, the same on every run."""
    noise = torch.randn(content.shape, generator=torch.Generator().manual_seed(7))
    return (content + 0.1 * noise).clamp(0, 1)


def assert_same_gradient(tiled: torch.Tensor, whole: torch.Tensor) -> None:
    """Equal up to float32 rounding: the tiles sum a gradient in another order than the whole
    picture does, which moves a few near-zero entries by a percent of themselves, never the whole."""
    assert float((tiled - whole).norm() / whole.norm()) < 1e-4
    torch.testing.assert_close(tiled, whole, rtol=1e-3, atol=5e-3 * whole.abs().max().item())


def test_the_halo_is_the_reach_of_the_deepest_layer_on_the_16_px_grid():
    assert reach("vgg19", "conv1_1") == 1 and reach("vgg19", "conv1_2") == 2
    assert reach("vgg19", "conv2_1") == 2 + 2  # two convs at stride 1 (the pool keeps its one cell), one at 2
    assert halo("vgg19", ["conv1_1", "conv3_1"]) == 16
    assert halo("vgg19", PAPER_STYLE_LAYERS) == 80 == reach("vgg19", "conv5_1")
    assert reach("vgg16", "conv5_1") == 64 and reach("vgg16", "conv4_2") == 40
    assert halo("vgg16", ["conv4_2"]) == 48


def test_tiles_cover_the_picture_once_on_the_grid():
    tiles = plan_tiles(Canvas(333, 200), 64, 32)
    cover = np.zeros((200, 333), int)
    for tile in tiles:
        top, left, bottom, right = tile.core
        cover[top:bottom, left:right] += 1
        assert top % ALIGN == 0 and left % ALIGN == 0
        assert tile.window[0] % ALIGN == 0 and tile.window[1] % ALIGN == 0
        assert bottom - top <= 64 + ALIGN and right - left <= 64 + ALIGN
    assert (cover == 1).all()
    assert sum(t.share for t in tiles) == pytest.approx(1.0)
    assert len(tiles) == 4 * 6


@pytest.mark.parametrize("layers", [SHALLOW, PAPER_STYLE_LAYERS + ("conv4_2",)])
def test_core_features_equal_the_whole_pictures(net, layers):
    image = picture(261, 203, seed=1)  # sizes off the 16 px grid: the last tiles end mid-cell
    whole = net(image, layers)
    tiles = plan_tiles(Canvas(261, 203), 64, halo("vgg19", layers))
    assert len(tiles) == 4 * 5
    pieced = assemble(net, image, layers, tiles)
    for layer in layers:
        assert pieced[layer].shape == whole[layer].shape
        torch.testing.assert_close(
            pieced[layer], whole[layer], rtol=1e-4, atol=1e-5 * whole[layer].abs().max().item()
        )


def test_a_halo_one_step_short_changes_the_features(net):
    layers = PAPER_STYLE_LAYERS
    image = picture(261, 203, seed=1)
    whole = net(image, layers)["relu5_1"]
    short = assemble(net, image, layers, plan_tiles(Canvas(261, 203), 64, halo("vgg19", layers) - ALIGN))
    assert (short["relu5_1"] - whole).abs().max() > 1e-3 * whole.abs().max()


def _terms(settings: Settings, net: VGGFeatures, content, styles, regions=None, face_mask=None):
    with torch.no_grad():
        return targets.build_terms(
            settings,
            net.truncated(settings.taps()),
            content,
            styles,
            regions=regions,
            canvas=Canvas.of(content),
            face_mask=face_mask,
        )


def _value_and_gradient(objective, x: torch.Tensor) -> tuple[list[float], torch.Tensor]:
    x = x.detach().clone().requires_grad_(True)
    values = objective(x)
    return [float(v) for v in values], x.grad.detach().clone()


def compare(net, settings, content, styles, x, *, core=48, regions=None, face_mask=None):
    terms = _terms(settings, net, content, styles, regions, face_mask)
    taps_net = net.truncated(settings.taps())
    whole = _value_and_gradient(WholeObjective(taps_net, terms), x)
    tiles = plan_tiles(Canvas.of(x), core, halo("vgg19", settings.taps()))
    assert len(tiles) > 4
    tiled = _value_and_gradient(TiledObjective(taps_net, terms, tiles), x)
    return [t.name for t, _ in terms], whole, tiled


EXACT = {
    "gram": dict(style_loss="gram"),
    "bn": dict(style_loss="bn"),
    "mmd-linear": dict(style_loss="mmd-linear"),
    "mmd-poly": dict(style_loss="mmd-poly", mmd_poly_c=0.5),
}


@pytest.mark.parametrize("name", list(EXACT))
def test_tiled_loss_and_gradient_equal_the_whole_pictures(net, name):
    settings = Settings(
        style_layers=SHALLOW, content_layers=("conv3_1",), precision="fp32", tv_weight=1.0, **EXACT[name]
    )
    content, style = picture(160, 128, 1), picture(96, 112, 2)
    x = noisy(content)
    names, (wv, wg), (tv, tg) = compare(net, settings, content, [style], x)
    assert names == ["content", "style", "tv"]
    assert wv[1] > 0.01 and wv[0] > 0
    np.testing.assert_allclose(tv, wv, rtol=2e-4)
    assert_same_gradient(tg, wg)


def test_the_papers_layers_tiled_equal_the_whole_picture(net):
    settings = Settings(precision="fp32")  # relu1_1 ... relu5_1 and relu4_2: a 96 px halo
    content, style = picture(352, 288, 1), picture(200, 160, 2)
    x = noisy(content)
    _, (wv, wg), (tv, tg) = compare(net, settings, content, [style], x, core=96)
    np.testing.assert_allclose(tv, wv, rtol=2e-4)
    assert_same_gradient(tg, wg)


def test_masks_and_blends_tiled_equal_the_whole_picture(net):
    """Spatial control: each style's statistics over its own part of the picture, the parts cut by the tiles."""
    content, styles = picture(160, 128, 1), [picture(96, 96, 2), picture(80, 96, 3)]
    left = np.zeros((128, 160), np.uint8)
    left[:, :70] = 255
    from PIL import Image

    masks = [Image.fromarray(left), Image.fromarray(255 - left)]
    regions = [Region(masks[0], ((0, None, 1.0),)), Region(masks[1], ((1, None, 1.0),))]
    settings = Settings(
        style_layers=SHALLOW, content_layers=("conv3_1",), precision="fp32", style_loss="gram"
    )
    x = noisy(content)
    _, (wv, wg), (tv, tg) = compare(net, settings, content, styles, x, regions=regions)
    np.testing.assert_allclose(tv, wv, rtol=2e-4)
    assert_same_gradient(tg, wg)


@pytest.mark.parametrize("style_loss", ["gram", "bn"])
def test_kept_faces_tiled_equal_the_whole_picture(net, style_loss):
    """keep_faces weighs the content and the style's positions by a mask that the tiles cut like a region's."""
    content, style = picture(160, 128, 1), picture(96, 96, 2)
    mask = face_mask([Face((30.0, 20.0, 90.0, 100.0), 0.99)], Canvas(160, 128), Canvas(160, 128))
    settings = Settings(
        style_layers=SHALLOW, content_layers=("conv3_1",), precision="fp32", style_loss=style_loss
    )
    x = noisy(content)
    _, (wv, wg), (tv, tg) = compare(net, settings, content, [style], x, face_mask=mask)
    _, (plain, _), _ = compare(net, settings, content, [style], x)
    assert abs(wv[0] / plain[0] - 1) > 0.05 and abs(wv[1] / plain[1] - 1) > 0.01, "the face weighs in"
    np.testing.assert_allclose(tv, wv, rtol=2e-4)
    assert_same_gradient(tg, wg)


def _cosine(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a * b).sum() / (a.norm() * b.norm()))


@pytest.mark.parametrize(
    ("kind", "value_within", "cosine"), [("hist", 0.05, 0.99), ("mmd-gauss", 0.35, 0.98)]
)
def test_the_approximate_statistics_stay_close(net, kind, value_within, cosine):
    """Histogram ranks from a binned histogram; Gaussian MMD against a 512-position sample of the whole output
    (whose value varies with the sample as much as the whole picture's does with its style sample, +-20 %)."""
    extra = dict(hist_weight=1.0, style_weight=0.0) if kind == "hist" else dict(style_loss="mmd-gauss")
    settings = Settings(
        style_layers=SHALLOW,
        hist_layers=("relu1_1", "relu3_1"),
        content_layers=("conv3_1",),
        precision="fp32",
        **extra,
    )
    content, style = picture(160, 128, 1), picture(96, 112, 2)
    x = noisy(content)
    names, (wv, wg), (tv, tg) = compare(net, settings, content, [style], x)
    k = names.index("hist" if kind == "hist" else "style")
    assert tv[k] == pytest.approx(wv[k], rel=value_within)
    assert _cosine(tg, wg) > cosine, _cosine(tg, wg)


def test_tiled_passes_give_the_whole_images_targets(net):
    settings = Settings(style_layers=SHALLOW, content_layers=("conv3_1",), precision="fp32")
    content, style = picture(160, 128, 1), picture(176, 144, 2)
    whole = {t.name: t for t, _ in _terms(settings, net, content, [style])}
    with torch.no_grad():
        tiled = {
            t.name: t
            for t, _ in targets.build_terms(
                settings,
                net.truncated(settings.taps()),
                content,
                [style],
                canvas=Canvas.of(content),
                tiles_for=lambda canvas: plan_tiles(canvas, 48, 16),
            )
        }
    for layer in SHALLOW:
        torch.testing.assert_close(
            tiled["style"].targets[layer], whole["style"].targets[layer], rtol=1e-4, atol=1e-6
        )
    torch.testing.assert_close(tiled["content"].targets["conv3_1"], whole["content"].targets["conv3_1"])


def test_a_large_style_keeps_a_sample_of_its_positions(net, monkeypatch):
    monkeypatch.setattr(
        targets, "MAX_HELD_FLOATS", 64 * 500
    )  # conv1_1 of a 64-channel 160x128 style: a quarter
    style = picture(160, 128, 2)
    feats = net(style, ["conv1_1"])["conv1_1"]
    gen = torch.Generator().manual_seed(0)
    for held in (
        targets._hold(feats, gen),
        targets._hold_tiles(
            [
                targets._sample_core(f["conv1_1"], tile, "conv1_1", gen)
                for tile, f in __import__("nst.tiles", fromlist=["x"]).tile_features(
                    net, style, ["conv1_1"], plan_tiles(Canvas(160, 128), 48, 16)
                )
            ],
            (128, 160),
        ),
    ):
        assert held.feats.shape[0] == 64 and 450 <= held.feats.shape[1] <= 550
        assert len(set(held.index.tolist())) == held.feats.shape[1]
        torch.testing.assert_close(held.feats, feats[0].reshape(64, -1)[:, held.index], rtol=1e-4, atol=1e-5)


# ----------------------------------------------------------------------------- the engine


SMALL = dict(
    size=160, steps=6, style_layers=SHALLOW, content_layers=("conv3_1",), precision="fp32", init="content"
)


def test_a_tiled_run_follows_the_whole_run(vgg19_env, tmp_path):
    content, style = tmp_path / "c.png", tmp_path / "s.png"
    make_picture(160, 120, seed=1).save(content)
    make_picture(120, 120, seed=2).save(style)
    whole = nst.stylize(content, style, Settings(**SMALL))
    tiled = nst.stylize(content, style, Settings(**SMALL, tile_size=48))
    assert not any("tiles" in n for n in whole.notes)
    assert tiled.notes == [
        "scale 1 (160x120 px): optimized in 12 tiles of up to 48 px with the whole picture's statistics"
    ]
    for a, b in zip(whole.losses, tiled.losses):
        assert b["total"] == pytest.approx(a["total"], rel=1e-3)
    diff = np.abs(np.asarray(whole.image, float) - np.asarray(tiled.image, float))
    assert diff.mean() < 1.0 and tiled.losses[-1]["total"] < 0.8 * tiled.losses[0]["total"]


def test_a_picture_beyond_the_budget_is_tiled_on_its_own(vgg19_env, tmp_path, monkeypatch):
    content, style = tmp_path / "c.png", tmp_path / "s.png"
    make_picture(160, 120, seed=1).save(content)
    make_picture(120, 120, seed=2).save(style)
    # One step on 160x120 px needs ~33 MB; with 55 MB it no longer fits beside the style features and history.
    monkeypatch.setenv("NST_MEMORY_GB", "0.055")
    result = nst.stylize(
        content, style, Settings(**{**SMALL, "steps": 2}, hist_weight=1.0, hist_layers=("relu1_1",))
    )
    assert any("tiles" in n for n in result.notes), result.notes
    texture = nst.synthesize_texture(style, Settings(**{**SMALL, "steps": 2}), width=256, height=192)
    assert texture.image.size == (256, 192) and any("tiles" in n for n in texture.notes)


def test_plans_whole_when_it_fits_and_tiles_with_a_shorter_history_when_not():
    settings = Settings(backbone="vgg16")
    h = halo("vgg16", PAPER_STYLE_LAYERS)
    assert memory.plan_scale(Canvas(512, 384), settings, CPU, h) == memory.ScalePlan(None, 100)
    big = memory.plan_scale(Canvas(4096, 3072), settings, CPU, h)
    assert big.tile is not None and big.tile >= memory.MIN_TILE and memory.MIN_HISTORY <= big.history < 100
    pixels = 4096 * 3072
    used = (
        pixels * (memory.state_bytes(settings) + big.history * memory.HISTORY_BYTES_PER_PIXEL)
        + (big.tile + 2 * h) ** 2 * memory.BYTES_PER_PIXEL
    )
    assert used <= memory.MEMORY_BUDGET_CPU
    assert memory.plan_scale(Canvas(512, 384), settings.replace(tile_size=128), CPU, h).tile == 128


def test_a_guided_gram_loss_counts_the_style_features_it_keeps(monkeypatch):
    """Masks take each style's statistics over part of the style, so the Gram loss keeps the style's features
    as a distribution loss does: they count in the plan, and a budget that holds the plain run refuses the
    guided one."""
    settings = Settings(backbone="vgg16", size=1024)
    plain, guided = memory.held_bytes(settings, 2), memory.held_bytes(settings, 2, guided=True)
    assert plain == 0 and guided == memory.held_bytes(settings.replace(style_loss="bn"), 2) > 0
    h = halo("vgg16", PAPER_STYLE_LAYERS)
    monkeypatch.setattr(memory, "budget", lambda device: guided * 0.9)
    memory.plan_scale(Canvas(256, 256), settings, CPU, h, 2)
    with pytest.raises(ResourceError, match="the style features alone"):
        memory.plan_scale(Canvas(256, 256), settings, CPU, h, 2, guided=True)


def test_what_cannot_fit_even_in_tiles_is_refused_before_any_image_is_read(tmp_path, monkeypatch):
    missing = tmp_path / "not-read.png"
    memory.check_memory(Canvas(4096, 4096), Settings(size=4096), 1, CPU)  # tiled
    with pytest.raises(
        ResourceError,
        match=r"needs about [\d.]+ GB .*the matting Laplacian alone, leaving no room for a tile in the 5 GB .*size",
    ):
        nst.stylize(missing, missing, size=4096, steps=1, photo_weight=1e4)
    with pytest.raises(SettingsError, match="size: 8192 px is above this device's limit of 4096 px"):
        nst.stylize(missing, missing, size=8192, steps=1)
    monkeypatch.setenv("NST_MEMORY_GB", "lots")
    with pytest.raises(SettingsError, match="NST_MEMORY_GB is 'lots'; expected a number of gigabytes"):
        nst.stylize(missing, missing, size=64, steps=1)


def test_tile_size_is_a_setting_everywhere():
    assert Settings(tile_size="512").tile_size == 512
    with pytest.raises(SettingsError, match="tile_size: must be between 16 and 8192"):
        Settings(tile_size=8)
    info = {f.name: f for f in nst.settings.fields_info()}["tile_size"]
    assert info.kind == "optional-int" and info.default is None
