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
