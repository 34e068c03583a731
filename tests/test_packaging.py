"""Packaging: ``requirements.txt`` and ``pyproject.toml`` ask for the same dependencies, and the README's
command-line block (marked ``<!-- tested: cli -->``) runs as written, its ``pip install .`` included: the
project is built into a wheel (no network, no build isolation) and installed into a folder of its own, so
the ``nst`` command is the one the wheel installs and ``import nst`` finds the installed copy, not the
repository. Only sizes and step counts are shrunk, as in tests/test_readme.py."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from packaging.requirements import Requirement

tomllib = pytest.importorskip("tomllib")  # Python 3.11+

ROOT = Path(__file__).resolve().parents[1]
CLI_BLOCK = re.compile(r"<!-- tested: cli -->\s*```bash\n(.*?)```", re.S)


def requirements_txt() -> dict[str, Requirement]:
    found = {}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            req = Requirement(line)
            found[req.name.lower()] = req
    return found


def pyproject_dependencies() -> dict[str, Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return {Requirement(d).name.lower(): Requirement(d) for d in project["dependencies"]}


def test_requirements_and_pyproject_ask_for_the_same_releases():
    assert {n: str(r.specifier) for n, r in requirements_txt().items()} == {
        n: str(r.specifier) for n, r in pyproject_dependencies().items()
    }


def test_the_nst_command_is_declared():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["scripts"] == {"nst": "nst.cli:main"}


def cli_lines() -> list[str]:
    blocks = CLI_BLOCK.findall((ROOT / "README.md").read_text(encoding="utf-8"))
    assert len(blocks) == 1, "the README has one command-line block marked <!-- tested: cli -->"
    lines = [line.strip() for line in blocks[0].splitlines()]
    return [line for line in lines if line and not line.startswith("#")]


def shrunk(line: str) -> str:
    line = re.sub(r"--size \d+", "--size 48", line)
    line = re.sub(r"--width \d+", "--width 40", line)
    line = re.sub(r"--height \d+", "--height 32", line)
    line = re.sub(r"--steps (\d+)", lambda m: f"--steps {min(int(m.group(1)), 20)}", line)
    command = line.split("#", 1)[0].rstrip()
    if "--help" not in command and " -o " in command:
        if "--steps" not in command:
            command += " --steps 20"
        if " gatys " in command and "--size" not in command:
            command += " --size 48"
    return command


def install_like_pip(site: Path, tmp: Path) -> None:
    """``pip install .`` without the network: a wheel from a copy of the sources, installed into ``site``."""
    source = tmp / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(ROOT / "nst", source / "nst", ignore=shutil.ignore_patterns("__pycache__"))
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input"]
    run = {"capture_output": True, "text": True, "timeout": 300}
    built = subprocess.run(
        [
            *pip,
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "-w",
            str(tmp / "wheels"),
            str(source),
        ],
        **run,
    )
    assert built.returncode == 0, built.stdout[-2000:] + built.stderr[-2000:]
    wheels = list((tmp / "wheels").glob("nst-*.whl"))
    assert len(wheels) == 1
    installed = subprocess.run(
        [*pip, "install", "--no-deps", "--no-index", "--target", str(site), str(wheels[0])], **run
    )
    assert installed.returncode == 0, installed.stdout[-2000:] + installed.stderr[-2000:]


def test_the_readme_command_line_block_runs_as_written(tmp_path, vgg19_file):
    lines = cli_lines()
    assert any(line.startswith("pip install .") for line in lines), "the block says how to get `nst`"
    assert any(line.startswith("nst ") for line in lines)
    work, site = tmp_path / "work", tmp_path / "site"
    work.mkdir()
    (work / "examples").symlink_to(ROOT / "examples")
    env = {
        **os.environ,
        # `. .venv/bin/activate`: `python` is this interpreter; the wheel's scripts come first
        "PATH": os.pathsep.join([str(site / "bin"), str(Path(sys.executable).parent), os.environ["PATH"]]),
        "PYTHONPATH": str(ROOT),  # in the repository: `python -m nst` finds its sources
        "NST_VGG19_WEIGHTS": str(vgg19_file),
    }
    for line in lines:
        if line.startswith("pip install ."):
            install_like_pip(site, tmp_path)
            assert (site / "bin" / "nst").is_file(), "the wheel installs the `nst` command"
            env["PYTHONPATH"] = str(site)  # from here on, only the installed copy can be found
            continue
        command = shrunk(line)
        result = subprocess.run(
            ["bash", "-c", command], cwd=work, env=env, capture_output=True, text=True, timeout=300
        )
        assert result.returncode == 0, (command, result.stdout[-2000:], result.stderr[-2000:])
    assert (work / "out.png").is_file() and (work / "texture.png").is_file()
    # the command the wheel installed ran the installed package, not the repository's sources
    found = subprocess.run(
        [sys.executable, "-c", "import nst; print(nst.__file__)"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
    )
    assert found.stdout.strip().startswith(str(site)), found.stdout + found.stderr


@pytest.mark.parametrize("name", ["app.py", "examples", "benchmarks"])
def test_what_stays_in_the_repository_exists(name):
    """The README says these run from the repository's root, not from an installed package."""
    assert (ROOT / name).exists()
