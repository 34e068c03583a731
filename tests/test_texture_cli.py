"""``python -m nst texture`` and the new ``gatys`` flags, end to end in real subprocesses."""

import pytest
from PIL import Image

from nst.cli import main
from nst.cli._styles import collect_styles, parse_canvas, parse_style_spec
from nst.errors import SettingsError
from tests.conftest import make_picture
from tests.test_cli import run_cli

TINY = ["--steps", "3", "--style-layers", "conv1_1,conv2_1", "--content-layers", "conv2_1", "--hist-layers",
        "relu1_1", "--device", "cpu"]


def test_texture_command_makes_a_non_square_texture(tmp_path, style_path, vgg19_file):
    out = tmp_path / "texture.png"
    proc = run_cli("texture", str(style_path), "-o", str(out), "--size", "48x24", "--style-loss", "mmd-gauss",
                   "--hist-weight", "1", "--vgg-weights", str(vgg19_file), "--steps", "3", "--style-layers",
                   "conv1_1,conv2_1", "--hist-layers", "relu1_1", "--device", "cpu")
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


def test_gatys_with_two_weighted_styles_masks_and_every_term(tmp_path, capsys, content_path, style_path, vgg19_file):
    other = tmp_path / "other.png"
    make_picture(30, 30, seed=5).save(other)
    left = tmp_path / "left.png"
    mask = Image.new("L", (40, 32), 0)
    mask.paste(255, (0, 0, 20, 32))
    mask.save(left)
    right = tmp_path / "right.png"
    Image.eval(mask, lambda v: 255 - v).save(right)
    out = tmp_path / "out.png"
    code, stdout, err = cli(capsys, "gatys", str(content_path), "-o", str(out), "--size", "32", "--style",
                            f"{style_path}:0.7", "--style", f"{other}:0.3", "--style-loss", "bn", "--hist-weight", "1",
                            "--photo-weight", "100", "--preserve-color", "luminance", "--quiet",
                            "--vgg-weights", str(vgg19_file), *TINY)
    assert code == 0, err
    code, stdout, err = cli(capsys, "gatys", str(content_path), "-o", str(out), "--size", "32", "--style",
                            str(style_path), "--style", str(other), "--mask", str(left), "--mask", str(right),
                            "--style-loss", "mmd-linear", "--hist-weight", "1", "--vgg-weights", str(vgg19_file), *TINY)
    assert code == 0, err
    assert all(term in stdout for term in ("content", "style", "hist", "tv"))
    assert Image.open(out).size == (32, 26)


def test_bad_flags_exit_2_with_one_line(tmp_path, capsys, content_path, style_path, vgg19_file):
    o = str(tmp_path / "o.png")
    cases = [
        (["gatys", str(content_path), str(style_path), "-o", o, "--style-loss", "wasserstein"], "style_loss: 'wasserstein'"),
        (["gatys", str(content_path), "-o", o, "--style", f"{style_path}:0.5", "--style", str(style_path)],
         "give a weight to every style"),
        (["gatys", str(content_path), "-o", o, "--style", f"{style_path}:0.5", "--style", f"{style_path}:1",
          "--style-blend", "1,2"], "give weights either as --style PATH:WEIGHT or with --style-blend"),
        (["gatys", str(content_path), str(style_path), "-o", o, "--mask", str(style_path), "--mask", str(style_path)],
         "2 mask(s) given for 1 style image(s)"),
        (["gatys", str(content_path), "-o", o], "give a style image"),
        (["texture", str(style_path), "-o", o, "--size", "big"], "size: expected WIDTHxHEIGHT"),
        (["texture", str(style_path), "-o", o, "--size", "4000x8"], "height: must be between 16 and 4096"),
    ]
    for args, message in cases:
        code, _, err = cli(capsys, *args, "--vgg-weights", str(vgg19_file), "--steps", "1")
        assert code == 2, (args, err)
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], err
    code, _, err = cli(capsys, "texture", str(style_path), "-o", o, "--content-weight", "1")
    assert code == 2 and "unrecognized arguments: --content-weight" in err  # no content flags for textures


def test_style_specs_and_canvas_sizes(tmp_path):
    assert parse_style_spec("a.jpg:0.7") == ("a.jpg", 0.7)
    assert parse_style_spec("C:\\art\\b.jpg") == ("C:\\art\\b.jpg", None)
    odd = tmp_path / "x.png:2"
    odd.write_bytes(b"")
    assert parse_style_spec(str(odd)) == (str(odd), None)  # an existing file is taken whole
    assert collect_styles(["a.jpg:2", "b.jpg:1"]) == (["a.jpg", "b.jpg"], (2.0, 1.0))
    assert collect_styles(["a.jpg"]) == (["a.jpg"], None)
    assert parse_canvas("512x256") == (512, 256) and parse_canvas("300") == (300, 300)
    with pytest.raises(SettingsError, match="size: expected"):
        parse_canvas("0.5x2")
