"""A video from the command line, the API and the page: the same run by the same names, and every hostile file
refused with its own sentence before any work (no VGG weights are set where a refusal is expected: a refusal
that came only after the work started would be the weights message instead)."""

from __future__ import annotations

import re
import time
from fractions import Fraction

import pytest

from nst import clips
from nst.cli import main
from support.clips import hostile_videos, pan_frames, read_back, write_clip
from support.page import START, drive

gradio_client = pytest.importorskip("gradio_client")
from gradio_client import handle_file  # noqa: E402
from gradio_client.exceptions import AppError  # noqa: E402

TINY = ["--size", "32", "--steps", "4", "--frame-steps", "2", "--style-layers", "conv1_1,conv2_1"]
TINY_API = dict(size=32, steps=4, scales=1, frame_steps=2, style_layers="conv1_1,conv2_1")


@pytest.fixture
def clip(tmp_path):
    return write_clip(tmp_path / "pan.mp4", frames=4, width=40, height=32, pictures=pan_frames(4, 40, 32))


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    return hostile_videos(tmp_path_factory.mktemp("hostile"))


def refusal(capsys, *args: str) -> str:
    code = main(list(args))
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and err.startswith("error: "), (code, err)
    return err


# ----------------------------------------------------------------------------- the command line


def test_the_cli_writes_the_video_with_its_rate_and_sound(vgg19_env, clip, style_path, tmp_path, capsys):
    out = tmp_path / "out.mp4"
    assert main(["video", str(clip), str(style_path), "-o", str(out), *TINY, "--max-frames", "3"]) == 0
    frames, rate, sound = read_back(out)
    assert len(frames) == 3 and rate == Fraction(30000, 1001) and sound is not None and sound < 3 / rate + 0.1
    report = capsys.readouterr()
    assert f"wrote {out} (3 frames, 32x26" in report.out
    assert "note: max_frames: repainted the first 3 of 4 frames" in report.err


def test_the_cli_takes_a_method_and_a_painter(painter, clip, tmp_path, capsys):
    out = tmp_path / "out.mp4"
    assert main(["video", str(clip), "--method", "cyclegan", "--painter", painter, "-o", str(out)]) == 0
    assert len(read_back(out)[0]) == 4
    capsys.readouterr()
    assert "a CycleGAN painter takes no style image" in refusal(
        capsys, "video", str(clip), str(out), "--method", "cyclegan", "-o", str(tmp_path / "b.mp4")
    )
    assert "these go with --method cyclegan" in refusal(
        capsys, "video", str(clip), str(out), "--painter", painter, "-o", str(tmp_path / "b.mp4")
    )
    assert (
        "the histogram method does not take"
        not in refusal(  # the method's own settings, by name
            capsys,
            "video",
            str(clip),
            str(out),
            "--method",
            "histogram",
            "--photo-weight",
            "5",
            "-o",
            "x.mp4",
        ).lower()
    )


def test_the_cli_refuses_each_hostile_video_in_one_sentence_fast(hostile, style_path, tmp_path, capsys):
    for bad in hostile:
        start = time.perf_counter()
        err = refusal(capsys, "video", str(bad.path), str(style_path), "-o", str(tmp_path / "out.mp4"))
        assert bad.words in err and time.perf_counter() - start < 5, (bad.name, err)
    assert not (tmp_path / "out.mp4").exists()


def test_the_cli_refuses_thousands_of_frames_before_decoding(style_path, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(clips, "MAX_FRAMES", 50)
    long = write_clip(tmp_path / "long.mp4", frames=60, width=16, height=16, fps=Fraction(25), sound=None)
    err = refusal(capsys, "video", str(long), str(style_path), "-o", str(tmp_path / "out.mp4"))
    assert "has 60 frames, more than the 50 a video may have; trim it" in err


def test_the_cli_refuses_bad_video_options_by_name(clip, style_path, tmp_path, capsys):
    out = str(tmp_path / "out.mp4")
    for flags, words in (
        (["--temporal-weight", "-1"], "temporal_weight: must not be negative"),
        (["--max-frames", "-1"], "max_frames: must be between 0 and 10000"),
        (["--flow", "raft"], "flow: 'raft' is not one of dis, farneback"),
        (["--frame-steps", "400"], "frame_steps: must be between 0 and 300"),
    ):
        assert words in refusal(capsys, "video", str(clip), str(style_path), "-o", out, *flags)
    assert "use one of .mp4" in refusal(
        capsys, "video", str(clip), str(style_path), "-o", str(tmp_path / "o.gif")
    )


# ----------------------------------------------------------------------------- the API


def test_the_api_streams_frames_and_ends_with_the_video(client, vgg19_env, clip, style_path):
    job = client.submit(handle_file(clip), "gatys", handle_file(style_path), **TINY_API, api_name="/video")
    outputs = job.outputs()
    frame, video, info = job.result()
    assert info["done"] and info["frames_written"] == 4 and info["frames"] == 4
    assert 4 + 3 <= info["steps"] <= 4 + 3 * 2 and info["fps"] == pytest.approx(30000 / 1001)
    frames, rate, sound = read_back(video["video"] if isinstance(video, dict) else video)
    assert len(frames) == 4 and rate == Fraction(30000, 1001) and sound is not None
    assert any(o[0] is not None and o[1] is None for o in outputs[:-1]), "frames are shown as they finish"
    assert frame is not None


def test_a_stop_through_the_api_keeps_the_frames_done(client, vgg19_env, style_path, tmp_path):
    """/stop mid-video: the answer is a playable video of the frames done, the last one as far as it got,
    with the sound cut to match."""
    clip = write_clip(tmp_path / "long.mp4", frames=40, width=40, height=32, pictures=pan_frames(40, 40, 32))
    job = client.submit(
        handle_file(clip),
        "gatys",
        handle_file(style_path),
        **{**TINY_API, "frame_steps": 200, "steps": 200},
        api_name="/video",
    )
    deadline = time.monotonic() + 60
    while not any(o[2].get("frame", 0) >= 2 for o in job.outputs()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert client.predict(api_name="/stop") is True
    _, video, info = job.result(timeout=60)
    assert info["state"] == "stopped" and info["stopped"] and 2 <= info["frames_written"] < 40
    frames, rate, sound = read_back(video["video"] if isinstance(video, dict) else video)
    assert len(frames) == info["frames_written"] and sound is not None and sound < len(frames) / rate + 0.1


def test_the_api_refuses_each_hostile_video_with_its_sentence(client, hostile, style_path):
    for bad in hostile:
        start = time.perf_counter()
        with pytest.raises(AppError, match=re.escape(bad.words)):
            client.predict(handle_file(bad.path), "gatys", handle_file(style_path), api_name="/video")
        assert time.perf_counter() - start < 10, bad.name


def test_the_api_refuses_a_video_longer_than_the_servers_time(client, vgg19_env, style_path, tmp_path):
    """Thousands of frames: the time model's numbers and what to lower, before any work."""
    long = write_clip(tmp_path / "long.mp4", frames=3000, width=16, height=16, fps=Fraction(25), sound=None)
    with pytest.raises(
        AppError, match=r"video: 3000 frames at 256x256 px with 13 steps a frame would take about"
    ):
        client.predict(handle_file(long), "gatys", handle_file(style_path), api_name="/video")


def test_the_api_refuses_a_texture_video(client, clip, style_path):
    with pytest.raises(AppError, match="a texture has no photo to follow"):
        client.predict(handle_file(clip), "texture", handle_file(style_path), api_name="/video")


# ----------------------------------------------------------------------------- the page


def test_the_video_tab_makes_the_video_with_the_pages_controls(app_module, vgg19_env, clip, style_path):
    from nst.ui.page import Page

    page = Page(app_module.RUNNER, app_module.CONFIG, app_module.CACHE, {name: None for name in START})
    controls = {
        **START,
        "medium": "video",
        "video": str(clip),
        "style": str(style_path),
        "size": 32,
        "steps": 4,
        "frame_steps": 2,
        "style_layers": "conv1_1,conv2_1",
    }

    updates = drive(page, controls)
    statuses = [u[4] for u in updates if isinstance(u[4], str)]
    assert any(s.startswith("Frame 2 of 4 · step") for s in statuses), statuses
    last = updates[-1]
    assert last[4].startswith("Done: 4 frames at 32×26 px"), last[4]
    video = last[6]["value"]
    assert video.endswith(".mp4") and len(read_back(video)[0]) == 4 and last[3]["value"] == video
