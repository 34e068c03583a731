"""The video engine on a random-weight VGG19 and tiny clips: the whole path (decode, flow, warm start,
temporal loss, encode with sound), the temporal term against an independent computation, stopping,
painters frame by frame, and the refusals before any work."""

from __future__ import annotations

import math
import threading
from fractions import Fraction

import numpy as np
import pytest
import torch

import nst
from nst import video as video_module
from nst.errors import ImageError, SettingsError, Stopped
from nst.flow import warp
from nst.requests import Limits, PaintRequest, StylizeRequest, TextureRequest
from nst.settings import Settings
from nst.temporal import TemporalLoss
from support.clips import pan_frames, read_back, write_clip

FAST = dict(size=32, steps=8, style_layers=("conv1_1", "conv2_1", "conv3_1"), content_layers=("conv3_1",))


@pytest.fixture
def clip(tmp_path):
    """Six 40x32 frames of a camera panning 2 px a frame to the right, at 30000/1001 fps, with sound."""
    return write_clip(tmp_path / "pan.mp4", frames=6, width=40, height=32, pictures=pan_frames(6, 40, 32))


def flicker(frames: list[np.ndarray], shift: float = 1.6) -> float:
    """Mean change between a frame and the previous one carried along the true motion (``shift`` px to the
    left at the frames' size), inside a border band."""
    tensors = [torch.from_numpy(f).permute(2, 0, 1)[None].float() for f in frames]
    flow = torch.zeros(*tensors[0].shape[-2:], 2)
    flow[..., 0] = shift
    diffs = [(b - warp(a, flow))[..., 3:-3, 3:-5].abs().mean() for a, b in zip(tensors, tensors[1:])]
    return float(torch.stack(diffs).mean())


def test_the_temporal_term_is_the_papers_mean_over_reliable_pixels():
    gen = torch.Generator().manual_seed(0)
    x, warped = torch.rand(1, 3, 5, 7, generator=gen), torch.rand(1, 3, 5, 7, generator=gen)
    reliable = (torch.rand(5, 7, generator=gen) > 0.3).float()
    expected = sum(
        float(reliable[i, j]) * float((x[0, c, i, j] - warped[0, c, i, j]) ** 2)
        for c in range(3)
        for i in range(5)
        for j in range(7)
    ) / (3 * 5 * 7)
    assert TemporalLoss(warped, reliable)({}, x).item() == pytest.approx(expected, rel=1e-6)
    assert TemporalLoss(warped, reliable.numpy())({}, warped).item() == 0.0


def test_a_video_is_repainted_whole_with_its_rate_and_sound(
    vgg19_env, clip, style_path, tmp_path, monkeypatch
):
    monkeypatch.setattr(video_module, "SETTLED", 0.0)  # every later frame runs all its steps: counted exactly
    seen = []
    out = tmp_path / "out.mp4"
    result = nst.stylize_video(
        clip, style_path, out, Settings(**FAST), frame_steps=3, callback=lambda info: seen.append(info)
    )
    frames, rate, sound = read_back(out)
    assert result.frames == len(frames) == 6 and rate == Fraction(30000, 1001)
    assert frames[0].shape[:2] == (26, 32)  # 40x32 shrunk to size 32 (H.264 needs even sides)
    assert sound is not None and abs(sound - 6 / rate) < 0.1, sound
    assert result.steps == 8 + 5 * 3 and not result.stopped
    assert [i.step for i in seen] == list(range(1, 24)) and {i.total_steps for i in seen} == {23}
    assert [i.frame for i in seen] == [1] * 8 + [2, 2, 2, 3, 3, 3, 4, 4, 4, 5, 5, 5, 6, 6, 6]
    assert {i.frames for i in seen} == {6}
    later = [losses for losses in result.losses[8:]]
    assert all("temporal" in losses for losses in later) and "temporal" not in result.losses[0]
    # Each later frame starts exactly at the previous result carried along the flow: its first evaluation has
    # no temporal loss at all, and the optimization then moves away from it.
    assert [later[k]["temporal"] for k in (0, 3, 6, 9, 12)] == [0.0] * 5
    assert all(later[k]["temporal"] > 0 for k in (1, 2, 4, 5))


def test_the_warm_start_and_temporal_loss_steady_the_frames(vgg19_env, clip, style_path, tmp_path):
    """Each frame on its own (temporal_weight 0) flickers more than frames carried along the flow."""
    settings = Settings(**FAST, init="noise")
    steady = nst.stylize_video(clip, style_path, tmp_path / "a.mp4", settings, frame_steps=4)
    alone = nst.stylize_video(clip, style_path, tmp_path / "b.mp4", settings, temporal_weight=0)
    assert alone.steps == 6 * 8 and 8 + 5 <= steady.steps <= 8 + 5 * 4
    a, b = read_back(tmp_path / "a.mp4")[0], read_back(tmp_path / "b.mp4")[0]
    assert flicker(a) < 0.5 * flicker(b), (flicker(a), flicker(b))


def test_a_still_shot_does_not_drift(vgg19_env, style_path, tmp_path):
    """Nothing moves: every later frame is the previous result carried over, already as good as the first
    frame, so it settles at its first step instead of optimizing on (the picture would keep changing)."""
    still = write_clip(
        tmp_path / "still.mp4", frames=8, width=40, height=32, pictures=pan_frames(8, 40, 32, speed=0)
    )
    result = nst.stylize_video(still, style_path, tmp_path / "o.mp4", Settings(**FAST), frame_steps=6)
    assert result.steps == 8 + 7 * 1, "one evaluated step a frame"
    frames = read_back(tmp_path / "o.mp4")[0]
    first = frames[0].astype(float)
    assert max(np.abs(f.astype(float) - first).mean() for f in frames[1:]) < 1.0  # H.264's rounding only


def test_the_previous_frame_is_carried_along_the_flow(vgg19_env, clip, style_path, tmp_path, monkeypatch):
    """Frame 2 starts from frame 1's result warped by the flow from frame 2 back to frame 1."""
    starts = []
    original = StylizeRequest.run

    def spy(self, *args, **kwargs):
        starts.append(kwargs.get("start"))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(StylizeRequest, "run", spy)
    modes = []
    monkeypatch.setattr(video_module, "warp", lambda *a: modes.append(a[2:]) or warp(*a))
    result = nst.stylize_video(
        clip, style_path, tmp_path / "o.mp4", Settings(**FAST), max_frames=2, frame_steps=1
    )
    assert starts[0] is None and starts[1] is not None and result.frames == 2
    assert modes == [("bicubic",)], "carried with bicubic sampling: bilinear blurs a little more every frame"
    frames = read_back(tmp_path / "o.mp4")[0]
    first = torch.from_numpy(frames[0]).permute(2, 0, 1)[None].float() / 255
    flow = np.zeros((26, 32, 2), np.float32)
    flow[..., 0] = (
        1.6  # the camera moves 2 px right at 40 px wide, 1.6 px at 32: frame 2's p is frame 1's p + 1.6
    )
    expected = warp(first, flow, "bicubic")
    assert (starts[1][..., 4:-4, 4:-4] - expected[..., 4:-4, 4:-4]).abs().mean() < 0.06


def test_a_stop_keeps_the_frames_done_as_a_playable_video(vgg19_env, clip, style_path, tmp_path):
    out = tmp_path / "out.mp4"
    result = nst.stylize_video(
        clip, style_path, out, Settings(**FAST), frame_steps=3, callback=lambda info: info.frame == 3
    )
    frames, rate, sound = read_back(out)
    assert result.stopped and result.frames == len(frames) == 3
    assert sound is not None and sound < 3 / rate + 0.1


def test_a_stop_before_the_first_step_writes_nothing(vgg19_env, clip, style_path, tmp_path):
    stop = threading.Event()
    stop.set()
    with pytest.raises(Stopped):
        nst.stylize_video(clip, style_path, tmp_path / "out.mp4", Settings(**FAST), stop=stop)
    assert not (tmp_path / "out.mp4").exists()


def test_colour_preservation_and_blends_run_per_frame(vgg19_env, clip, style_path, style_b, tmp_path):
    result = nst.stylize_video(
        clip,
        [style_path, style_b],
        tmp_path / "out.mp4",
        Settings(**FAST, preserve_color="luminance", style_blend=(1, 1)),
        max_frames=3,
        frame_steps=2,
    )
    assert result.frames == 3 and result.image.size == (32, 26)


def test_painters_paint_every_frame(painter, clip, tmp_path):
    seen = []
    result = nst.stylize_video(
        clip, output=tmp_path / "out.mp4", painter=painter, strength=0.5, callback=lambda i: seen.append(i)
    )
    frames, _, _ = read_back(tmp_path / "out.mp4")
    assert result.frames == len(frames) == 6 and frames[0].shape[:2] == (32, 40)
    assert [i.frame for i in seen] == [1, 2, 3, 4, 5, 6] and [i.step for i in seen] == [1, 2, 3, 4, 5, 6]


def test_refusals_before_any_work(vgg19_env, clip, style_path, tmp_path):
    def request(**changes):
        base = dict(
            video=clip, frame=StylizeRequest(None, style_path, Settings(**FAST)), output=tmp_path / "o.mp4"
        )
        return video_module.VideoRequest(**{**base, **changes})

    cases = [
        (dict(frame=TextureRequest(style_path, 32, 32)), "a texture"),
        (dict(output=tmp_path / "o.png"), "use one of .mp4"),
        (dict(output=clip), "one of the input images"),
        (dict(output=None), "say where the video goes"),
        (dict(temporal_weight=-1), "temporal_weight"),
        (dict(max_frames=-1), "max_frames"),
        (dict(frame_steps=9), "frame_steps"),
        (dict(flow="raft"), "flow"),
        (dict(video=None), "video: no image was given"),
    ]
    for changes, words in cases:
        with pytest.raises((SettingsError, ImageError), match=words):
            request(**changes).prepare()
    assert not (tmp_path / "o.mp4").exists()


def test_a_video_too_long_for_the_server_is_refused_with_the_numbers(vgg19_env, clip, style_path, tmp_path):
    frame = StylizeRequest(None, style_path, Settings(**FAST))
    request = video_module.VideoRequest(clip, frame, tmp_path / "o.mp4", frame_steps=4)
    seconds = video_module.estimate_seconds(
        frame, video_module._frame_canvas(frame, nst.clips.probe(clip)), 6, 4, torch.device("cpu")
    )
    fits = request.prepare(Limits(max_video_seconds=seconds + 0.01))
    assert fits.plan.frames == 6
    with pytest.raises(
        SettingsError,
        match=r"^video: 6 frames at 32x26 px with 4 steps a frame would take about .* min here, over this "
        r"server's limit of .* min; set max_frames to at most [1-5], or lower frame_steps or size$",
    ):
        video_module.VideoRequest(clip, frame, tmp_path / "o.mp4", frame_steps=4).prepare(
            Limits(max_video_seconds=seconds * 0.6)
        )


def test_the_time_model_grows_with_frames_steps_and_pixels():
    frame = StylizeRequest(None, None, Settings(steps=30))
    cpu = torch.device("cpu")
    canvas = nst.Canvas(256, 256)
    one = video_module.estimate_seconds(frame, canvas, 1, 10, cpu)
    assert one == pytest.approx(30 * video_module.CPU_STEP_SECONDS + video_module.FRAME_SECONDS)
    assert video_module.estimate_seconds(frame, canvas, 11, 10, cpu) == pytest.approx(
        one + 10 * (10 * video_module.CPU_STEP_SECONDS + video_module.FRAME_SECONDS)
    )
    assert video_module.estimate_seconds(frame, nst.Canvas(512, 512), 1, 10, cpu) == pytest.approx(4 * one)
    paint = PaintRequest(None)
    assert video_module.estimate_seconds(paint, canvas, 10, 0, cpu) == pytest.approx(
        10 * (video_module.CPU_PAINT_SECONDS + video_module.FRAME_SECONDS)
    )


def test_zerogpu_is_asked_for_twice_the_estimate_and_loading(vgg19_env, clip, style_path, tmp_path):
    request = video_module.VideoRequest(
        clip, StylizeRequest(None, style_path, Settings(**FAST)), tmp_path / "o.mp4", frame_steps=4
    ).prepare()
    assert request.gpu_seconds() == min(600, math.ceil(20 + 2 * request.plan.seconds))
    assert request.plan.seconds == pytest.approx(
        video_module.estimate_seconds(request.frame, request.plan.canvas, 6, 4, torch.device("cpu"))
    )


def test_the_file_is_probed_once(vgg19_env, clip, style_path, tmp_path, monkeypatch):
    """prepare() probes the video; the first frame and the run's frames are read on that probe's word (a
    file that declares no frame count is counted packet by packet)."""
    probed = []
    probe = nst.clips.probe
    monkeypatch.setattr(nst.clips, "probe", lambda source: probed.append(source) or probe(source))
    result = nst.stylize_video(clip, style_path, tmp_path / "o.mp4", Settings(**FAST), max_frames=2)
    assert result.frames == 2 and probed == [clip]
