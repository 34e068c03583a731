"""Odd image files through the command line: each is converted as nst.images documents, or the command exits with
status 2 and one line saying what is wrong (no traceback, no output file). Conversions go through
`python -m nst cyclegan --strength 0`, which returns the loaded input itself (no network)."""

from __future__ import annotations

import os
import re
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from nst.cli import main as cli_main
from support.odd_images import BLUE, CONVERTED, RED, REFUSED, Odd, halves, palette_with_transparency
from support.pictures import rgb

ROOT = Path(__file__).resolve().parents[1]


def run(args: list[str], capsys) -> tuple[int, str, str, list[warnings.WarningMessage]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        code = cli_main(args)
    out, err = capsys.readouterr()
    return code, out, err, [w for w in caught if not issubclass(w.category, DeprecationWarning)]


@pytest.mark.parametrize("odd", CONVERTED, ids=lambda o: o.name)
def test_cli_converts_odd_images_as_documented(odd: Odd, tmp_path, capsys):
    src, out = odd.write(tmp_path), tmp_path / "out.png"
    code, stdout, err, caught = run(["cyclegan", str(src), "--strength", "0", "-o", str(out)], capsys)
    assert code == 0, err
    assert "wrote" in stdout and not err
    assert not caught, [str(w.message) for w in caught]
    arr = rgb(out)
    assert (arr.shape[1], arr.shape[0]) == odd.size
    odd.check(arr)


@pytest.mark.parametrize("command", ["gatys", "texture", "cyclegan"])
@pytest.mark.parametrize("odd", REFUSED, ids=lambda o: o.name)
def test_cli_refuses_odd_images_with_one_line(odd: Odd, command: str, tmp_path, capsys, style_path):
    src, out = odd.write(tmp_path), tmp_path / "out.png"
    args = {
        "gatys": ["gatys", str(src), str(style_path), "-o", str(out), "--size", "32", "--steps", "1"],
        "texture": ["texture", str(src), "-o", str(out), "--width", "32", "--height", "32", "--steps", "1"],
        "cyclegan": ["cyclegan", str(src), "-o", str(out)],
    }[command]
    code, stdout, err, caught = run(args, capsys)
    assert code == 2, (stdout, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    what = "style image" if command == "texture" else "content image"
    assert what in lines[0] and re.search(odd.refused, lines[0]), lines[0]
    assert not stdout and not out.exists()
    assert not caught, [str(w.message) for w in caught]


def test_cli_gatys_runs_on_rotated_and_converted_inputs(tmp_path, capsys, vgg19_file):
    """An EXIF-rotated JPEG photo and a palette style with transparency: the output is upright."""
    exif = Image.Exif()
    exif[0x0112] = 6
    photo, style, out = tmp_path / "phone.jpg", tmp_path / "style.png", tmp_path / "out.png"
    halves(40, 20, RED, BLUE).save(photo, quality=95, exif=exif.tobytes())
    style.write_bytes(palette_with_transparency())
    code, stdout, err, _ = run(
        [
            "gatys",
            str(photo),
            str(style),
            "-o",
            str(out),
            "--size",
            "32",
            "--steps",
            "2",
            "--vgg-weights",
            str(vgg19_file),
            "--device",
            "cpu",
            "--quiet",
            "--style-weight",
            "0.01",
            "--tv-weight",
            "0",
        ],
        capsys,
    )
    assert code == 0, err
    arr = rgb(out).astype(int)
    assert arr.shape[:2] == (32, 16), "portrait, as the phone showed it"
    top, bottom = arr[:12].reshape(-1, 3).mean(0), arr[20:].reshape(-1, 3).mean(0)
    assert top[0] > top[2] and bottom[2] > bottom[0], (top, bottom)


def _peak_rss_mb(args: list[str]) -> tuple[int, str, float]:
    """Run ``python -m nst ARGS`` as a child process; its exit code, stderr and peak resident memory."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: stderr into the pipe, then become the CLI
        os.dup2(write, 2)
        os.close(read)
        os.environ["PYTHONPATH"] = str(ROOT)
        os.execv(sys.executable, [sys.executable, "-m", "nst", *args])
    os.close(write)
    with os.fdopen(read) as f:
        err = f.read()
    _, status, usage = os.wait4(pid, 0)
    return os.waitstatus_to_exitcode(status), err, usage.ru_maxrss / 1024


@pytest.mark.skipif(not hasattr(os, "wait4"), reason="needs os.wait4 for the child's peak memory")
def test_cli_process_refuses_a_decompression_bomb_without_decoding_it(tmp_path):
    bomb = next(o for o in REFUSED if o.name.startswith("bomb")).write(tmp_path)
    dot = next(o for o in REFUSED if o.name == "one-pixel").write(tmp_path)
    code, err, peak = _peak_rss_mb(["cyclegan", str(bomb), "-o", str(tmp_path / "out.png")])
    base_code, _, base_peak = _peak_rss_mb(["cyclegan", str(dot), "-o", str(tmp_path / "out.png")])
    assert code == base_code == 2
    assert err.count("\n") == 1 and err.startswith("error: ") and "400 megapixels" in err, err
    # Decoding would take 400 MB (gray) and 1.2 GB (as RGB); the refusal costs what a 1x1 refusal costs.
    assert peak < base_peak + 100, f"peak {peak:.0f} MB vs {base_peak:.0f} MB for a 1x1 image"
    assert np.isfinite(peak)
