"""``python -m nst gatys`` end to end, in a real subprocess."""

import os
import subprocess
import sys
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]


def run_cli(*args: str, env_extra: dict | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), **(env_extra or {})}
    return subprocess.run([sys.executable, "-m", "nst", *args], capture_output=True, text=True, env=env, timeout=300)


def test_gatys_end_to_end(tmp_path, content_path, style_path, vgg19_file):
    out = tmp_path / "out.png"
    proc = run_cli("gatys", str(content_path), str(style_path), "-o", str(out), "--size", "32", "--steps", "5",
                   "--style-layers", "conv1_1,conv2_1", "--content-layers", "conv2_1", "--vgg-weights", str(vgg19_file),
                   "--device", "cpu", "--seed", "3", "--init", "noise")
    assert proc.returncode == 0, proc.stderr
    assert "5/5" in proc.stderr  # tqdm progress bar reached the last step
    assert f"wrote {out}" in proc.stdout
    im = Image.open(out)
    assert im.size == (32, 26) and im.mode == "RGB"


def test_bad_input_exits_2_with_one_line(tmp_path, content_path, style_path, vgg19_file):
    bad = tmp_path / "notes.png"
    bad.write_text("hello")
    cases = [
        (["gatys", str(content_path), str(style_path), "-o", str(tmp_path / "o.png"), "--size", "0"], "size: must be between 32 and 4096, got 0"),
        (["gatys", str(bad), str(style_path), "-o", str(tmp_path / "o.png")], "content image"),
        (["gatys", str(content_path), str(style_path), "-o", str(tmp_path / "o.png"), "--style-weight", "-3"], "style_weight: must not be negative"),
        (["gatys", str(content_path), str(style_path), "-o", str(tmp_path / "o.gif2")], "suffix"),
        (["gatys", str(content_path), str(style_path), "-o", str(tmp_path / "o.png")], "NST_VGG19_WEIGHTS"),
    ]
    for args, message in cases:
        proc = run_cli(*args, "--vgg-weights" if "NST_VGG19" not in message else "--quiet",
                       *([str(vgg19_file)] if "NST_VGG19" not in message else []))
        assert proc.returncode == 2, (args, proc.stderr)
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], proc.stderr
        assert "Traceback" not in proc.stderr
