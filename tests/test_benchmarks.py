"""The GPU check and the whole-app GPU benchmark run end to end in their quick forms on the CPU, so the
scripts are known to work before a GPU machine is lent for them; the seam measure of the tiling
benchmark sees a seam when there is one; and the peer benchmarks compare the way their docstrings say."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from support.browser import chromium_path
from support.painters import save_weights, tiny_state

ROOT = Path(__file__).resolve().parents[1]


def test_the_gpu_check_runs_every_part_in_its_quick_form(tmp_path, vgg19_file):
    painter = save_weights(tiny_state(0), tmp_path / "painter.safetensors")
    out = tmp_path / "gpu.md"
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "gpu_check.py"),
            "--quick",
            "--backbone",
            "vgg19",
            "--vgg-weights",
            str(vgg19_file),
            "--painter-weights",
            str(painter),
            "--content",
            str(tmp_path / "none.jpg"),  # generated pictures stand in
            "--style",
            str(tmp_path / "none.jpg"),
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env={"PATH": "/usr/bin:/bin", "NST_OFFLINE": "1", "HF_HUB_OFFLINE": "1"},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    rows = [line for line in out.read_text().splitlines() if line.startswith("| ") and "---" not in line][1:]
    parts = [row.split(" | ")[0].strip("| ") for row in rows]
    assert parts == [
        "network loaded and warmed up",
        "20 L-BFGS steps at 64 px",
        "finished 128 px picture (GPU defaults: 300 steps, 2 scales)",
        "CycleGAN at 64 px",
        "autocast against fp32 (64 px, same seed)",
        "largest whole size",
        "256 px tiled",
    ]
    assert not [row for row in rows if "failed" in row or "skipped" in row], rows
    tiled = rows[-1]
    assert "optimized in 4 tiles of up to 128 px" in tiled and "256x" in tiled, tiled


def _browser_missing() -> str | None:
    """Why headless Chromium cannot drive the page here, or None when it can."""
    if chromium_path() is None:
        return "no Chromium executable (apt-get install chromium, or set NST_CHROMIUM)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright Python package is not installed"
    return None


def _seconds(pattern: str, row: str) -> float:
    found = re.search(pattern, row)
    assert found, f"{pattern!r} not in {row}"
    return float(found.group(1))


def test_the_gpu_app_benchmark_runs_every_part_in_its_quick_form(tmp_path):
    out = tmp_path / "gpu-app.md"
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "gpu_app.py"),
            "--quick",
            "--content",
            str(tmp_path / "none.jpg"),  # generated pictures stand in
            "--style",
            str(tmp_path / "none.jpg"),
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env={
            "PATH": "/usr/bin:/bin",
            "NST_OFFLINE": "1",
            "HF_HUB_OFFLINE": "1",
            **{k: os.environ[k] for k in ("HOME", "OMP_NUM_THREADS", "NST_CHROMIUM") if k in os.environ},
        },
    )
    assert done.returncode == 0, done.stderr[-2000:]
    rows = [line for line in out.read_text().splitlines() if line.startswith("| ") and "---" not in line][1:]
    parts = [row.split(" | ")[0].strip("| ") for row in rows]
    assert parts == [
        "server started (cpu, tiny random models (VGG19, CycleGAN ngf 4)) and warmed up",
        "page in Chromium: upload, Run at the defaults (128 px, 20 steps over 2 scales)",
        "gradio_client /gatys at the defaults (128 px, 20 steps over 2 scales)",
        "4 clients at once (/gatys, the defaults)",
        "CycleGAN at 64 px (/cyclegan)",
        "CycleGAN at 128 px (/cyclegan)",
        "precision fp32 (/gatys at the defaults)",
        "precision bf16 (/gatys at the defaults)",
    ], rows
    started, page, client, many, small, large, fp32, bf16 = rows
    missing = _browser_missing()
    if missing:  # only the page part goes unchecked; the others must still have run
        warnings.warn(f"the page part is not checked here: {missing}", stacklevel=1)
        assert "failed" in page, page
        rows = [row for row in rows if row is not page]
    assert not [row for row in rows if "failed" in row or "skipped" in row], rows

    assert _seconds(r"answering ([\d.]+) s after its start", started) > 0
    if not missing:
        first, finished = (
            _seconds(rf"{what} ([\d.]+) s", page) for what in ("first picture", "finished picture")
        )
        assert 0 < first <= finished, page
        assert 'status "Done: 128×96 px, 20 steps' in page, (
            page
        )  # the generated 640x480 photo, at the defaults
        assert "dials 128 px, 20 steps, 2 scales" in page, page
    first, finished = (_seconds(rf"{what} ([\d.]+) s", client) for what in ("first preview", "picture"))
    assert 0 < first < finished, client
    assert "128x96 px, 20 steps" in client, client

    assert "4 of 4 got their own picture back (4 answered, 0 errors, 0 lost, 0 mixed up)" in many, many
    low, median, high = map(
        float, re.search(r"min / median / max ([\d.]+) / ([\d.]+) / ([\d.]+)", many).groups()
    )
    assert 0 < low <= median <= high, many
    assert many.endswith("| 4 of 4 own pictures | yes |"), many
    assert "server's resident memory" in many, many

    for row, side in ((small, "64x48"), (large, "128x96")):
        assert _seconds(r"([\d.]+) s per call", row) > 0 and f"{side} px" in row, row
    for row in (fp32, bf16):
        assert _seconds(r"\| ([\d.]+) s \(server", row) > 0 and "losses finite" in row, row
        assert row.endswith("| finite losses, a picture | yes |"), row
    assert _seconds(r"from the fp32 picture ([\d.]+)/255", bf16) < 30, bf16  # the same picture, near enough


def test_the_seam_measure_sees_a_seam_and_none_in_a_smooth_picture():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from bench_tiles import seam_ratio

    rng = np.random.default_rng(0)
    picture = rng.normal(128, 20, (256, 256, 3)).clip(0, 255)
    assert abs(seam_ratio(picture, [128], [128]) - 1.0) < 0.1
    seamed = picture.copy()
    seamed[128:, :] *= 1.1  # one tile brighter: a ridge along row 128
    assert seam_ratio(seamed, [128], [128]) > 1.3


def test_time_to_picture_times_the_peer_to_a_picture_as_good_as_the_pages_by_both_judges(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    import argparse

    import bench_time_to_picture as bench

    page = {"project": (0.10, 0.40), "outside": (0.10, 0.35)}

    def mine(repeat, seconds):
        return {
            "size": 256,
            "pair": "a:b",
            "engine": "nst page",
            "repeat": repeat,
            "s": seconds,
            "cpu_s": 2 * seconds,
            "first_preview": 0.3,
            **page,
        }

    def snap(steps, seconds, project, outside):
        return {"steps": steps, "s": seconds, "cpu_s": 2 * seconds, "project": project, "outside": outside}

    def peer(repeat, points):
        return {
            "size": 256,
            "pair": "a:b",
            "engine": "neural-style image",
            "repeat": repeat,
            "s": 30.0,
            "cpu_s": 60.0,
            "points": points,
        }

    close_far = snap(10, 3.0, (0.09, 0.50), (0.09, 0.30))  # as close to the painting, too far from the photo
    too_styled = snap(
        20, 6.0, (0.09, 0.39), (0.11, 0.30)
    )  # the outside judge: not close enough to the painting
    good = snap(30, 9.0, (0.10, 0.40), (0.10, 0.35))  # equal on all four numbers: as good
    runs = [
        mine(1, 2.0),
        mine(2, 3.0),
        mine(3, 4.0),  # median 3 s wall, 6 s CPU
        peer(1, [close_far, too_styled, good]),
        peer(2, [close_far, {**good, "s": 12.0, "cpu_s": 24.0}]),
        peer(3, [close_far, {**good, "s": 15.0, "cpu_s": 30.0}]),
    ]
    args = argparse.Namespace(repeats=3, max_steps=100, every=5)
    row = next(line for line in bench.table(runs, args) if line.startswith("| 256 | a:b | nst page |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[3:5] == ["3.00 / 6.00", "0.30"]
    assert cells[5:7] == ["0.100 / 0.400", "0.100 / 0.350"]
    assert cells[7:9] == ["30, 12.0 / 24.0", "**4.0x** wall, 4.0x CPU"]  # medians of 9, 12 and 15 s
    assert cells[9:11] == ["10, 3.0", "1.0x"]  # content ignored: the first snapshot already counts
    # A peer that never gets there is bounded by its whole run.
    never = [mine(1, 2.0), peer(1, [close_far, too_styled])]
    row = next(line for line in bench.table(never, args) if line.startswith("| 256 | a:b | nst page |"))
    assert "not in 100 steps (30.0 s) | > 15.0x" in row


def test_curves_are_compared_at_equal_content_and_at_equal_style(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    import bench_peers

    ours = [(0.2, 0.3), (0.4, 0.1)]  # (content, style), linear between
    peer = [(0.3, 0.25), (0.5, 0.1)]  # the second lies beyond our content span
    assert bench_peers.style_at(ours, 0.3) == pytest.approx(0.2)
    assert bench_peers.style_at(ours, 0.5) is None
    found = bench_peers.compare(ours, peer)
    n, below, ratio = found["equal content"]
    assert (n, below) == (1, 1) and ratio == pytest.approx(0.2 / 0.25)
    n, below, ratio = found["equal style"]  # our content at style 0.25 is 0.25, at style 0.1 it is 0.4
    assert (n, below) == (2, 2) and ratio == pytest.approx((0.25 / 0.3 + 0.4 / 0.5) / 2)
    worse = bench_peers.compare(ours, [(0.3, 0.15)])  # the peer below our curve
    assert worse["equal content"][:2] == (1, 0) and worse["equal style"][:2] == (1, 0)
