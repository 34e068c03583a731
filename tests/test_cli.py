"""The command line end to end: gatys, texture and cyclegan, in-process and as real subprocesses."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from PIL import Image

from nst import catalogue
from nst.cli import main
from nst.cli import main as cli_main
from nst.cli._styles import collect_styles, parse_style_spec
from support.painters import fill_hub_cache, tiny_state
from support.pictures import make_picture, texture

ROOT = Path(__file__).resolve().parents[1]


def run_cli(*args: str, env_extra: dict | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), **(env_extra or {})}
    return subprocess.run(
        [sys.executable, "-m", "nst", *args], capture_output=True, text=True, env=env, timeout=300
    )


def test_gatys_end_to_end(tmp_path, content_path, style_path, vgg19_file):
    out = tmp_path / "out.png"
    proc = run_cli(
        "gatys",
        str(content_path),
        str(style_path),
        "-o",
        str(out),
        "--size",
        "32",
        "--steps",
        "5",
        "--style-layers",
        "conv1_1,conv2_1",
        "--content-layers",
        "conv2_1",
        "--vgg-weights",
        str(vgg19_file),
        "--device",
        "cpu",
        "--seed",
        "3",
        "--init",
        "noise",
    )
    assert proc.returncode == 0, proc.stderr
    assert "5/5" in proc.stderr  # tqdm progress bar reached the last step
    assert f"wrote {out}" in proc.stdout
    im = Image.open(out)
    assert im.size == (32, 26) and im.mode == "RGB"


def test_bad_input_exits_2_with_one_line(tmp_path, content_path, style_path, vgg19_file):
    bad = tmp_path / "notes.png"
    bad.write_text("hello")
    cases = [
        (
            ["gatys", str(content_path), str(style_path), "-o", str(tmp_path / "o.png"), "--size", "0"],
            "size: must be between 32 and 8192, got 0",
        ),
        (["gatys", str(bad), str(style_path), "-o", str(tmp_path / "o.png")], "content image"),
        (
            [
                "gatys",
                str(content_path),
                str(style_path),
                "-o",
                str(tmp_path / "o.png"),
                "--style-weight",
                "-3",
            ],
            "style_weight: must not be negative",
        ),
        (["gatys", str(content_path), str(style_path), "-o", str(tmp_path / "o.gif2")], "suffix"),
        (["gatys", str(content_path), str(style_path), "-o", str(tmp_path / "o.png")], "NST_VGG19_WEIGHTS"),
    ]
    for args, message in cases:
        proc = run_cli(
            *args,
            "--vgg-weights" if "NST_VGG19" not in message else "--quiet",
            *([str(vgg19_file)] if "NST_VGG19" not in message else []),
        )
        assert proc.returncode == 2, (args, proc.stderr)
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], proc.stderr
        assert "Traceback" not in proc.stderr


FAST_FLAGS = [
    "--steps",
    "3",
    "--style-layers",
    "conv1_1,conv2_1",
    "--content-layers",
    "conv2_1",
    "--hist-layers",
    "relu1_1",
    "--device",
    "cpu",
]


def test_texture_command_makes_a_non_square_texture(tmp_path, style_path, vgg19_file):
    out = tmp_path / "texture.png"
    proc = run_cli(
        "texture",
        str(style_path),
        "-o",
        str(out),
        "--width",
        "48",
        "--height",
        "24",
        "--style-loss",
        "mmd-gauss",
        "--hist-weight",
        "1",
        "--vgg-weights",
        str(vgg19_file),
        "--steps",
        "3",
        "--style-layers",
        "conv1_1,conv2_1",
        "--hist-layers",
        "relu1_1",
        "--device",
        "cpu",
    )
    assert proc.returncode == 0, proc.stderr
    assert f"wrote {out} (48x24)" in proc.stdout and "hist" in proc.stdout
    assert Image.open(out).size == (48, 24)


def cli(capsys, *args: str) -> tuple[int, str, str]:
    """The CLI in this process (faster than a subprocess; test_cli checks the subprocess behaviour)."""
    try:
        code = main(list(args))
    except SystemExit as exc:  # argparse's own errors
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def test_gatys_with_two_weighted_styles_masks_and_every_term(
    tmp_path, capsys, content_path, style_path, vgg19_file
):
    other = tmp_path / "other.png"
    make_picture(30, 30, seed=5).save(other)
    left = tmp_path / "left.png"
    mask = Image.new("L", (40, 32), 0)
    mask.paste(255, (0, 0, 20, 32))
    mask.save(left)
    right = tmp_path / "right.png"
    Image.eval(mask, lambda v: 255 - v).save(right)
    out = tmp_path / "out.png"
    common = f"gatys {content_path} -o {out} --size 32 --vgg-weights {vgg19_file}".split()
    code, stdout, err = cli(
        capsys,
        *common,
        *f"--style {style_path}:0.7 --style {other}:0.3 --style-loss bn --hist-weight 1".split(),
        *"--photo-weight 100 --preserve-color luminance --quiet".split(),
        *FAST_FLAGS,
    )
    assert code == 0, err
    code, stdout, err = cli(
        capsys,
        *common,
        *f"--style {style_path} --style {other} --mask {left} --mask {right}".split(),
        *"--style-loss mmd-linear --hist-weight 1".split(),
        *FAST_FLAGS,
    )
    assert code == 0, err
    assert all(term in stdout for term in ("content", "style", "hist", "tv"))
    assert Image.open(out).size == (32, 26)


def test_bad_flags_exit_2_with_one_line(tmp_path, capsys, content_path, style_path, vgg19_file):
    o = str(tmp_path / "o.png")
    cases = [
        (
            ["gatys", str(content_path), str(style_path), "-o", o, "--style-loss", "wasserstein"],
            "style_loss: 'wasserstein'",
        ),
        (
            ["gatys", str(content_path), "-o", o, "--style", f"{style_path}:0.5", "--style", str(style_path)],
            "give a weight to every style",
        ),
        (
            [
                "gatys",
                str(content_path),
                "-o",
                o,
                "--style",
                f"{style_path}:0.5",
                "--style",
                f"{style_path}:1",
                "--style-blend",
                "1,2",
            ],
            "give weights either as --style PATH:WEIGHT or with --style-blend",
        ),
        (
            [
                "gatys",
                str(content_path),
                str(style_path),
                "-o",
                o,
                "--mask",
                str(style_path),
                "--mask",
                str(style_path),
            ],
            "2 mask(s) given for 1 style image(s)",
        ),
        (["gatys", str(content_path), "-o", o], "give a style image"),
        (
            ["texture", str(style_path), "-o", o, "--width", "big"],
            "width: expected a whole number, got 'big'",
        ),
        (["texture", str(style_path), "-o", o, "--height", "8"], "height: must be between 16 and 8192"),
    ]
    for args, message in cases:
        code, _, err = cli(capsys, *args, "--vgg-weights", str(vgg19_file), "--steps", "1")
        assert code == 2, (args, err)
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], err
    for flag in (
        "--content-weight",
        "--size",
    ):  # no content flags for textures; its size is its width and height
        code, _, err = cli(capsys, "texture", str(style_path), "-o", o, flag, "1")
        assert code == 2 and f"unrecognized arguments: {flag}" in err


def test_style_specs(tmp_path):
    assert parse_style_spec("a.jpg:0.7") == ("a.jpg", 0.7)
    assert parse_style_spec("C:\\art\\b.jpg") == ("C:\\art\\b.jpg", None)
    odd = tmp_path / "x.png:2"
    odd.write_bytes(b"")
    assert parse_style_spec(str(odd)) == (str(odd), None)  # an existing file is taken whole
    assert collect_styles(["a.jpg:2", "b.jpg:1"]) == (["a.jpg", "b.jpg"], (2.0, 1.0))
    assert collect_styles(["a.jpg"]) == (["a.jpg"], None)


def test_cli_list_shows_catalogue_and_cache_state(hub_cache, capsys):
    fill_hub_cache(hub_cache, catalogue.get_entry("monet"), tiny_state())
    assert cli_main(["cyclegan", "--list"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^monet\s+Claude Monet \[cached\]", out, re.M)
    assert re.search(r"^vangogh\s+Vincent van Gogh \[missing\]", out, re.M), "offline, and not in the cache"
    assert re.search(r"^cezanne\s+Paul Cézanne \[no source\]", out, re.M)
    assert "davidpiscasio/unpaired-img2img" in out and "licence: BSD-2-Clause" in out


def test_cli_with_local_weights_and_errors(tiny_file, tmp_path, capsys):
    src = tmp_path / "photo.png"
    texture(45, 31).save(src)
    out = tmp_path / "out.png"
    assert (
        cli_main(
            [
                "cyclegan",
                str(src),
                "--weights",
                str(tiny_file),
                "-o",
                str(out),
                "--strength",
                "0.7",
                "--brush-scale",
                "1.5",
            ]
        )
        == 0
    )
    assert Image.open(out).size == (45, 31)
    assert "wrote" in capsys.readouterr().out
    assert (
        cli_main(["cyclegan", str(src), "--weights", str(tiny_file), "-o", str(out), "--strength", "2"]) == 2
    )
    assert "error: strength" in capsys.readouterr().err
    assert cli_main(["cyclegan", str(src), "-o", str(tmp_path / "x.gif"), "--weights", str(tiny_file)]) == 2
    assert cli_main(["cyclegan", "--painter", "monet"]) == 2
    assert "give a CONTENT image" in capsys.readouterr().err


def test_cli_end_to_end_from_the_hub_cache(hub_cache, tmp_path):
    """A real ``python -m nst cyclegan`` process, with HF_HUB_OFFLINE=1 and a pre-filled cache."""
    fill_hub_cache(hub_cache, catalogue.get_entry("monet"), tiny_state(3))
    src, out = tmp_path / "photo.jpg", tmp_path / "painted.png"
    texture(70, 53).save(src, quality=95)
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_HUB_CACHE=str(hub_cache), PYTHONPATH=str(ROOT))
    ok = subprocess.run(
        [
            sys.executable,
            "-m",
            "nst",
            "cyclegan",
            str(src),
            "--painter",
            "monet",
            "-o",
            str(out),
            "--device",
            "cpu",
        ],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ok.returncode == 0, ok.stderr
    assert Image.open(out).size == (70, 53) and "with painter monet" in ok.stdout
    missing = subprocess.run(
        [sys.executable, "-m", "nst", "cyclegan", str(src), "--painter", "vangogh", "-o", str(out)],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert missing.returncode == 2
    lines = missing.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(
        "error: CycleGAN weights for painter 'vangogh' are missing"
    )


def test_texture_style_weights_reach_the_blend(tmp_path, capsys, vgg19_file):
    """STYLE:WEIGHT for each of two styles: the heavier style's colour wins (the command once kept
    only its first style)."""
    red, blue = tmp_path / "red.png", tmp_path / "blue.png"
    Image.new("RGB", (32, 32), (220, 30, 30)).save(red)
    Image.new("RGB", (32, 32), (30, 30, 220)).save(blue)
    redness = {}
    for weights in ((9, 1), (1, 9)):
        out = tmp_path / f"texture-{weights[0]}.png"
        code, _, err = cli(
            capsys,
            "texture",
            f"{red}:{weights[0]}",
            f"{blue}:{weights[1]}",
            "-o",
            str(out),
            "--width",
            "32",
            "--height",
            "32",
            "--steps",
            "25",
            "--style-layers",
            "conv1_1,conv2_1",
            "--precision",
            "fp32",
            "--vgg-weights",
            str(vgg19_file),
        )
        assert code == 0, err
        pixels = Image.open(out).convert("RGB")
        r, _, b = (sum(c) / len(c) for c in zip(*pixels.getdata()))
        redness[weights] = r - b
    assert redness[(9, 1)] > redness[(1, 9)] + 30, redness


HEAVY = ("torch", "torchvision", "gradio", "numpy", "PIL", "huggingface_hub", "spaces")


def test_help_imports_nothing_heavy():
    """``python -m nst --help`` and each command's help build the parsers only: no torch, no gradio."""
    probe = (
        "import sys\n"
        "from nst.cli import main\n"
        "for argv in ([], ['gatys'], ['texture'], ['cyclegan']):\n"
        "    try:\n"
        "        main([*argv, '--help'])\n"
        "    except SystemExit:\n"
        "        pass\n"
        f"print('LOADED', sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r}))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "LOADED []", proc.stdout[-500:]
    assert "--style-strength" in proc.stdout and "--brush-scale" in proc.stdout and "--width" in proc.stdout


def test_ctrl_c_stops_after_the_step_and_saves_the_best_picture_at_full_size(
    tmp_path, content_path, style_path, vgg19_file, monkeypatch, capsys
):
    """The first Ctrl+C (SIGINT, here sent at step 2 of the coarse scale): the run ends after that step, the
    best picture so far is written at the size asked for, and the exit status says it was interrupted."""
    import signal

    from nst.cli import _common

    def interrupt_at_step_2(self, info):
        if info.step == 2:
            os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(_common.ProgressBar, "__call__", interrupt_at_step_2)
    out = tmp_path / "out.png"
    argv = f"gatys {content_path} {style_path} -o {out} --size 64 --scales 2 --steps 500 --vgg-weights {vgg19_file}"
    code = cli_main(argv.split())
    err = capsys.readouterr().err
    assert code == 130 and "stopping after this step" in err, err
    assert "stopped at step 2: wrote the best picture so far" in err, err
    assert Image.open(out).size == (64, 51), "full size, though stopped at the 32 px scale"
    assert (
        signal.getsignal(signal.SIGINT) is not None
        and signal.getsignal(signal.SIGINT).__name__ != "interrupt"
    )


def test_ctrl_c_before_the_first_step_writes_nothing(
    tmp_path, content_path, style_path, vgg19_file, monkeypatch, capsys
):
    import signal

    from nst import vgg

    forward = vgg.VGGFeatures.forward

    def interrupted(self, image, taps):
        os.kill(os.getpid(), signal.SIGINT)  # while the targets are built
        return forward(self, image, taps)

    monkeypatch.setattr(vgg.VGGFeatures, "forward", interrupted)
    out = tmp_path / "out.png"
    code = cli_main(
        f"gatys {content_path} {style_path} -o {out} --size 48 --vgg-weights {vgg19_file}".split()
    )
    assert code == 130 and "stopped before the first picture: nothing was written" in capsys.readouterr().err
    assert not out.exists()


def test_keep_faces_says_how_many_faces_it_kept(tmp_path, style_path, vgg19_file):
    portrait = ROOT / "examples" / "content" / "astronaut.jpg"
    common = ["gatys", str(portrait), str(style_path), "-o", str(tmp_path / "out.png"), "--size", "128"]
    common += ["--steps", "1", "--vgg-weights", str(vgg19_file), "--device", "cpu"]
    kept = run_cli(*common)
    assert kept.returncode == 0 and "keep_faces: kept 1 face\n" in kept.stderr, kept.stderr
    off = run_cli(*common, "--keep-faces", "off")
    assert off.returncode == 0 and "keep_faces" not in off.stderr, off.stderr
