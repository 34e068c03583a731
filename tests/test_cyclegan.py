"""CycleGAN family: generator architecture and weights, catalogue, Hub cache, painting, tiling, CLI.

Everything runs on the CPU without network: generators are tiny (ngf 4-8, 1-2 blocks) with
seeded weights, and catalogue downloads are served from a fake Hugging Face cache laid out as
``huggingface_hub`` lays it out, read through the product's own ``hf_hub_download`` call
with offline mode on.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from cyclegan_fixtures import TINY, fill_hub_cache, save_weights, texture, tiny_generator, tiny_state
from nst import catalogue, cyclegan
from nst.cli import main as cli_main
from nst.errors import SettingsError, WeightsError
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
from nst.images import image_to_tensor

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
VINTAGE = SHARED / "weights" / "cyclegan-vintage-generator.safetensors"


@pytest.fixture(autouse=True)
def _clean(monkeypatch):
    """No catalogue overrides from the environment; no generator cached between tests."""
    for key in list(os.environ):
        if key.startswith("NST_CYCLEGAN_"):
            monkeypatch.delenv(key)
    cyclegan.clear_cache()
    yield
    cyclegan.clear_cache()


@pytest.fixture
def hub_cache(tmp_path, monkeypatch) -> Path:
    """An empty Hugging Face cache with offline mode on (both read by huggingface_hub at import)."""
    from huggingface_hub import constants

    cache = tmp_path / "hf-cache"
    cache.mkdir()
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    return cache


def reference_output(state: dict[str, torch.Tensor], options: GeneratorOptions, x01: torch.Tensor) -> torch.Tensor:
    """The generator's output computed independently: torch's own InstanceNorm2d, no padding logic.

    ``x01`` must already be a multiple of 4 on each side.
    """
    net = ResnetGenerator(options)
    for module in list(net.modules()):
        for name, child in list(module.named_children()):
            if isinstance(child, InstanceNorm):
                setattr(module, name, torch.nn.InstanceNorm2d(child.num_features, affine=child.affine))
    net.load_state_dict(state, strict=True)
    with torch.no_grad():
        return ((net.eval()(x01 * 2 - 1) + 1) / 2).clamp(0, 1)


def as_array(im: Image.Image) -> np.ndarray:
    return np.asarray(im, dtype=np.int16)


# ----------------------------------------------------------------------------- architecture


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
    [TINY, GeneratorOptions(ngf=8, n_blocks=2, norm_affine=True), GeneratorOptions(ngf=6, n_blocks=3, use_dropout=True)],
)
def test_options_are_inferred_from_the_state_dict(options):
    assert infer_options(tiny_state(0, options)) == options


def test_tiny_generator_output_shape_and_range():
    net = tiny_generator()
    y = net(torch.rand(2, 3, 20, 28) * 2 - 1)
    assert y.shape == (2, 3, 20, 28) and y.abs().max() <= 1


# ----------------------------------------------------------------------------- weights files


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
    with pytest.raises(WeightsError, match=r"do not fit the CycleGAN ResNet generator \(ResNet generator, 9 blocks, "
                                           r"ngf 64.*missing \d+ keys: model\.1\.bias.*unexpected 2 keys: features"):
        load_generator_file(save_weights(state, tmp_path / "vgg.pth"))


def test_wrong_shape_is_refused(tmp_path):
    state = tiny_state()
    state["model.10.conv_block.1.weight"] = torch.zeros(16, 16, 1, 1)
    with pytest.raises(WeightsError, match=r"wrong shape: model\.10\.conv_block\.1\.weight \(16, 16, 1, 1\) "
                                           r"\(expected \(16, 16, 3, 3\)\)"):
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


# ----------------------------------------------------------------------------- catalogue


def test_catalogue_entries_are_complete_and_pinned():
    names = [e.name for e in catalogue.entries()]
    assert names[:4] == ["monet", "vangogh", "cezanne", "ukiyoe"]
    for e in catalogue.entries():
        assert e.display_name and e.description and e.licence and e.source
        if e.available:
            assert re.fullmatch(r"[0-9a-f]{40}", e.revision), "Hub sources are pinned to a commit"
            assert e.repo_type in ("model", "space", "dataset") and e.filename.endswith((".pth", ".safetensors"))
            assert e.hub_url.startswith("https://huggingface.co/spaces/" if e.repo_type == "space" else "https://")
            assert f"hf download {e.repo_id} {e.filename}" in e.download_command()
    assert {e.name for e in catalogue.entries(available_only=True)} >= {"monet", "vangogh"}


def test_unknown_style_is_refused_with_the_choices():
    with pytest.raises(SettingsError, match="not in the CycleGAN catalogue; choose one of monet, vangogh"):
        catalogue.get_entry("../../etc/passwd")
    assert catalogue.get_entry("Van Gogh").name == "vangogh"


def test_environment_can_point_an_entry_elsewhere(monkeypatch):
    monkeypatch.setenv("NST_CYCLEGAN_CEZANNE_REPO", "me/cyclegan-mirror")
    monkeypatch.setenv("NST_CYCLEGAN_CEZANNE_FILE", "style_cezanne.safetensors")
    entry = catalogue.get_entry("cezanne")
    assert (entry.repo_id, entry.filename, entry.revision, entry.repo_type) == (
        "me/cyclegan-mirror", "style_cezanne.safetensors", None, "model")
    assert "environment" in entry.source
    monkeypatch.setenv("NST_CYCLEGAN_CEZANNE_REPO_TYPE", "bucket")
    with pytest.raises(SettingsError, match="REPO_TYPE"):
        catalogue.get_entry("cezanne")


# ----------------------------------------------------------------------------- Hub cache


def test_catalogue_style_loads_from_the_hub_cache_offline(hub_cache):
    entry = catalogue.get_entry("monet")
    state = tiny_state(5)
    snapshot = fill_hub_cache(hub_cache, entry, state)
    assert cyclegan.weights_file("monet") == snapshot
    assert len(cyclegan._CACHE) == 0, "nothing is loaded before first use"

    im = texture(48, 40, seed=2)
    out = cyclegan.paint(im, style="monet", device="cpu", precision="float32")
    expected = reference_output(state, TINY, image_to_tensor(im))
    diff = np.abs(as_array(out) - np.round(expected[0].permute(1, 2, 0).numpy() * 255))
    assert out.size == im.size and diff.max() <= 1

    net = cyclegan.load_generator("monet", device="cpu", precision="float32")
    assert cyclegan.load_generator("MONET", device="cpu", precision="float32") is net, "cached in memory per style"
    assert len(cyclegan._CACHE) == 1
    assert cyclegan.load_generator("monet", device="cpu", precision="bfloat16") is not net, "and per precision"


def test_missing_weights_offline_says_how_to_fix(hub_cache):
    with pytest.raises(WeightsError) as err:
        cyclegan.paint(texture(32, 32), style="vangogh")
    msg = str(err.value)
    entry = catalogue.get_entry("vangogh")
    for part in (entry.repo_id, entry.filename, entry.revision, "offline", str(hub_cache), "HF_HUB_CACHE",
                 f"hf download {entry.repo_id} {entry.filename} --repo-type space --revision {entry.revision}",
                 "--weights FILE"):
        assert part in msg


def test_style_without_a_source_names_the_fix(hub_cache, monkeypatch):
    with pytest.raises(WeightsError, match="no confirmed Hugging Face Hub source.*NST_CYCLEGAN_UKIYOE_REPO"):
        cyclegan.load_generator("ukiyoe")
    monkeypatch.setenv("NST_CYCLEGAN_UKIYOE_REPO", "me/ukiyoe")
    monkeypatch.setenv("NST_CYCLEGAN_UKIYOE_FILE", "g.safetensors")
    monkeypatch.setenv("NST_CYCLEGAN_UKIYOE_REVISION", "a" * 40)
    fill_hub_cache(hub_cache, catalogue.get_entry("ukiyoe"), tiny_state(1))
    assert cyclegan.load_generator("ukiyoe").options == TINY


def test_hub_file_with_wrong_keys_is_refused(hub_cache):
    state = tiny_state()
    del state["model.1.bias"]
    fill_hub_cache(hub_cache, catalogue.get_entry("monet"), state)
    with pytest.raises(WeightsError, match=r"latest_net_G\.pth' do not fit.*missing 1 keys: model\.1\.bias"):
        cyclegan.load_generator("monet")


def test_generator_cache_loads_each_key_once_and_evicts_the_oldest():
    import threading
    import time

    cache = cyclegan._GeneratorCache(limit=2)
    loads = []

    def slow_load(name):
        def load():
            loads.append(name)
            time.sleep(0.05)
            return name
        return load

    threads = [threading.Thread(target=cache.get, args=(("a",), slow_load("a"))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert loads == ["a"], "concurrent requests for one style load it once"
    cache.get(("b",), slow_load("b"))
    cache.get(("a",), slow_load("a"))  # a is now the most recent
    cache.get(("c",), slow_load("c"))  # evicts b
    cache.get(("b",), slow_load("b"))
    assert loads == ["a", "b", "c", "b"]


def test_missing_local_weights_file_is_a_weights_error(tmp_path):
    with pytest.raises(WeightsError, match=r"weights file '.*nowhere\.pth' does not exist"):
        cyclegan.paint(texture(32, 32), weights=tmp_path / "nowhere.pth")


# ----------------------------------------------------------------------------- painting


@pytest.fixture
def tiny_file(tmp_path) -> Path:
    return save_weights(tiny_state(7, GeneratorOptions(ngf=8, n_blocks=2, norm_affine=True)), tmp_path / "t.safetensors")


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
    assert cyclegan.work_size(80, 64, 2) == (40, 32)
    assert cyclegan.work_size(400, 20, 4) == (320, 16), "the short side never goes below 16 px"


@pytest.mark.parametrize("kwargs,match", [
    (dict(strength=1.5), "strength"), (dict(strength=float("nan")), "strength"),
    (dict(brush_scale=0.5), "brush scale"), (dict(brush_scale=9), "brush scale"),
    (dict(tile_size=10), "tile size"), (dict(precision="float16"), "only supported on GPUs"),
    (dict(precision="int8"), "precision"), (dict(device="cuda:7"), "device"),
])
def test_bad_settings_are_refused(tiny_file, kwargs, match):
    with pytest.raises(SettingsError, match=match):
        cyclegan.paint(texture(32, 32), weights=tiny_file, **kwargs)


def test_precision_auto_never_assumes_a_gpu(monkeypatch):
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert cyclegan.resolve_dtype(cuda) == torch.float16 and cyclegan.resolve_dtype(cuda, "float32") == torch.float32
    monkeypatch.setattr(cyclegan, "cpu_has_fast_bfloat16", lambda: False)
    assert cyclegan.resolve_dtype(cpu) == torch.float32
    monkeypatch.setattr(cyclegan, "cpu_has_fast_bfloat16", lambda: True)
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
    batch = cyclegan.paint_batch(ims, weights=tiny_file, batch_size=2, precision="float32",
                                 progress=lambda d, t: calls.append((d, t)))
    for im, out in zip(ims, batch):
        assert np.abs(as_array(out) - as_array(cyclegan.paint(im, weights=tiny_file, precision="float32"))).max() <= 1
    assert calls == [(1, 3), (2, 3), (3, 3)]  # two batches of 40x32 images, one of 24x36


# ----------------------------------------------------------------------------- tiling


@settings(max_examples=60, deadline=None)
@given(length=st.integers(16, 900).map(lambda n: n * 4), tile=st.integers(16, 160).map(lambda n: n * 4),
       overlap=st.integers(0, 64), margin=st.integers(0, 24))
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
    tiled = cyclegan.translate(net, x, tile_size=128, overlap=42, margin=12, progress=lambda d, t: calls.append((d, t)))
    rows, cols = cyclegan._plan(260, 128, 40), cyclegan._plan(300, 128, 40)
    core = _core_mask(rows, 128, 260, 12)[:, None] & _core_mask(cols, 128, 300, 12)[None, :]
    levels = (whole - tiled).abs()[0].amax(0) * 255
    assert 0.5 < core.float().mean() < 0.8
    assert levels[core].mean() < 8 and levels[core].quantile(0.99) < 20
    assert levels[~core].mean() < 1.5 * levels[core].mean()
    n = len(rows) * len(cols)
    assert n == 9 and calls == [(k, n) for k in range(1, n + 1)], "one network run per tile, each reported"


# ----------------------------------------------------------------------------- command line


def test_cli_list_shows_catalogue_and_cache_state(hub_cache, capsys):
    fill_hub_cache(hub_cache, catalogue.get_entry("monet"), tiny_state())
    assert cli_main(["cyclegan", "--list"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^monet\s+Claude Monet \[cached\]", out, re.M)
    assert re.search(r"^vangogh\s+Vincent van Gogh \[download on first use\]", out, re.M)
    assert re.search(r"^cezanne\s+Paul Cézanne \[no source\]", out, re.M)
    assert "davidpiscasio/unpaired-img2img" in out and "licence: BSD-2-Clause" in out


def test_cli_with_local_weights_and_errors(tiny_file, tmp_path, capsys):
    src = tmp_path / "photo.png"
    texture(45, 31).save(src)
    out = tmp_path / "out.png"
    assert cli_main(["cyclegan", str(src), "--weights", str(tiny_file), "-o", str(out), "--strength", "0.7",
                     "--brush-scale", "1.5"]) == 0
    assert Image.open(out).size == (45, 31)
    assert "wrote" in capsys.readouterr().out
    assert cli_main(["cyclegan", str(src), "--weights", str(tiny_file), "-o", str(out), "--strength", "2"]) == 2
    assert "error: strength" in capsys.readouterr().err
    assert cli_main(["cyclegan", str(src), "-o", str(tmp_path / "x.gif"), "--weights", str(tiny_file)]) == 2
    assert cli_main(["cyclegan", "--style", "monet"]) == 2
    assert "give a CONTENT image" in capsys.readouterr().err


def test_cli_end_to_end_from_the_hub_cache(hub_cache, tmp_path):
    """A real ``python -m nst cyclegan`` process, with HF_HUB_OFFLINE=1 and a pre-filled cache."""
    fill_hub_cache(hub_cache, catalogue.get_entry("monet"), tiny_state(3))
    src, out = tmp_path / "photo.jpg", tmp_path / "painted.png"
    texture(70, 53).save(src, quality=95)
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_HUB_CACHE=str(hub_cache), PYTHONPATH=str(ROOT))
    ok = subprocess.run([sys.executable, "-m", "nst", "cyclegan", str(src), "--style", "monet", "-o", str(out),
                         "--device", "cpu"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stderr
    assert Image.open(out).size == (70, 53) and "with style monet" in ok.stdout
    missing = subprocess.run([sys.executable, "-m", "nst", "cyclegan", str(src), "--style", "vangogh", "-o", str(out)],
                             env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert missing.returncode == 2
    lines = missing.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: CycleGAN weights for style 'vangogh' are missing")
