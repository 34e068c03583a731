"""Nothing a client sends outlives its time: uploads, decoded data: URLs, results and PNGs are deleted
once older than NST_CACHE_SECONDS, under a burst of uploads, on SIGTERM, and at the next start for what a
killed server left. The server runs as ``python app.py`` in a subprocess, as it does in production."""

from __future__ import annotations

import base64
import io
import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from nst.errors import SettingsError
from nst.ui.cache import MARKER, CacheFolder
from support.http import AppProcess, raw_call, upload

pytest.importorskip("gradio")


def files(folder: Path) -> set[Path]:
    """The files in the cache folder now. os.walk, unlike rglob, passes over a folder the server's sweep
    removes while it is being listed (rglob raised FileNotFoundError on a busy machine)."""
    return {Path(root) / name for root, _, names in os.walk(folder) for name in names if name != MARKER}


def png(seed: int, folder: Path) -> Path:
    arr = np.random.default_rng(seed).integers(0, 255, (24, 24, 3), dtype=np.uint8)
    path = folder / f"upload{seed}.png"
    Image.fromarray(arr).save(path)
    return path


def test_a_burst_of_uploads_is_deleted_once_old_and_sigterm_deletes_the_rest(tmp_path, vgg19_file):
    cache, tmp = tmp_path / "cache", tmp_path / "tmp"
    tmp.mkdir()
    app = AppProcess(
        {
            "NST_CACHE_DIR": str(cache),
            "NST_CACHE_SECONDS": "2",
            "TMPDIR": str(tmp),
            "NST_VGG19_WEIGHTS": str(vgg19_file),
            "NST_OFFLINE": "1",
            "HF_HUB_OFFLINE": "1",
        }
    )
    try:
        kept = files(cache)  # the page's example pictures, copied at start
        sources = [png(i, tmp_path) for i in range(300)]
        with ThreadPoolExecutor(16) as pool:
            sent = list(pool.map(lambda p: upload(app.url, p), sources))
        photo = Image.open(sources[0])
        buffer = io.BytesIO()
        photo.save(buffer, format="PNG")
        url = "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()
        event, data = raw_call(
            app.url,
            "cyclegan",
            {"content": {"url": url, "path": None, "meta": {"_type": "gradio.FileData"}}, "strength": 0},
        )
        assert event == "complete", data
        made = {Path(s["path"]) for s in sent} | (files(cache) - kept)
        assert len(made) >= 302, "every upload, the decoded data: URL and the result were written"
        assert any("data-urls" in str(p) for p in made) and Path(data[0]["path"]) in made
        last = time.time()
        deadline = last + 15
        while time.time() < deadline and files(cache) & made:
            time.sleep(0.25)
        assert not files(cache) & made, sorted(map(str, files(cache) & made))[:5]
        assert time.time() - last < 2 + 1 + 5, (
            "gone within the age plus one sweep (and slack for a busy machine)"
        )
        assert files(cache) >= kept, "the page's example pictures stay while it is served"
        upload(app.url, png(999, tmp_path))
        assert sent and files(cache) - kept
    finally:
        code = app.stop(signal.SIGTERM)
    assert code == 0, app.output()[-2000:]
    assert files(cache) == set(), "SIGTERM: everything the server wrote is deleted"
    assert (cache / MARKER).exists()
    assert not list(tmp.glob("nst-results-*")), "no folder of its own per start"


def test_the_next_start_deletes_what_a_killed_server_left(tmp_path):
    cache = tmp_path / "cache"
    env = {"NST_CACHE_DIR": str(cache), "NST_OFFLINE": "1", "HF_HUB_OFFLINE": "1"}
    app = AppProcess(env)
    upload(app.url, png(1, tmp_path))
    app.stop(signal.SIGKILL)
    left = files(cache)
    assert any(p.name == "upload1.png" for p in left), "a killed server cleans nothing"
    app = AppProcess(env)
    try:
        assert not any(p.name == "upload1.png" for p in files(cache)), "the next start deleted it"
    finally:
        app.stop(signal.SIGTERM)


def test_a_cache_folder_with_foreign_files_or_in_use_is_never_swept(tmp_path):
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "thesis.tex").write_text("years of work")
    with pytest.raises(SettingsError, match="already holds files this app did not write"):
        CacheFolder.open(foreign, 60)
    assert (foreign / "thesis.tex").read_text() == "years of work"
    first = CacheFolder.open(tmp_path / "cache", 60)
    (first.path / "upload.png").write_bytes(b"x")
    with pytest.raises(SettingsError, match="in use by another running server"):
        CacheFolder.open(tmp_path / "cache", 60)
    assert (first.path / "upload.png").exists()
    second = CacheFolder.open_default(tmp_path / "cache", 60)
    assert second.path.name == "cache-2"


def test_sweeping_deletes_by_age_and_keeps_what_the_page_needs(tmp_path):
    cache = CacheFolder.open(tmp_path / "cache", 1)
    old, example, new = cache.path / "a" / "old.png", cache.path / "b" / "example.png", cache.path / "new.png"
    for path in (old, example):
        path.parent.mkdir()
        path.write_bytes(b"x")
    time.sleep(1.2)
    new.write_bytes(b"x")
    assert cache.sweep(keep=[str(example)]) == 1
    assert not old.exists() and not old.parent.exists() and example.exists() and new.exists()
    (cache.path / "just-made").mkdir()  # Gradio's folder for the result it is about to write
    cache.sweep()
    assert (cache.path / "just-made").is_dir(), "a new empty folder is not pruned from under a write"
