"""The Hugging Face Space's configuration, checked without the network: the README's YAML header against the
Hub's documented keys and values, the Gradio version the Space would run against the one installed here,
every binary file git would push against the Hub's large-file patterns (.gitattributes), and the torch range
of requirements.txt against the releases ZeroGPU supports and the one installed here.

The lists below are copied from the Hub's documentation (huggingface/hub-docs, docs/hub/spaces-config-
reference.md and docs/hub/spaces-zerogpu.md, as of 2026-08-22); update them when the Hub changes."""

from __future__ import annotations

import re
import shutil
import subprocess
from importlib.metadata import version
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]

# docs/hub/spaces-config-reference.md: "All the accepted parameters are listed below."
CONFIG_KEYS = {
    "title",
    "emoji",
    "colorFrom",
    "colorTo",
    "sdk",
    "python_version",
    "sdk_version",
    "suggested_hardware",
    "suggested_storage",
    "app_file",
    "app_build_command",
    "app_port",
    "base_path",
    "fullWidth",
    "header",
    "short_description",
    "models",
    "datasets",
    "tags",
    "thumbnail",
    "pinned",
    "hf_oauth",
    "hf_oauth_scopes",
    "hf_oauth_expiration_minutes",
    "hf_oauth_authorized_org",
    "disable_embedding",
    "startup_duration_timeout",
    "custom_headers",
    "preload_from_hub",
}
# Repository card metadata every Hub repository (Spaces included) accepts besides the Space's own keys.
CARD_KEYS = {"license"}
COLORS = {"red", "yellow", "green", "blue", "indigo", "purple", "pink", "gray"}
SDKS = {"gradio", "docker", "static"}
HARDWARE = {
    "cpu-basic",
    "cpu-upgrade",
    "t4-small",
    "t4-medium",
    "l4x1",
    "l4x4",
    "l40sx1",
    "l40sx4",
    "l40sx8",
    "a10g-small",
    "a10g-large",
    "a10g-largex2",
    "a10g-largex4",
    "a100-large",
    "a100x4",
    "a100x8",
}
# The Hub refuses a short description longer than this when the README is pushed.
SHORT_DESCRIPTION_MAX = 60
# docs/hub/spaces-zerogpu.md, "Supported Versions".
ZEROGPU_TORCH = ["2.8.0", "2.9.1", "2.10.0", "2.11.0"]
ZEROGPU_PYTHON = ["3.10.13", "3.12.12"]

# The .gitattributes the Hub writes into every new repository, plus the image formats this project ships.
HUB_LFS_PATTERNS = (
    "*.7z *.arrow *.bin *.bz2 *.ckpt *.ftz *.gz *.h5 *.joblib *.lfs.* *.mlmodel *.model *.msgpack *.npy *.npz"
    " *.onnx *.ot *.parquet *.pb *.pickle *.pkl *.pt *.pth *.rar *.safetensors saved_model/**/* *.tar.* *.tar"
    " *.tflite *.tgz *.wasm *.xz *.zip *.zst *tfevents*"
).split()
IMAGE_LFS_PATTERNS = ["*.png", "*.jpg", "*.jpeg", "*.webp", "*.gif", "*.mp4"]


def space_header(readme: str) -> dict:
    """The YAML block the Hub reads: the README's first lines, between two lines of ``---``."""
    found = re.match(r"---\n(.*?)\n---\n", readme, re.S)
    assert found, "README.md must start with the Space's YAML header between two '---' lines"
    header = yaml.safe_load(found.group(1))
    assert isinstance(header, dict), "the Space's YAML header must be a mapping"
    return header


def header_problems(header: dict, root: Path, gradio_version: str) -> list[str]:
    """Every way the header breaks the Hub's documented configuration, one sentence each."""
    problems = [
        f"{key!r} is not a documented Space config key"
        for key in header
        if key not in CONFIG_KEYS | CARD_KEYS
    ]
    for key in ("title", "sdk", "sdk_version", "python_version", "app_file", "short_description"):
        if not isinstance(header.get(key), str) or not header.get(key):
            problems.append(f"{key!r} must be a non-empty string (quote versions: 3.10 is a float in YAML)")
    for key in ("colorFrom", "colorTo"):
        if header.get(key) not in COLORS:
            problems.append(f"{key} {header.get(key)!r} is not one of {sorted(COLORS)}")
    if header.get("sdk") not in SDKS:
        problems.append(f"sdk {header.get('sdk')!r} is not one of {sorted(SDKS)}")
    if header.get("sdk") == "gradio" and str(header.get("sdk_version")) != gradio_version:
        problems.append(
            f"sdk_version {header.get('sdk_version')!r} is not the installed gradio {gradio_version}"
        )
    if len(str(header.get("short_description", ""))) > SHORT_DESCRIPTION_MAX:
        problems.append(f"short_description is longer than {SHORT_DESCRIPTION_MAX} characters")
    app_file = str(header.get("app_file", ""))
    if not app_file or not (root / app_file).is_file():
        problems.append(f"app_file {app_file!r} is not a file of the repository")
    if not re.fullmatch(r"3\.\d+(\.\d+)?", str(header.get("python_version", ""))):
        problems.append(f"python_version {header.get('python_version')!r} is not a 3.x or 3.x.x version")
    if "suggested_hardware" in header and header["suggested_hardware"] not in HARDWARE:
        problems.append(f"suggested_hardware {header['suggested_hardware']!r} is not a Hub hardware flavor")
    if not isinstance(header.get("pinned", False), bool):
        problems.append("pinned must be true or false")
    return problems


def requirement(name: str, text: str) -> Requirement:
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("-") and Requirement(line).name.lower() == name:
            return Requirement(line)
    raise AssertionError(f"{name} is not in requirements.txt")


def git_files(root: Path) -> list[str]:
    """The files a push would send: tracked ones and new ones git does not ignore."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=root,
        capture_output=True,
        check=True,
    )
    return [name for name in listed.stdout.decode().split("\0") if name and (root / name).is_file()]


def is_binary(path: Path) -> bool:
    """git's own test: a NUL byte in the first 8000 bytes."""
    with path.open("rb") as file:
        return b"\0" in file.read(8000)


def binaries_outside_lfs(root: Path) -> list[str]:
    binaries = [name for name in git_files(root) if is_binary(root / name)]
    if not binaries:
        return []
    checked = subprocess.run(
        ["git", "check-attr", "-z", "--stdin", "filter"],
        cwd=root,
        input="\0".join(binaries).encode() + b"\0",
        capture_output=True,
        check=True,
    )
    fields = checked.stdout.decode().split("\0")
    attrs = dict(zip(fields[0::3], fields[2::3]))
    return [name for name in binaries if attrs.get(name) != "lfs"]


def needs_git() -> None:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout (a Space's own copy, a source archive): nothing to push from here")


def test_the_readme_header_is_a_valid_space_configuration():
    header = space_header((ROOT / "README.md").read_text(encoding="utf-8"))
    assert header_problems(header, ROOT, version("gradio")) == []


def test_the_python_version_is_one_zerogpu_offers():
    """The same header deploys on dedicated GPU hardware and on ZeroGPU, which runs only its own Pythons."""
    header = space_header((ROOT / "README.md").read_text(encoding="utf-8"))
    assert str(header.get("python_version")) in ZEROGPU_PYTHON


def test_the_torch_range_holds_a_zerogpu_release_and_the_installed_one():
    text = (ROOT / "requirements.txt").read_text()
    torch, torchvision = requirement("torch", text), requirement("torchvision", text)
    assert torch.specifier.contains(version("torch").split("+")[0]), (
        "the installed torch is outside the range"
    )
    assert torchvision.specifier.contains(version("torchvision").split("+")[0])
    on_zerogpu = [v for v in ZEROGPU_TORCH if torch.specifier.contains(v)]
    assert on_zerogpu, f"no ZeroGPU release ({', '.join(ZEROGPU_TORCH)}) is in {torch}"
    # CPU builds carry a local version label (2.14.1+cpu): the range must take them as the same release.
    assert torch.specifier.contains(Version(version("torch").split("+")[0] + "+cpu"))


def test_gitattributes_has_the_hubs_large_file_patterns():
    lines = (ROOT / ".gitattributes").read_text().splitlines()
    patterns = {line.split()[0] for line in lines if line.strip() and not line.startswith("#")}
    missing = [p for p in HUB_LFS_PATTERNS + IMAGE_LFS_PATTERNS if p not in patterns]
    assert missing == []
    for line in lines:
        if line.strip() and not line.startswith("#"):
            assert line.split()[1:] == ["filter=lfs", "diff=lfs", "merge=lfs", "-text"], line


def test_every_binary_file_goes_to_large_file_storage():
    """The Hub refuses a push with a binary file outside LFS/Xet: each one matches a pattern."""
    needs_git()
    assert binaries_outside_lfs(ROOT) == []


def test_the_checks_catch_what_they_are_for(tmp_path):
    """Each check fails when its property is broken: a bad key, a wrong version, a missing app file, a long
    description, a wrong colour, and a binary file that no pattern matches."""
    header = space_header((ROOT / "README.md").read_text(encoding="utf-8"))
    good = header_problems(header, ROOT, version("gradio"))
    assert good == []
    for broken, words in [
        ({**header, "sdk_verison": header["sdk_version"]}, "'sdk_verison' is not a documented"),
        ({**header, "sdk_version": "5.0.0"}, "is not the installed gradio"),
        ({**header, "app_file": "missing.py"}, "is not a file of the repository"),
        ({**header, "short_description": "x" * 61}, "longer than 60"),
        ({**header, "colorFrom": "orange"}, "colorFrom 'orange'"),
        ({**header, "python_version": 3.1}, "'python_version' must be a non-empty string"),
        ({**header, "suggested_hardware": "h100"}, "not a Hub hardware flavor"),
    ]:
        problems = header_problems(broken, ROOT, version("gradio"))
        assert any(words in p for p in problems), (words, problems)

    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    run = {"cwd": tmp_path, "check": True, "capture_output": True}
    subprocess.run(["git", "init", "-q"], **run)
    (tmp_path / "picture.png").write_bytes(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR")
    (tmp_path / "notes.txt").write_text("text is never stored in LFS\n")
    (tmp_path / ".gitattributes").write_text((ROOT / ".gitattributes").read_text())
    assert binaries_outside_lfs(tmp_path) == []
    kept = [
        line for line in (ROOT / ".gitattributes").read_text().splitlines() if not line.startswith("*.png")
    ]
    (tmp_path / ".gitattributes").write_text("\n".join(kept) + "\n")
    assert binaries_outside_lfs(tmp_path) == ["picture.png"]
