"""The command line never destroys an input, and refuses an output it cannot write before any work.

Every case runs without VGG weights (downloads are off in tests): a refusal that came only after
the work started would be the weights message instead of the one asserted here.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
from PIL import Image

from nst.cli import main
from nst.errors import ImageError
from nst.images import save_image


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def refusal(capsys, *args: str) -> str:
    code = main(list(args))
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and err.startswith("error: "), (code, err)
    return err


@pytest.mark.parametrize(
    "command",
    ["gatys-content", "gatys-style", "gatys-extra-style", "gatys-mask", "texture", "cyclegan", "symlink"],
)
def test_an_output_that_is_an_input_is_refused_before_work(
    command, capsys, tmp_path, content_path, style_path
):
    mask = tmp_path / "mask.png"
    Image.new("L", (40, 32), 255).save(mask)
    link = tmp_path / "link.png"
    link.symlink_to(content_path)
    args = {
        "gatys-content": ["gatys", str(content_path), str(style_path), "-o", str(content_path)],
        "gatys-style": ["gatys", str(content_path), str(style_path), "-o", str(style_path)],
        "gatys-extra-style": [
            "gatys",
            str(content_path),
            "--style",
            str(content_path),
            "--style",
            str(style_path),
            "--mask",
            str(mask),
            "--mask",
            str(mask),
            "-o",
            str(tmp_path / "." / style_path.name),
        ],
        "gatys-mask": ["gatys", str(content_path), str(style_path), "--mask", str(mask), "-o", str(mask)],
        "texture": ["texture", str(style_path), "-o", str(style_path)],
        "cyclegan": ["cyclegan", str(content_path), "-o", str(content_path)],
        "symlink": ["gatys", str(content_path), str(style_path), "-o", str(link)],
    }[command]
    before = {p: digest(p) for p in (content_path, style_path, mask)}
    err = refusal(capsys, *args)
    assert "it is one of the input images" in err and "choose another output file" in err, err
    assert {p: digest(p) for p in before} == before


def test_an_output_that_cannot_be_written_is_refused_before_work(capsys, tmp_path, content_path, style_path):
    folder = tmp_path / "results"
    folder.mkdir()
    err = refusal(capsys, "gatys", str(content_path), str(style_path), "-o", str(folder))
    assert "it is a folder" in err, err
    err = refusal(capsys, "texture", str(style_path), "-o", "/proc/nst-texture.png")
    assert (
        "cannot save '/proc/nst-texture.png': the system does not let files be made there (folder '/proc'); "
        "choose another folder"
    ) in err, err
    err = refusal(capsys, "cyclegan", str(content_path), "-o", str(tmp_path / "missing" / "out.png"))
    assert "does not exist" in err, err


def test_a_failed_save_leaves_the_previous_file_whole(tmp_path, monkeypatch):
    out = tmp_path / "out.png"
    Image.new("RGB", (20, 20), "blue").save(out)
    before = digest(out)

    def broken(self, fp, *args, **kwargs):
        fp.write(b"\x89PNG half a picture")
        raise OSError("No space left on device")

    monkeypatch.setattr(Image.Image, "save", broken)
    with pytest.raises(ImageError, match="No space left on device"):
        save_image(Image.new("RGB", (20, 20), "red"), out)
    assert digest(out) == before
    assert [p.name for p in tmp_path.iterdir()] == ["out.png"], "no temporary file left behind"


def test_a_saved_result_gets_the_usual_permissions(tmp_path):
    out = save_image(Image.new("RGB", (20, 20)), tmp_path / "new.png")
    umask = os.umask(0)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~umask
