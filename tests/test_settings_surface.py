"""Every setting, by name, from every front end to the run.

ALTERNATIVES lists each field of Settings with a value other than its default (as the text a CLI flag
or an API box carries) and the other settings under which that value matters. For each field: the
CLI's flag of the same name and an API endpoint's parameter of the same name give Settings that
value, and a Python run with it differs from the run without it. A new field without an entry fails
the first test, so nothing is added without a wire.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np
import pytest

import nst
from nst.cli import build_parser
from nst.cli._common import flag, settings_from_args
from nst.errors import SettingsError
from nst.methods import METHODS
from nst.requests import StylizeRequest
from nst.settings import Settings, fields_info
from nst.ui.runner import Runner
from support.http import raw_call, upload


@dataclass(frozen=True)
class Alternative:
    value: str  #: not the default, as text
    base: dict[str, str] = field(default_factory=dict)  #: settings under which the value shows
    styles: int = 1  #: style images the run needs
    api_value: str | None = None  #: where the server's limits need another value ...
    api_base: dict[str, str] | None = None  #: ... or other settings
    content: Path | None = None  #: a photo the value shows on (a face for keep_faces), else the tests' own


#: A photo with a face, found at 128 px (tests/test_faces.py).
PORTRAIT = Path(__file__).resolve().parents[1] / "examples" / "content" / "astronaut.jpg"

#: The run every alternative is compared against: small, short, deterministic.
RUN = {"size": "40", "steps": "3", "precision": "fp32"}

ALTERNATIVES = {
    "size": Alternative("48"),
    "steps": Alternative("5"),
    "content_weight": Alternative("20"),
    "style_weight": Alternative("1000"),
    "tv_weight": Alternative("100"),
    "backbone": Alternative("vgg16"),
    "content_layers": Alternative("conv2_1"),
    "style_layers": Alternative("conv1_1,conv2_1"),
    "style_layer_weights": Alternative("10,1,1,1,1"),
    "pooling": Alternative("avg"),
    "init": Alternative("noise"),
    "optimizer": Alternative("adam"),
    "learning_rate": Alternative("0.5"),
    "seed": Alternative("7", {"init": "noise"}),
    "style_scale": Alternative("2"),
    "scales": Alternative("2"),
    "precision": Alternative("bf16", {"precision": "fp32"}),
    "tile_size": Alternative("32", {"size": "64"}, api_value="256", api_base={"size": "512"}),
    "style_loss": Alternative("mmd-linear"),
    "mmd_poly_c": Alternative("5", {"style_loss": "mmd-poly"}),
    "hist_weight": Alternative("1"),
    "hist_layers": Alternative("relu2_1", {"hist_weight": "1"}),
    "photo_weight": Alternative("1000"),
    "preserve_color": Alternative("luminance"),
    "style_blend": Alternative("0.9,0.1", styles=2),
    "keep_faces": Alternative("off", {"size": "128"}, content=PORTRAIT),
    "face_strength": Alternative("0.2", {"size": "128"}, content=PORTRAIT),
}


def test_every_setting_has_an_alternative_here():
    names = [info.name for info in fields_info()]
    missing = [n for n in names if n not in ALTERNATIVES]
    assert not missing, f"new settings without a wiring check: {missing}; add them to ALTERNATIVES"
    assert sorted(ALTERNATIVES) == sorted(names)


def expected(name: str, alternative: Alternative, base: dict[str, str]) -> Settings:
    return Settings.from_dict({**base, name: alternative.value})


@pytest.mark.parametrize("name", list(ALTERNATIVES))
def test_the_cli_flag_of_the_same_name_sets_it(name, content_path, style_path, tmp_path):
    alternative = ALTERNATIVES[name]
    base = {"backbone": "vgg19", **RUN, **alternative.base}
    argv = ["gatys", str(content_path), str(style_path), "-o", str(tmp_path / "out.png")]
    for key, value in {**base, name: alternative.value}.items():
        argv += [flag(key), value]
    settings = settings_from_args(build_parser().parse_args(argv))
    assert getattr(settings, name) == getattr(expected(name, alternative, base), name)
    assert getattr(settings, name) != getattr(Settings.from_dict(base), name)


@pytest.fixture
def captured(app_module, monkeypatch) -> list:
    """The requests the server's endpoints build, caught where a run would be checked: none runs."""
    seen: list = []

    async def prepare(self, request, limits):
        seen.append(request)
        raise SettingsError("captured before the run")

    monkeypatch.setattr(Runner, "prepare", prepare)
    return seen


@pytest.mark.parametrize("name", list(ALTERNATIVES))
def test_an_api_parameter_of_the_same_name_sets_it(name, server, captured, content_path, style_path, style_b):
    """Through HTTP, as a client sends it: the endpoint's parameter of that name reaches the run's settings
    (a parameter dropped from an endpoint's signature, or wired to another setting, fails here)."""
    alternative = ALTERNATIVES[name]
    base = {"backbone": "vgg19", **RUN, **alternative.base, **(alternative.api_base or {})}
    value = alternative.api_value or alternative.value
    method = next(m for m in METHODS.values() if m.request is StylizeRequest and name in m.parameters())
    values = {
        "content": upload(server, content_path),
        "style": upload(server, style_path),
        **base,
        name: value,
    }
    if alternative.styles == 2:
        values["extra_styles"] = [upload(server, style_b)]
    event, data = raw_call(server, method.name, values)
    assert event == "error" and "captured before the run" in str(data), (event, data)
    settings = captured[-1].settings
    assert getattr(settings, name) == getattr(Settings.from_dict({**base, name: value}), name)
    assert getattr(settings, name) != getattr(method.settings(base), name)


#: What the tests' server (a CPU, the default limits: NST_MAX_SIZE 1024, NST_MAX_STEPS 2000) takes.
SERVER_RANGES = {
    "size": "32–1024",
    "width": "16–1024",
    "height": "16–1024",
    "max_size": "16–1024",
    "steps": "1–2000",
    "tile_size": "256–1024",
}


def test_every_endpoint_lists_its_methods_parameters_described_by_the_package(server):
    """/info, as a client reads it: each method's endpoint takes exactly the method's parameters, in order,
    each described by the package's own help (no word of links) and, where the server bounds it, the range
    it takes there; together they take every setting."""
    info = httpx.get(f"{server}gradio_api/info", timeout=30).json()["named_endpoints"]
    taken: set[str] = set()
    for method in METHODS.values():
        helps = {**{i.name: i.help for i in fields_info()}, **{i.name: i.help for i in method.inputs()}}
        params = info[f"/{method.name}"]["parameters"]
        assert [p["parameter_name"] for p in params] == method.parameters(), method.name
        for p in params:
            name, description = p["parameter_name"], p["python_type"]["description"]
            on_server = SERVER_RANGES.get(name)
            wanted = f"{helps[name]} ({on_server} on this server)" if on_server else helps[name]
            assert description == wanted and helps[name], (method.name, name, description)
            assert "URL" not in description and "http" not in str(p.get("example_input")), p
        taken.update(method.parameters())
    assert {i.name for i in fields_info()} <= taken


def run(settings: Settings, content_path, styles) -> tuple[np.ndarray, list[str]]:
    result = nst.stylize(content_path, styles, settings)
    return np.asarray(result.image, float), result.notes


@pytest.mark.parametrize("name", list(ALTERNATIVES))
def test_changing_it_changes_the_run(
    name, vgg19_env, vgg16_file, monkeypatch, content_path, style_path, style_b
):
    monkeypatch.setenv("NST_VGG16_WEIGHTS", str(vgg16_file))
    alternative = ALTERNATIVES[name]
    base = {**RUN, "backbone": "vgg19", **alternative.base}
    styles = [style_path, style_b][: alternative.styles]
    content = alternative.content or content_path
    before, notes_before = run(Settings.from_dict(base), content, styles)
    after, notes_after = run(expected(name, alternative, base), content, styles)
    changed = (
        before.shape != after.shape or notes_before != notes_after or np.abs(before - after).mean() > 0.05
    )
    assert changed, f"{name}={alternative.value} left the picture, its size and its notes as they were"
