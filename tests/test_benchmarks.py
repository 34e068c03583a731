"""The GPU check runs end to end in its quick form on the CPU, so the script is known to work before a GPU
machine is lent for it; and the seam measure of the tiling benchmark sees a seam when there is one."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np

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


def test_the_seam_measure_sees_a_seam_and_none_in_a_smooth_picture():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from bench_tiles import seam_ratio

    rng = np.random.default_rng(0)
    picture = rng.normal(128, 20, (256, 256, 3)).clip(0, 255)
    assert abs(seam_ratio(picture, [128], [128]) - 1.0) < 0.1
    seamed = picture.copy()
    seamed[128:, :] *= 1.1  # one tile brighter: a ridge along row 128
    assert seam_ratio(seamed, [128], [128]) > 1.3


def test_time_to_picture_takes_the_first_finished_picture_best_of_the_repeats(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    import bench_time_to_picture as bench

    def run(engine, repeat, points, preview=None):
        return {
            "size": 256,
            "pair": "a:b",
            "engine": engine,
            "repeat": repeat,
            "points": points,
            "first_preview": preview,
        }

    done_style, done_content = 0.25, 0.6
    runs = [
        # finished only at its second picture (the first is too far from the style)
        run("nst page", 1, [[5, 1.0, done_style + 0.1, 0.1], [10, 2.0, done_style, done_content]], 0.4),
        run("nst page", 2, [[5, 0.9, done_style + 0.1, 0.1], [10, 1.5, 0.1, 0.1]], 0.3),
        run("neural-style", 1, [[50, 6.0, 0.1, done_content + 0.01], [100, 9.0, 0.1, 0.1]]),
        run("pystiche", 1, [[200, 30.0, 0.9, 0.9]]),
    ]
    lines = bench.table(runs, "## header", done_style, done_content)
    rows = {line.split(" | ")[2]: line for line in lines if line.startswith("| 256 |")}
    assert rows["nst page"] == "| 256 | a:b | nst page | 1.5 | 10 | 0.100 | 0.100 | 6.0x |", rows
    assert rows["neural-style"].startswith("| 256 | a:b | neural-style | 9.0 | 100 |"), rows
    assert "not finished" in rows["pystiche"]
    assert "First picture on the page (nst page), 256 px a:b: 0.30 s" in lines
