"""The page's own handlers, driven directly: Run turns the controls (by name) into a run and streams it,
Stop ends it with the picture so far, a failure becomes a sentence in the status line, each method shows
its controls, and every control is named like the dial, setting or API parameter it feeds."""

from __future__ import annotations

import asyncio
import types
from pathlib import Path

import pytest
from PIL import Image

from nst.dials import DIALS
from nst.methods import METHODS
from nst.settings import Settings, fields_info
from nst.ui.page import loss_frame, visible
from support.http import wait_until, worker_threads
from support.page import START

pytest.importorskip("gradio")


def drive(page, controls: dict, stop_at_first_picture: bool = False) -> list[tuple]:
    request = types.SimpleNamespace(session_hash=f"test-{id(controls)}")

    async def run() -> list:
        updates = []
        async for update in page.run(controls, request, progress=lambda *a, **k: None):
            updates.append(update)
            if stop_at_first_picture and isinstance(update[0], Image.Image):
                page.stop(request)
        return updates

    return asyncio.run(run())


@pytest.fixture
def page(app_module):
    from nst.ui.page import Page

    return Page(app_module.RUNNER, app_module.CONFIG, app_module.CACHE.path / "results")


def test_the_pages_stop_button_ends_with_the_picture_so_far(page, vgg19_env, content_path, style_path):
    updates = drive(
        page,
        {**START, "content": str(content_path), "style": str(style_path), "steps": 500},
        stop_at_first_picture=True,
    )
    assert updates[0][4].startswith("Loading") and updates[0][5]["interactive"] is True, "Stop is live"
    final = updates[-1]
    assert final[4].startswith("Stopped"), final[4]
    before, after = final[2]
    assert before.size == after.size == final[0].size == (64, 51)
    assert Path(final[3]).suffix == ".png" and Image.open(final[3]).size == (64, 51)
    assert final[5]["interactive"] is False, "Stop is off again"
    assert len(updates) < 100, "stopped long before 500 steps"
    assert wait_until(lambda: not worker_threads(), 10)


def test_the_dials_reach_their_settings(page, vgg19_env, content_path, style_path, monkeypatch):
    """Each dial sets its setting for the methods that show it (and only those)."""
    from nst.ui import run as run_module

    seen = []
    real = run_module.execute
    monkeypatch.setattr(run_module, "execute", lambda job, *a: seen.append(job.settings) or real(job, *a))
    images = {"content": str(content_path), "style": str(style_path), "steps": 1}
    drive(
        page,
        {
            **START,
            **images,
            "method": "histogram",
            "style_strength": 10,
            "smoothness": 0,
            "hist_strength": 0,
            "content_fidelity": 0,
            "realism": 2,
        },
    )
    drive(page, {**START, **images, "method": "photorealistic", "realism": 2, "hist_strength": 10})
    hist, photo = seen
    assert hist.style_weight == pytest.approx(100) and hist.tv_weight == 0 and hist.hist_weight == 0
    assert hist.content_weight == pytest.approx(0.1) and hist.photo_weight == 0, (
        "realism is not a histogram dial"
    )
    assert photo.photo_weight == pytest.approx(10.0) and photo.hist_weight == 0


def test_a_failure_is_a_sentence_in_the_status_line_not_a_stale_loading(page, content_path, style_path):
    updates = drive(
        page, {**START, "content": str(content_path), "style": str(style_path)}
    )  # no VGG weights here
    status = updates[-1][4]
    assert "has no vgg19 network weights yet" in status and "operator" in status, status
    assert "NST_VGG19_WEIGHTS" not in status and "<" not in status, "the operator's detail goes to the log"
    assert updates[-1][5]["interactive"] is False


def test_loss_curve_keeps_every_series_from_the_first_table():
    """Gradio's plot draws only the series of the first table it receives and nothing after an empty one."""
    assert loss_frame([]) is None
    assert loss_frame([(1, {"content": 0.0, "style": 2.0, "total": 2.0})]) is None
    frame = loss_frame(
        [(1, {"content": 0.0, "style": 2.0, "total": 2.0}), (2, {"content": 0.1, "style": 1.0, "total": 1.1})]
    )
    assert set(frame["term"]) == {"content", "style", "total"} and list(frame["step"].unique()) == [2]
    assert frame.loc[frame["term"] == "content", "loss"].item() == pytest.approx(-1.0)


def test_each_method_shows_its_own_controls():
    assert visible("gatys")["hist_strength"] is False and visible("histogram")["hist_strength"] is True
    assert visible("photorealistic")["realism"] is True and visible("gatys")["realism"] is False
    assert visible("texture")["content_inputs"] is False and visible("texture")["texture_controls"] is True
    assert visible("cyclegan")["losses"] is False and visible("cyclegan")["painter_controls"] is True
    assert visible("mmd")["style_loss_controls"] and not visible("gatys")["style_loss_controls"]


def test_one_name_from_dial_to_loss(app_module):
    """Every control of the page's Run and every API parameter is named like the dial, the setting or the
    input it is: the page, the API, the CLI and Python share one vocabulary."""
    settings = {f.name for f in fields_info()}
    inputs = {
        "method",
        "content",
        "style",
        "painter",
        "strength",
        "brush_scale",
        "max_size",
        "width",
        "height",
        "extra_styles",
        "masks",
        "content_segmentation",
        "style_segmentation",
    }
    vocabulary = settings | set(DIALS) | inputs
    config = app_module.demo.config
    components = {c["id"]: c["props"] for c in config["components"]}
    run = max(config["dependencies"], key=lambda d: len(d["inputs"]))
    names = {components[i].get("elem_id") for i in run["inputs"]}
    assert names <= vocabulary, names - vocabulary
    assert set(START) == names, "the test's picture of the page is the page"
    for endpoint in app_module.demo.get_api_info()["named_endpoints"].values():
        params = {p["parameter_name"] for p in endpoint["parameters"]}
        assert params <= vocabulary - set(DIALS), params - vocabulary
    assert {d.setting for d in DIALS.values()} <= settings
    assert set(Settings.__dataclass_fields__) == settings and set(METHODS) >= {"gatys", "cyclegan"}
