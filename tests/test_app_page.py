"""The page's own handlers, driven directly: Run turns the controls (by name) into the method's request and
streams it, the status line says exactly which state the run is in, Stop ends it with the best picture at full
size, a failure becomes a sentence in the status line, each method shows its controls, and every control is
named like the dial, setting or request input it feeds."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from PIL import Image

from nst.dials import DIALS
from nst.inputs import VIDEO
from nst.methods import METHODS
from nst.settings import Settings, fields_info
from nst.ui.controls import CONTROLS, shown
from nst.ui.page import in_page_words, loss_frame
from support.http import wait_until, worker_threads
from support.page import START, drive

pytest.importorskip("gradio")


@pytest.fixture
def page(app_module):
    from nst.ui.page import Page

    return Page(app_module.RUNNER, app_module.CONFIG, app_module.CACHE, {name: None for name in START})


def statuses(updates: list[tuple]) -> list[str]:
    """The status line as the page showed it, each change once."""
    shown_lines: list[str] = []
    for update in updates:
        text = update[4]
        if isinstance(text, str) and (not shown_lines or shown_lines[-1] != text):
            shown_lines.append(text)
    return shown_lines


def phase(line: str) -> str:
    """Which state a status line tells (its first words), seconds and numbers aside."""
    for prefix, name in (
        ("Preparing: checking", "checking"),
        ("Waiting for the machine", "queued"),
        ("Preparing: loading the network", "network"),
        ("Preparing: taking in", "targets"),
        ("Step ", "running"),
        ("Stopping after", "stopping"),
        ("Stopped", "stopped"),
        ("Done", "done"),
        ("⚠️", "failed"),
    ):
        if line.startswith(prefix):
            return name
    raise AssertionError(f"a status line that tells no state: {line!r}")


def test_the_status_line_tells_each_state_of_a_run_stopped_at_its_coarse_scale(
    page, vgg19_env, content_path, style_path, monkeypatch
):
    """Slow steps (0.3 s) and a Stop at step 2 of the coarse scale: the status goes checking, queued, network,
    targets, running, stopping, stopped, never back to an earlier state and never 'loading' mid-run; the
    picture handed back is the best one at the full size asked for, not the coarse scale's."""
    import time

    from nst import vgg

    forward = vgg.VGGFeatures.forward

    def slow(self, image, taps):
        if image.requires_grad:  # a step, not a target
            time.sleep(0.3)
        return forward(self, image, taps)

    monkeypatch.setattr(vgg.VGGFeatures, "forward", slow)
    controls = {**START, "content": str(content_path), "style": str(style_path), "steps": 40, "scales": 2}
    updates = drive(page, controls, stop_when=lambda u: isinstance(u[4], str) and u[4].startswith("Step 2 "))
    lines = statuses(updates)
    phases = [phase(line) for line in lines]
    order = ["checking", "queued", "network", "targets", "running", "stopping", "stopped"]
    assert [p for i, p in enumerate(phases) if i == 0 or phases[i - 1] != p] == order, lines
    assert any(re.fullmatch(r"Step 2 of 40 · scale 1 of 2 · \d+ s · loss \S+", line) for line in lines), lines
    final = updates[-1]
    assert re.match(
        r"Stopped at step \d of 40: 64×51 px in [\d.]+ s on cpu, the best picture so far", final[4]
    )
    sizes = {Image.open(path).size for path in (*final[2], final[0], final[3]["value"])}
    assert sizes == {(64, 51)}, (
        "the before/after pair, the picture and the PNG at full size, though stopped at 32 px"
    )
    assert (
        Path(final[3]["value"]).suffix == ".png"
        and final[3]["visible"]
        and Path(final[2][0]) != Path(final[2][1])
    )
    assert final[5]["interactive"] is False, "Stop is off again"
    assert wait_until(lambda: not worker_threads(), 10)


def test_a_run_that_ends_says_done_with_its_size_and_steps(page, vgg19_env, content_path, style_path):
    controls = {**START, "content": str(content_path), "style": str(style_path), "steps": 3}
    updates = drive(page, controls)
    assert updates[1][5]["interactive"] is True, "Stop is live once the run is checked"
    assert re.match(r"Done: 64×51 px, 3 steps in [\d.]+ s on cpu\. Download the PNG below\.$", updates[-1][4])
    assert [phase(line) for line in statuses(updates)][-1] == "done"
    # The same run again gives the same picture, in a file of its own: Gradio rewrote a picture handed over as
    # an image in place, under its content's hash, cutting short a download of the identical one being served.
    again = drive(page, dict(controls))[-1][0]
    assert again != updates[-1][0] and Image.open(again).tobytes() == Image.open(updates[-1][0]).tobytes()


def test_the_status_line_says_how_many_faces_were_kept(page, vgg19_env, style_path):
    """A portrait with Keep faces ticked ends "Kept 1 face."; unticked, the run keeps none and says nothing of faces."""
    portrait = Path(__file__).resolve().parents[1] / "examples" / "content" / "astronaut.jpg"
    controls = {**START, "content": str(portrait), "style": str(style_path), "size": 128, "steps": 2}
    assert re.search(r"\. Kept 1 face\.$", drive(page, controls)[-1][4])
    unticked = drive(page, {**controls, "keep_faces": False})[-1][4]
    assert unticked.startswith("Done:") and "face" not in unticked


def test_the_dials_reach_their_settings(page, vgg19_env, content_path, style_path, monkeypatch):
    """Each dial sets its setting for the methods that show it (and only those)."""
    from nst import requests

    seen = []
    real = requests.StylizeRequest.run
    monkeypatch.setattr(
        requests.StylizeRequest,
        "run",
        lambda self, *a, **k: seen.append(self.settings) or real(self, *a, **k),
    )
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
    assert phase(status) == "failed"


def test_the_photo_is_named_before_the_style_when_nothing_is_uploaded(page):
    status = drive(page, {**START})[-1][4]
    assert status.startswith("⚠️ Photo: no image was given"), status


def test_loss_curve_keeps_every_series_from_the_first_table():
    """Gradio's plot draws only the series of the first table it receives and nothing after an empty one."""
    assert loss_frame([]) is None
    assert loss_frame([(1, {"content": 0.0, "style": 2.0, "total": 2.0})]) is None
    frame = loss_frame(
        [(1, {"content": 0.0, "style": 2.0, "total": 2.0}), (2, {"content": 0.1, "style": 1.0, "total": 1.1})]
    )
    assert set(frame["term"]) == {"content", "style", "total"} and list(frame["step"].unique()) == [2]
    assert frame.loc[frame["term"] == "content", "loss"].item() == pytest.approx(-1.0)


def test_the_loss_curve_is_the_best_picture_so_far_and_starts_again_with_each_scale():
    """An overshoot (step 3) is not plotted as a spike: each step shows the best point of its scale so far;
    at a scale's first step (4) the curve takes that step's value, higher as it may be."""
    totals = {1: 8.0, 2: 4.0, 3: 400.0, 4: 50.0, 5: 30.0, 6: 900.0, 7: 20.0}
    history = [(k, {"style": v / 2, "total": v}) for k, v in totals.items()]
    frame = loss_frame(history, [1, 4])
    plotted = (
        frame[frame["term"] == "total"].set_index("step")["loss"].map(lambda x: round(10**x, 6)).to_dict()
    )
    assert plotted == {1: 8.0, 2: 4.0, 3: 4.0, 4: 50.0, 5: 30.0, 6: 30.0, 7: 20.0}
    style = frame[frame["term"] == "style"].set_index("step")["loss"].map(lambda x: round(10**x, 6)).to_dict()
    assert style[3] == 2.0 and style[6] == 15.0, "the terms are those of the best point, not of the step"


def test_errors_name_the_inputs_as_the_page_labels_them():
    assert in_page_words("content image: no image was given") == "Photo: no image was given"
    assert in_page_words("style image is 1x1 pixels; images must be at least 16") == (
        "Style is 1x1 pixels; images must be at least 16"
    )
    assert in_page_words("extra style image 2: 3 MB is above") == "Extra style 2: 3 MB is above"
    assert in_page_words("painter: cezanne is not offered") == "Painter: cezanne is not offered"


def test_each_method_shows_its_own_controls():
    visible = {name: shown(method) for name, method in METHODS.items()}
    assert visible["gatys"]["hist_strength"] is False and visible["histogram"]["hist_strength"] is True
    assert visible["photorealistic"]["realism"] is True and visible["gatys"]["realism"] is False
    assert visible["texture"]["content"] is False and visible["texture"]["width"] is True
    assert visible["cyclegan"]["losses"] is False and visible["cyclegan"]["painter"] is True
    assert visible["mmd"]["style_loss"] and not visible["gatys"]["style_loss"]
    assert visible["cyclegan"]["advanced"] is False and visible["cyclegan"]["dials"] is False, (
        "no empty groups"
    )
    assert visible["texture"]["size"] is False, "a texture's size is its width and height"


def test_one_name_from_dial_to_loss(app_module):
    """Every control of the page's Run and every API parameter is named like the dial, the setting or the
    request input it is: the page, the API, the CLI and Python share one vocabulary."""
    settings = {f.name for f in fields_info()}
    inputs = {i.name for m in METHODS.values() for i in m.inputs()} | {i.name for i in VIDEO} | {"method"}
    vocabulary = settings | set(DIALS) | inputs
    assert {c.name for c in CONTROLS} <= vocabulary
    config = app_module.demo.config
    components = {c["id"]: c["props"] for c in config["components"]}
    run = next(d for d in config["dependencies"] if d.get("api_name") == "run")
    names = {components[i].get("elem_id") for i in run["inputs"]}
    states = [components[i] for i in run["inputs"] if components[i].get("elem_id") is None]
    assert len(states) == 1, "and the tab it is on (photo or video), as 'medium'"
    assert names - {None} == {c.name for c in CONTROLS}, "the Run button takes every control of the table"
    assert set(START) == names - {None} | {"medium"}, "the test's picture of the page is the page"
    for endpoint in app_module.demo.get_api_info()["named_endpoints"].values():
        params = {p["parameter_name"] for p in endpoint["parameters"]}
        assert params <= vocabulary - set(DIALS), params - vocabulary
    assert {d.setting for d in DIALS.values()} <= settings
    assert set(Settings.__dataclass_fields__) == settings and set(METHODS) >= {"gatys", "cyclegan"}


def test_runs_are_admitted_at_once_to_wait_in_the_runners_line(app_module):
    """Gradio does not hold the page's runs nor the API's in its own queue: there they were checked only when
    their turn came (their uploads swept meanwhile) and the status line could not say their place. They
    wait in the runner's line instead, which knows it; everything else is answered at once."""
    fns = {fn.api_name: fn for fn in app_module.demo.fns.values()}
    for name in ("run", *METHODS):
        assert fns[name].queue and fns[name].concurrency_limit is None, name
    assert not fns["page_stop"].queue and not fns["stop"].queue, "Stop is never queued behind a run"
