"""Screenshots of the page as a person sees it, with the real weights in ../shared, for looking at by eye.

Starts ``app.py`` with the VGG16 weights from ``../shared`` (and, so the CycleGAN method has a painter to
show, the vintage generator from ``../shared`` standing in for Monet; Van Gogh stays missing, so the
banner and the painter menu show both cases), drives Debian's Chromium with Playwright and writes into
``--out`` (default ``benchmarks/results/screenshots``), at 1400x1000 (desktop) and 390x844 (phone):

* ``<device>-1-start.png``: the page as it opens, with the start-up banner;
* ``<device>-2-running.png``: a run in progress (``--size`` px, ``--steps`` steps, slow enough to watch);
* ``<device>-3-stopped.png``: the same run after Stop: its best picture at full size;
* ``<device>-4-done.png``: a portrait at the page's own CPU defaults, finished (the page has gone to the
  result; the status line says how many faces Keep faces kept);
* ``<device>-5-upload-error.png``: a damaged photo, told on upload;
* ``cyclegan.png``: the CycleGAN method after a run, its painter menu open;
* ``error.png``: the same server without VGG weights: its banner, and the sentence after Run;
* ``<device>-video-1-running.png``, ``<device>-video-2-done.png``: the Video tab repainting the example video
  (its first 8 frames, at the page's defaults) with the swirls style, as its frames come, and done.

    python benchmarks/screenshots.py [--out DIR] [--size 512] [--steps 200] [--only video]
"""

from __future__ import annotations

import argparse
import re
import signal
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from support.browser import ARGS, chromium_path  # noqa: E402
from support.http import AppProcess  # noqa: E402
from support.shared import VGG16, VINTAGE  # noqa: E402


def choose(page, label: str) -> None:
    page.locator("#method input").click()
    page.get_by_role("option", name=label, exact=True).click()


def open_dials(page) -> None:
    """Unfold the dials (folded at first, under the result)."""
    from playwright.sync_api import expect

    if page.locator("#dials .label-wrap.open").count() == 0:
        page.locator("#dials .label-wrap").click()
    expect(page.locator("#dials .label-wrap.open")).to_have_count(1)
    page.wait_for_timeout(500)  # the fold's animation: a value typed meanwhile is lost


def set_number(page, elem_id: str, value: int) -> None:
    box = page.locator(f"#{elem_id} input[type=number]")
    box.fill(str(value))
    box.press("Enter")


def run_and_wait(page, timeout_s: float) -> None:
    from playwright.sync_api import expect

    page.locator("#run").click()
    expect(page.locator("#status")).to_contain_text("Done", timeout=timeout_s * 1000)


def pick_examples(page, photo: str, style: str) -> None:
    from playwright.sync_api import expect

    page.locator(".nst-examples").nth(0).get_by_text(photo).click()
    page.locator(".nst-examples").nth(1).get_by_text(style).click()
    expect(page.locator("#style img")).to_be_visible()


def video_shots(browser, url: str, out: Path) -> None:
    """The Video tab on a desktop and a phone: the example video, a few frames, running and done."""
    from playwright.sync_api import expect

    for name, viewport, extra in DEVICES:
        page = browser.new_page(viewport=viewport, **extra)
        page.set_default_timeout(60_000)
        page.goto(url)
        page.get_by_role("tab", name="Video").click()
        page.locator("#video input[type=file]").set_input_files(str(ROOT / "examples/videos/coffee-pan.mp4"))
        page.locator(".nst-examples").nth(1).get_by_text("swirls").click()
        expect(page.locator("#video video")).to_be_visible()
        page.locator("#video-options .label-wrap").click()
        set_number(page, "max_frames", 8)
        page.evaluate("window.scrollTo(0, 0)")
        page.locator("#run").click()
        expect(page.locator("#status")).to_contain_text("Frame 3 of 8", timeout=300_000)
        page.wait_for_timeout(800)
        page.screenshot(path=str(out / f"{name}-video-1-running.png"), full_page=name == "desktop")
        expect(page.locator("#status")).to_contain_text("Done", timeout=300_000)
        page.wait_for_timeout(1500)
        page.screenshot(path=str(out / f"{name}-video-2-done.png"), full_page=name == "desktop")
        page.close()


DEVICES = (
    ("desktop", {"width": 1400, "height": 1000}, {}),
    ("phone", {"width": 390, "height": 844}, {"device_scale_factor": 2, "is_mobile": True}),
)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "screenshots")
    ap.add_argument("--size", type=int, default=512, help="the watched and stopped run's size")
    ap.add_argument("--steps", type=int, default=200, help="the watched and stopped run's steps")
    ap.add_argument("--only", choices=["video"], default=None, help="only the Video tab's screenshots")
    args = ap.parse_args()
    from playwright.sync_api import expect, sync_playwright

    args.out.mkdir(parents=True, exist_ok=True)
    env = {
        "NST_BACKBONE": "vgg16",
        "NST_VGG16_WEIGHTS": str(VGG16),
        "NST_CYCLEGAN_MONET_FILE": str(VINTAGE),
        "NST_OFFLINE": "1",
        "HF_HUB_OFFLINE": "1",
        "NST_CACHE_DIR": "/tmp/nst-screenshots-cache",
    }
    app = AppProcess(env)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium_path(), headless=True, args=ARGS)
            video_shots(browser, app.url, args.out)
            if args.only == "video":
                return
            for name, viewport, extra in DEVICES:
                page = browser.new_page(viewport=viewport, **extra)
                page.set_default_timeout(60_000)
                page.goto(app.url)
                expect(page.locator("#run")).to_be_visible()
                page.screenshot(path=str(args.out / f"{name}-1-start.png"), full_page=name == "desktop")
                pick_examples(page, "chelsea", "swirls")
                open_dials(page)
                set_number(page, "size", args.size)
                set_number(page, "steps", args.steps)
                page.evaluate("window.scrollTo(0, 0)")
                page.locator("#run").click()
                # The status line skips steps (an update at most every quarter second): wait for any past 10.
                expect(page.locator("#status")).to_contain_text(
                    re.compile(r"Step [1-9]\d+ of"), timeout=300_000
                )
                expect(page.locator("#output img")).to_be_visible()
                page.wait_for_timeout(800)  # the page goes to the forming picture
                page.screenshot(path=str(args.out / f"{name}-2-running.png"))
                page.locator("#stop").click()
                expect(page.locator("#status")).to_contain_text("Stopped at step", timeout=120_000)
                page.screenshot(path=str(args.out / f"{name}-3-stopped.png"), full_page=True)
                page.reload()
                # A portrait: the status line counts the faces Keep faces kept.
                pick_examples(page, "astronaut", "swirls")
                run_and_wait(page, 600)
                page.wait_for_timeout(800)
                page.screenshot(path=str(args.out / f"{name}-4-done.png"))
                page.reload()
                broken = args.out / "broken.png"
                broken.write_bytes(b"\x89PNG\r\n\x1a\n" + b"not a picture" * 20)
                page.locator("#content input[type=file]").set_input_files(str(broken))
                expect(page.locator("#status")).to_contain_text("Photo", timeout=30_000)
                page.screenshot(path=str(args.out / f"{name}-5-upload-error.png"))
                broken.unlink()
                page.close()
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(app.url)
            choose(page, "CycleGAN painter")
            page.locator(".nst-examples").nth(0).get_by_text("coffee").click()
            run_and_wait(page, 120)
            page.locator("#painter input").click()
            page.screenshot(path=str(args.out / "cyclegan.png"), full_page=True)
            page.close()
            browser.close()
    finally:
        app.stop(signal.SIGTERM)
    bare = AppProcess({k: v for k, v in env.items() if k != "NST_VGG16_WEIGHTS"})
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium_path(), headless=True, args=ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(bare.url)
            page.locator("#banner summary").click()  # the folded how-to, for whoever runs the server
            pick_examples(page, "chelsea", "swirls")
            page.locator("#run").click()
            expect(page.locator("#status")).to_contain_text("operator", timeout=60_000)
            page.screenshot(path=str(args.out / "error.png"))
            browser.close()
    finally:
        bare.stop(signal.SIGTERM)
    print(f"screenshots in {args.out}")


if __name__ == "__main__":
    main()
