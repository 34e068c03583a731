"""Debian's Chromium for Playwright: no browser download, the flags a closed network needs."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def chromium_path() -> str | None:
    """``$NST_CHROMIUM``, else Debian's Chromium, else whatever ``chromium`` the PATH has."""
    for candidate in (
        os.environ.get("NST_CHROMIUM"),
        "/usr/bin/chromium",
        shutil.which("chromium"),
        shutil.which("chromium-browser"),
    ):
        if candidate and Path(candidate).is_file():
            return candidate
    return None


def upload_pictures(page, content: str | os.PathLike, style: str | os.PathLike) -> None:
    """Give the page's photo and painting pickers these files and wait until both pictures show."""
    from playwright.sync_api import expect

    page.locator("#content input[type=file]").set_input_files(str(content))
    page.locator("#style input[type=file]").set_input_files(str(style))
    expect(page.locator("#content img")).to_be_visible()
    expect(page.locator("#style img")).to_be_visible()
