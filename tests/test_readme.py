"""The README's code, run as written: every block marked ``<!-- tested: api -->`` against the app on a
local port, every block marked ``<!-- tested: python -->`` with the package, in a folder that has the
project's example pictures. Only sizes and step counts are shrunk (``size=384`` becomes ``size=48``, more
than 20 steps become 20), so the blocks run on the tests' tiny random-weight models in seconds."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BLOCK = re.compile(r"<!-- tested: (api|python) -->\s*```python\n(.*?)```", re.S)


def blocks(kind: str) -> list[str]:
    return [code for found, code in BLOCK.findall((ROOT / "README.md").read_text()) if found == kind]


def shrunk(code: str) -> str:
    code = re.sub(r"\bsize=\d+", "size=48", code)
    code = re.sub(r"\bwidth=\d+", "width=40", code)
    code = re.sub(r"\bheight=\d+", "height=32", code)
    return re.sub(r"\bsteps=(\d+)", lambda m: f"steps={min(int(m.group(1)), 20)}", code)


@pytest.fixture
def workdir(tmp_path, monkeypatch) -> Path:
    """A folder with the project's examples, where the blocks may write their pictures."""
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_the_readme_has_tested_blocks_of_both_kinds():
    assert len(blocks("api")) >= 2 and len(blocks("python")) >= 2


@pytest.mark.parametrize("index", range(len(blocks("api"))))
def test_api_block_runs_as_written(index, server, vgg19_env, painter, workdir):
    code = shrunk(blocks("api")[index]).replace('"http://127.0.0.1:7860"', repr(server))
    assert repr(server) in code, "every API block talks to the local server the README names"
    exec(compile(code, f"README api block {index + 1}", "exec"), {})


@pytest.mark.parametrize("index", range(len(blocks("python"))))
def test_python_block_runs_as_written(index, vgg19_file, tiny_file, workdir):
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "NST_VGG19_WEIGHTS": str(vgg19_file),
        "NST_CYCLEGAN_MONET_FILE": str(tiny_file),
        "NST_CYCLEGAN_VANGOGH_FILE": str(tiny_file),
    }
    result = subprocess.run(
        [sys.executable, "-c", shrunk(blocks("python")[index])],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
