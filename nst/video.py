"""A video repainted frame by frame without flicker (Ruder, Dosovitskiy, Brox, "Artistic style transfer
for videos", GCPR 2016).

Styled on its own, each frame lands in a different minimum of the optimization and the video flickers.
Here the first frame is made like a picture (its request's whole schedule); every later frame starts
from the previous result carried along the optical flow (:mod:`nst.flow`), runs at most ``frame_steps``
steps at the final size only (it stops once its loss is back at the first frame's: ``SETTLED``), and a
temporal loss (:mod:`nst.temporal`, ``temporal_weight``) holds it to that
warped picture wherever the flow is reliable (not occluded, not on a motion boundary). CycleGAN painters
paint each frame in one pass: a deterministic network has no minimum to land in differently.

A :class:`VideoRequest` is a video and what each frame is: a :class:`~nst.requests.StylizeRequest`
(any optimization method, its settings, styles, blend and masks) or a
:class:`~nst.requests.PaintRequest`. ``prepare()`` checks everything before any work: the file by its
declared numbers (:func:`nst.clips.probe`), the frame's request on the first frame alone, and the run's
duration by the time model below against a server's limit, refused with the numbers and what to lower.
Frames are decoded as they are needed and written as they finish (:mod:`nst.clips`), so a stop leaves
a playable video of the frames done, its sound cut to match.
"""

from __future__ import annotations

import dataclasses
import math
import os
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, ClassVar

import torch
from PIL import Image

from . import clips, cyclegan, inputs
from .checks import as_choice, as_float, as_int
from .devices import pick_device
from .engine import PhaseCallback, StepCallback, StepInfo, StyleResult, plan_scales
from .errors import ImageError, SettingsError, Stopped
from .faces import find_faces
from .flow import DEFAULT_FLOW, FLOW_METHODS, optical_flow, reliable, warp
from .geometry import Canvas
from .images import ImageSource, check_save_path, image_to_tensor, resize_to
from .inputs import FRAME_METHODS, Input
from .requests import Limits, PaintRequest, Plan, StylizeRequest, _given, _Prepared, _several
from .settings import Settings
from .targets import check_stop
from .temporal import DEFAULT_TEMPORAL_WEIGHT, MAX_TEMPORAL_WEIGHT, TemporalLoss

#: Every setting's name (a front end's None for one means its method's default).
SETTING_NAMES = frozenset(f.name for f in dataclasses.fields(Settings))
#: A later frame stops before ``frame_steps`` once its loss without the temporal term is within this factor
#: of the first frame's (checked from its first step, the previous result carried into it): what it has
#: to do is repair what the motion changed, not go on improving the picture. Without it a still shot kept
#: optimizing frame after frame, 13 steps more each, and its style distance fell to 0.78 of the first
#: frame's in 60 frames (2.3 levels of 255 apart on average; benchmarks/results/video-cpu.md).
SETTLED = 1.02
#: How the previous result is carried into the next frame. Bilinear sampling of a sub-pixel shift is a
#: blur, and it compounds frame after frame: on a 12-frame pan at 192 px (Starry Night, the page's CPU
#: schedule) the last frame's mean gradient fell from 31.6 to 21.9 and its style distance rose from 0.159
#: to 0.251 (+58 %); bicubic kept 30.9 and 0.186.
CARRY = "bicubic"
#: What a video is written as.
VIDEO_FORMATS = {".mp4": "mp4"}
#: frame_steps when none is given, as a share of ``steps``: the later frames start next to their
#: answer (benchmarks/results/video-cpu.md).
FRAME_STEPS_SHARE = 1 / 3
#: The time model (seconds). One optimization step, per 256 x 256 pixels, VGG19: on a CPU about the fp32
#: cost on two cores of an AVX-512 Xeon (a VGG19 pass and its gradient to relu5_1: 0.3 s fp32, 0.08 s
#: bf16 with AMX), so a CPU Space without AMX is not under-counted; on a GPU 15 ms per 512 x 512
#: (:func:`nst.requests.gpu_seconds`). Checked on whole clips: runs took 0.59-0.87 of the model at the
#: page's CPU schedule with VGG16 and bf16 (benchmarks/results/video-cpu.md).
CPU_STEP_SECONDS = 0.25
GPU_STEP_SECONDS = 0.015 / 4
#: One CycleGAN frame per 256 x 256 pixels (measured 1.5 s at 512 px on the same CPU: 0.37).
CPU_PAINT_SECONDS = 0.5
GPU_PAINT_SECONDS = 0.01
#: The longest ZeroGPU duration asked for, as for a picture (:func:`nst.requests.gpu_seconds`).
MAX_GPU_SECONDS = 600
#: Per frame: decoding, the two optical flows at 256 px, encoding (measured about 20 ms on the CPU).
FRAME_SECONDS = 0.05


@dataclass(frozen=True)
class VideoPlan:
    """What ``prepare()`` worked out."""

    clip: clips.ClipInfo
    frames: int  #: frames this run repaints
    first: StylizeRequest | PaintRequest  #: the first frame's prepared request
    seconds: float  #: the time model's estimate of the whole run on this device

    @property
    def canvas(self) -> Canvas:
        return self.first.plan.scales[-1].canvas  # type: ignore[union-attr]


@dataclass
class VideoResult(StyleResult):
    """The repainted video (``video``, an MP4) and how it was made; ``image`` is its last frame."""

    video: Path | None = None
    frames: int = 0  #: frames written (fewer than asked when stopped)
    fps: Fraction = Fraction(0)
    original: Image.Image | None = None  #: the last frame as it was, at the result's size (a before/after)


def _step_seconds(canvas: Canvas, backbone: str, device: torch.device) -> float:
    per = GPU_STEP_SECONDS if device.type == "cuda" else CPU_STEP_SECONDS
    return per * canvas.pixels / 256**2 * (0.75 if backbone == "vgg16" else 1.0)


def estimate_seconds(
    frame: StylizeRequest | PaintRequest, canvas: Canvas, frames: int, frame_steps: int, device: torch.device
) -> float:
    """How long the run takes by the time model (the constants above): the first frame's whole schedule
    (its coarse scales counted at the final size), then ``frame_steps`` for each later frame."""
    if isinstance(frame, PaintRequest):
        per = GPU_PAINT_SECONDS if device.type == "cuda" else CPU_PAINT_SECONDS
        work = canvas.pixels / float(frame.brush_scale) ** 2 / 256**2 * per * frames
    else:
        settings = frame.settings
        steps = settings.steps + (frames - 1) * frame_steps
        work = steps * _step_seconds(canvas, settings.backbone, device)
    return work + frames * FRAME_SECONDS * max(1.0, canvas.pixels / 256**2)


def _frame_canvas(frame: StylizeRequest | PaintRequest, clip: clips.ClipInfo) -> Canvas:
    """The size the frames are repainted at, from the declared size (before any decoding)."""
    declared = Canvas(clip.width, clip.height)
    if isinstance(frame, PaintRequest):
        return (
            declared
            if frame.max_size is None or declared.size <= frame.max_size
            else declared.fit(frame.max_size)
        )
    return declared.fit(frame.settings.size)


def _too_long(
    seconds: float, limit: float, frames: int, canvas: Canvas, frame_steps: int, per_frame: float
) -> str:
    fits = max(1, int((limit - (seconds - per_frame * frames)) // per_frame)) if per_frame > 0 else frames
    steps = f" with {frame_steps} steps a frame" if frame_steps else ""
    return (
        f"video: {frames} frames at {canvas.width}x{canvas.height} px{steps} would take about "
        f"{seconds / 60:.1f} min here, over this server's limit of {limit / 60:.1f} min; set max_frames to at "
        f"most {min(fits, frames - 1)}, or lower frame_steps or size"
    )


@dataclass(frozen=True)
class VideoRequest(_Prepared):
    """A video repainted without flicker: ``frame`` says what each frame is (its method, styles or painter,
    settings; its content is ignored), ``output`` where the MP4 goes. ``temporal_weight`` holds each frame
    to the previous one carried along the motion (0: each frame on its own), ``frame_steps`` are the
    most steps of every frame after the first (None or 0: a third of ``steps``), ``max_frames`` the frames
    repainted from the start (None or 0: all), ``flow`` the optical flow method."""

    video: ImageSource | None
    frame: Any
    output: str | os.PathLike | None = None
    temporal_weight: float = DEFAULT_TEMPORAL_WEIGHT
    frame_steps: int | None = None
    max_frames: int | None = None
    flow: str = DEFAULT_FLOW
    plan: VideoPlan | None = field(default=None, init=False, repr=False, compare=False)

    INPUTS: ClassVar[tuple[Input, ...]] = inputs.VIDEO

    @property
    def steps(self) -> int:
        """Steps of the whole run (a painted frame counts as one)."""
        plan = self.prepare().plan
        if isinstance(plan.first, PaintRequest):
            return plan.frames
        return plan.first.settings.steps + (plan.frames - 1) * self.frame_steps  # type: ignore[operator]

    @property
    def compare_with(self) -> Any:
        """The picture a result is shown beside: the first frame."""
        return self.prepare().plan.first.content

    def _check_frame(self) -> StylizeRequest | PaintRequest:
        if isinstance(self.frame, (StylizeRequest, PaintRequest)):
            return self.frame
        raise SettingsError(
            "video: each frame is repainted from its own picture, so a texture (which has none) cannot "
            f"make a video; choose one of {', '.join(FRAME_METHODS)}"
        )

    def prepare(self, limits: Limits = Limits()) -> VideoRequest:
        """Check everything (see the module docstring), then decode the first frame only and prepare it."""
        if self.prepared:
            return self
        _given(self.video, "video")
        frame = self._check_frame()
        if self.output is None:
            raise SettingsError("output: say where the video goes (a file name ending in .mp4)")
        sources = [*frame.styles, *_several(frame.masks)] if isinstance(frame, StylizeRequest) else []
        check_save_path(self.output, [self.video, *sources], VIDEO_FORMATS)  # never over one of its inputs
        temporal_weight = as_float(self.temporal_weight, "temporal_weight", 0.0, MAX_TEMPORAL_WEIGHT)
        flow_method = as_choice(self.flow, "flow", FLOW_METHODS)
        max_frames = (  # 0, as an empty number box sends it: all
            None if self.max_frames is None else as_int(self.max_frames, "max_frames", 0, clips.MAX_FRAMES)
        )
        frame_steps = 0
        if isinstance(frame, StylizeRequest):
            steps = frame.settings.steps
            given = 0 if self.frame_steps is None else as_int(self.frame_steps, "frame_steps", 0, steps)
            frame_steps = given or max(1, round(steps * FRAME_STEPS_SHARE))
            if not temporal_weight:  # every frame on its own: each gets the first frame's whole schedule
                frame_steps = steps
        clip = clips.probe(self.video)  # type: ignore[arg-type]
        frames = min(clip.frames, max_frames or clip.frames)
        canvas = _frame_canvas(frame, clip)
        device = pick_device(frame.device)
        if isinstance(frame, PaintRequest):
            cyclegan.check_options(frame.strength, frame.brush_scale, frame.tile_size)
        seconds = estimate_seconds(frame, canvas, frames, frame_steps, device)
        if limits.max_video_seconds is not None and seconds > limits.max_video_seconds:
            per_frame = estimate_seconds(frame, canvas, 2, frame_steps, device) - estimate_seconds(
                frame, canvas, 1, frame_steps, device
            )
            raise SettingsError(
                _too_long(seconds, limits.max_video_seconds, frames, canvas, frame_steps, per_frame)
            )
        read = clips.read_frames(self.video, _read_size(frame), limit=1, clip=clip)  # type: ignore[arg-type]
        try:
            first_image = next(read)
        except StopIteration:
            raise ImageError("video: no frame of the file could be decoded; upload another video") from None
        finally:
            read.close()
        first = dataclasses.replace(frame, content=first_image).prepare(limits)
        return self._with(
            VideoPlan(clip, frames, first, seconds),
            temporal_weight=temporal_weight,
            frame_steps=frame_steps,
            max_frames=max_frames,
            flow=flow_method,
        )

    def gpu_seconds(self) -> int:
        """ZeroGPU's ``duration`` for this run: the time model's estimate twice over, plus loading."""
        return int(min(MAX_GPU_SECONDS, math.ceil(20 + 2 * self.prepare().plan.seconds)))

    def run(
        self,
        on_step: StepCallback | None = None,
        stop: threading.Event | None = None,
        *,
        on_phase: PhaseCallback | None = None,
        image_every: int = 25,
    ) -> VideoResult:
        """The video (preparing the request first when needed). ``on_step`` sees every step with its frame
        (``StepInfo.frame``) and the steps counted over the whole video, and the image of each frame as it
        finishes; it may stop the run by returning True, as may ``stop``. A stop before the first frame's
        first step raises :class:`~nst.errors.Stopped` and writes nothing; later, the frames done so far
        (the last one as far as it got) are the video."""
        request = self.prepare()
        plan: VideoPlan = request.plan  # type: ignore[assignment]
        began = time.perf_counter()
        writer = clips.ClipWriter(request.output, plan.clip.fps, audio_from=request.video)  # type: ignore[arg-type]
        try:
            with writer:
                last, losses, stopped, done, original = request._frames(
                    writer, on_step, stop, on_phase, image_every
                )
        except BaseException:
            if writer.frames == 0:  # nothing to play: no file rather than an empty one
                Path(request.output).unlink(missing_ok=True)  # type: ignore[arg-type]
            raise
        return VideoResult(
            image=last.image,
            settings=last.settings,
            losses=losses,
            seconds=time.perf_counter() - began,
            steps=done,
            stopped=stopped,
            device=last.device,
            notes=_notes(plan),
            video=Path(request.output),  # type: ignore[arg-type]
            frames=writer.frames,
            fps=plan.clip.fps,
            original=original,
        )

    def _frames(
        self,
        writer: clips.ClipWriter,
        on_step: StepCallback | None,
        stop: threading.Event | None,
        on_phase: PhaseCallback | None,
        image_every: int,
    ) -> tuple[StyleResult, list[dict[str, float]], bool, int, Image.Image]:
        """Every frame decoded, repainted and written in turn: (the last frame's result, every step's
        losses, whether the run was stopped, the steps run, the last frame as it was)."""
        plan: VideoPlan = self.plan  # type: ignore[assignment]
        total, done = self.steps, 0
        losses: list[dict[str, float]] = []
        last: StyleResult | None = None
        previous: tuple[Image.Image, torch.Tensor] | None = None
        level = math.inf  #: the first frame's loss, which every later frame is brought back to
        size = _read_size(plan.first)
        frames = clips.read_frames(self.video, size, limit=plan.frames, clip=plan.clip)  # type: ignore[arg-type]
        try:
            for k, image in enumerate(frames):
                picture = resize_to(image, plan.canvas)
                counted = _counting(on_step, done, total, k + 1, plan.frames)
                try:
                    check_stop(stop)
                    result, settled = self._frame_result(
                        k, picture, previous, level, counted, stop, on_phase, image_every
                    )
                except Stopped:
                    if last is None:
                        raise
                    return last, losses, True, done, previous[0]  # type: ignore[index]
                writer.write(result.image)
                losses += result.losses
                done += max(1, result.steps)
                last, previous = result, (picture, image_to_tensor(result.image))
                level = picture_loss(result.losses[-1]) if k == 0 and result.losses else level
                if result.stopped and not settled:
                    return last, losses, True, done, previous[0]  # type: ignore[index]
        finally:
            frames.close()
        assert last is not None
        return last, losses, False, done, previous[0]  # type: ignore[index]

    def _frame_result(
        self,
        k: int,
        picture: Image.Image,
        previous: tuple[Image.Image, torch.Tensor] | None,
        level: float,
        on_step: StepCallback | None,
        stop: threading.Event | None,
        on_phase: PhaseCallback | None,
        image_every: int,
    ) -> tuple[StyleResult, bool]:
        """Frame ``k`` (0-based) repainted, and whether it settled before its last step: the first as its
        request makes a picture; a later one painted, or optimized from the previous result warped into it
        with the temporal loss, until its loss is back at the first frame's ``level`` (``SETTLED``)."""
        first: StylizeRequest | PaintRequest = self.plan.first  # type: ignore[union-attr]
        if isinstance(first, PaintRequest):
            request = first if k == 0 else first._with(first.plan, content=cyclegan.load_photo(picture, None))
            result = request.run(stop=stop, on_phase=on_phase if k == 0 else None)
            if on_step is not None:
                on_step(StepInfo(1, 1, 0, 1, Canvas.of(result.image), {}, image_to_tensor(result.image)))
            return result, False
        if k == 0:
            return first.run(on_step, stop, on_phase=on_phase, image_every=image_every), False
        if previous is None or not self.temporal_weight:  # each frame on its own, as the first
            alone = _next_frame(first, picture, first.settings)
            return alone.run(on_step, stop, image_every=image_every), False
        request = _next_frame(first, picture, first.settings.replace(steps=self.frame_steps, scales=1))
        before, carried = previous
        backward = optical_flow(picture, before, self.flow)
        forward = optical_flow(before, picture, self.flow)
        warped = request.engine_view(warp(carried, backward, CARRY).clamp_(0, 1))
        temporal = TemporalLoss(warped, reliable(backward, forward))
        settled: list[int] = []

        def until_settled(info: StepInfo) -> bool | None:
            if on_step is not None and on_step(info):
                return True
            if picture_loss(info.losses) <= SETTLED * level:
                settled.append(info.step)
                return True
            return None

        result = request.run(
            until_settled,
            stop,
            image_every=image_every,
            start=warped,
            more_terms=[(temporal, self.temporal_weight)],
        )
        return result, bool(settled) and not (stop is not None and stop.is_set())


def picture_loss(losses: Mapping[str, float]) -> float:
    """A step's loss without the temporal term: how good the picture is by the terms a picture has."""
    return losses["total"] - losses.get("temporal", 0.0)


def _read_size(frame: StylizeRequest | PaintRequest) -> int | None:
    """Frames are shrunk as they are decoded to the size they are repainted at (never enlarged there)."""
    return frame.max_size if isinstance(frame, PaintRequest) else frame.settings.size


def _next_frame(first: StylizeRequest, picture: Image.Image, settings: Settings) -> StylizeRequest:
    """A later frame's request: the first frame's styles, blend, masks and checks, its own photo and faces,
    and one scale of ``frame_steps``."""
    scales, notes = plan_scales(Canvas.of(picture), settings)
    faces = find_faces(picture) if settings.finds_faces else None
    plan = Plan(tuple(scales), tuple(notes), first.plan.regions, faces)  # type: ignore[union-attr]
    return first._with(plan, content=picture, settings=settings)


def _notes(plan: VideoPlan) -> list[str]:
    notes = list(plan.first.plan.notes)  # type: ignore[union-attr]
    if plan.frames < plan.clip.frames:
        notes.append(f"max_frames: repainted the first {plan.frames} of {plan.clip.frames} frames")
    return notes


def _counting(
    on_step: StepCallback | None, done: int, total: int, frame: int, frames: int
) -> StepCallback | None:
    """A frame's step callback, told the steps over the whole video and which frame this is."""
    if on_step is None:
        return None

    def counted(info: StepInfo) -> bool | None:
        info.step, info.total_steps, info.frame, info.frames = done + info.step, total, frame, frames
        return on_step(info)

    return counted


def video_request(values: Mapping[str, Any], output: str | os.PathLike, **fixed: Any) -> VideoRequest:
    """A video request from a front end's values by name (the page's controls, an API call's parameters):
    ``method`` (one of ``FRAME_METHODS``) makes each frame from the values it takes, as it would a picture
    (a setting left None takes the method's own default); the video's own inputs (``inputs.VIDEO``) from
    theirs (None: the default). ``fixed``: the device."""
    from .methods import get_method

    method = get_method(values.get("method") or "gatys")
    if method.name not in FRAME_METHODS:
        raise SettingsError(
            f"method: a video's frames can be made with {', '.join(FRAME_METHODS)}; a texture has no "
            "photo to follow"
        )
    given = {k: v for k, v in values.items() if v is not None or k not in SETTING_NAMES}
    frame = method.request_from({**given, "content": None}, **fixed)
    options = {i.name: values.get(i.name) for i in inputs.VIDEO[1:] if values.get(i.name) not in (None, "")}
    return VideoRequest(values.get("video"), frame, output, **options)


def stylize_video(
    video: str | os.PathLike,
    style: ImageSource | Sequence[ImageSource] | None = None,
    output: str | os.PathLike | None = None,
    settings: Settings | None = None,
    *,
    painter: str | None = None,
    strength: float = 1.0,
    masks: Sequence[ImageSource] | None = None,
    temporal_weight: float = DEFAULT_TEMPORAL_WEIGHT,
    frame_steps: int | None = None,
    max_frames: int | None = None,
    flow: str = DEFAULT_FLOW,
    callback: StepCallback | None = None,
    stop: threading.Event | None = None,
    device: str | None = None,
    vgg_weights: str | os.PathLike | None = None,
    **overrides: Any,
) -> VideoResult:
    """Repaint ``video`` in the style of ``style`` (one painting or several, blended or placed by
    ``masks`` as in :func:`nst.stylize`), or with a CycleGAN ``painter`` at ``strength``, and write it to
    ``output`` (MP4, H.264, the frame rate and sound kept): a :class:`VideoRequest` run.

    ``settings`` (and keyword ``overrides``) are the first frame's, as for a picture; every later frame
    starts from the previous result carried along the optical flow and runs ``frame_steps`` steps with
    the temporal loss at ``temporal_weight``. ``max_frames`` repaints only the start. ``callback`` and
    ``stop`` work as in :func:`nst.stylize`; a stopped run still writes the frames done so far.
    """
    if painter is not None:
        if style is not None or settings is not None or overrides:
            raise SettingsError("painter: a CycleGAN painter takes no style image or optimization settings")
        frame: Any = PaintRequest(None, painter, strength, device=device)
    else:
        styles = _several(style) or (None,)
        settings = settings or Settings()
        frame = StylizeRequest(
            None,
            styles[0],
            settings.replace(**overrides) if overrides else settings,
            extra_styles=styles[1:],
            masks=_several(masks),
            device=device,
            vgg_weights=vgg_weights,
        )
    return VideoRequest(video, frame, output, temporal_weight, frame_steps, max_frames, flow).run(
        callback, stop
    )
