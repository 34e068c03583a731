"""Video files in and out: any common container in, MP4 (H.264, yuv420p) out, for style transfer on videos.

Uploads come straight from people, so nothing a file says is trusted before it is checked, and every
failure a person can cause is an :class:`~nst.errors.ImageError` with one sentence that says what to do:

* Only the demuxers of common video containers are used (``_DEMUXERS``: MP4/MOV, Matroska/WebM, AVI,
  FLV, MPEG-TS/PS, Ogg, ASF/WMV, GIF), and only the ``file`` protocol: a playlist (HLS), a concat list
  or an image sequence named ``.mp4`` can make FFmpeg open other files or URLs, so those are refused.
* The frame size, rate and count the file declares are checked before anything is decoded
  (:data:`MAX_FRAME_SIDE`, :data:`MAX_FRAME_PIXELS`, :data:`MAX_FRAMES`): a few kilobytes of
  identical frames can declare gigabytes of pixels. The decoders themselves are also told the
  pixel limit (``max_pixels``), so even FFmpeg's own look at the first frames cannot allocate more.
* Every decoded frame is checked against the declared size before it is converted, so a stream
  that grows mid-file is refused instead of trusted.
* Frames are decoded one at a time as the caller asks for them; a whole video is never in memory.
* A phone video's rotation (a multiple of 90 degrees) is applied, so frames come upright, and
  :class:`ClipInfo` gives the upright size. Other rotations and non-square pixels are ignored.

Writing keeps the source's exact frame rate (the time base is 1/rate, so 30000/1001 stays
30000/1001) and copies its sound as the frames come, cut to the frames written, so a run stopped
halfway leaves a playable file whose picture and sound end together.
"""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from types import TracebackType
from typing import Any

import av
import av.error
import numpy as np
from av.stream import Disposition
from PIL import Image

from .errors import ImageError, shown
from .geometry import Canvas
from .images import MIN_SIDE, _new_file_mode, _shrunk, resize_to, to_rgb

#: The largest frame a video may declare (pixels per frame): decoding a larger one costs memory before
#: any check could shrink it.
MAX_FRAME_PIXELS = 3840 * 2160  # 4K UHD
#: Longest side a video may declare.
MAX_FRAME_SIDE = 4096
#: Most frames any video is read for, whatever the run's own limits (a file can declare millions).
MAX_FRAMES = 10_000

#: Slowest and fastest frame rates accepted: outside them a rate is a damaged or crafted header.
MIN_FPS = Fraction(1, 10)
MAX_FPS = Fraction(240)

#: FFmpeg demuxers a video may be read with (matched against the demuxer's names). Not among them:
#: hls, concat, image2 and the like, which open further files or URLs named inside the upload.
_DEMUXERS = "mov,mp4,matroska,webm,avi,flv,mpegts,mpeg,ogg,asf,gif"
#: Seconds FFmpeg may wait on one read before the file is given up (a local file never comes close).
_TIMEOUT_S = 60.0

#: Sound codecs copied into the MP4 as they are; browsers play these. Any other sound (PCM,
#: Vorbis, AC-3, ALAC: Chrome and Firefox play neither of the last two) is re-encoded as AAC.
_MP4_SOUND = frozenset({"aac", "mp3", "opus", "flac"})
#: x264's preset. Measured on 300 frames of a panning 512x288 painting (this machine): "medium" costs 3.5 ms a
#: frame to "veryfast"'s 1.7, nothing beside a styled frame's seconds, and at the same file size its frames are
#: about 0.4 dB (PSNR) closer to what was written.
_PRESET = "medium"

#: Turns that make a frame upright, by the counter-clockwise rotation its display matrix asks for.
_TURNS = {90: Image.Transpose.ROTATE_90, 180: Image.Transpose.ROTATE_180, 270: Image.Transpose.ROTATE_270}

#: What PyAV raises for a bad file: FFmpeg's errors, and the Python errors it raises itself.
_AV_ERRORS = (av.error.FFmpegError, ValueError, OSError, EOFError, UnicodeDecodeError, RuntimeError)


@dataclass(frozen=True)
class ClipInfo:
    """What a video declares, once it has passed every check: the upright frame size, the frame count
    (capped by :data:`MAX_FRAMES`), the exact frame rate, the length, whether there is sound."""

    width: int
    height: int
    frames: int
    fps: Fraction
    seconds: float
    audio: bool
    codec: str


def _why(exc: BaseException) -> str:
    """FFmpeg's reason in words, without the path it names (a server's folders are nobody's business)."""
    text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return text[0].lower() + text[1:]


def _checked(source: object) -> Path:
    """``source`` as a path to an existing, non-empty regular file; refused otherwise."""
    if not isinstance(source, (str, os.PathLike)):
        raise ImageError(f"video: cannot read a video from a {type(source).__name__}; give a file path")
    path = Path(source)
    name = shown(path.name)
    try:
        info = path.stat()
    except (OSError, ValueError):
        raise ImageError(f"video: {name} does not exist; upload the video again") from None
    if stat.S_ISDIR(info.st_mode):
        raise ImageError(f"video: {name} is a folder, not a video file; give a video file")
    if not stat.S_ISREG(info.st_mode):
        raise ImageError(f"video: {name} is not a regular file (a device or a pipe?); give a video file")
    if info.st_size == 0:
        raise ImageError(f"video: {name} is empty (0 bytes); upload the video again")
    return path


def _open(path: Path) -> Any:
    """The container at ``path``, opened with the safeguards the module docstring lists."""
    try:
        # "file:" so that a name with a colon in it is never read as a protocol.
        return av.open(
            "file:" + os.path.abspath(path),
            "r",
            container_options={"format_whitelist": _DEMUXERS, "protocol_whitelist": "file"},
            options={"max_pixels": str(MAX_FRAME_PIXELS)},
            metadata_errors="replace",
            timeout=_TIMEOUT_S,
        )
    except _AV_ERRORS as exc:
        raise ImageError(
            f"video: the file is not a video this server can read ({_why(exc)}); "
            "upload an MP4, MOV, WebM, MKV or AVI file"
        ) from exc


def _video_stream(container: Any) -> Any:
    """The first real video stream; a music file's cover picture is a "video" stream of one frame."""
    for stream in container.streams.video:
        if not stream.disposition & Disposition.attached_pic:
            return stream
    only = " (only audio)" if container.streams.audio else ""
    raise ImageError(f"video: the file has no video stream{only}; upload a video file")


def _check_size(width: int, height: int) -> None:
    if width <= 0 or height <= 0:
        raise ImageError("video: the file declares no frame size; it looks damaged, so upload another file")
    if max(width, height) > MAX_FRAME_SIDE:
        raise ImageError(
            f"video: the frames are {width}x{height} pixels, and a side longer than {MAX_FRAME_SIDE} "
            "pixels is refused before decoding; downscale the video first"
        )
    if width * height > MAX_FRAME_PIXELS:
        raise ImageError(
            f"video: the frames are {width}x{height} pixels ({width * height:,} pixels), more than the "
            f"{MAX_FRAME_PIXELS:,} a frame may have (4K is 3840x2160); downscale the video first"
        )
    if min(width, height) < MIN_SIDE:
        raise ImageError(
            f"video: the frames are {width}x{height} pixels; videos must be at least {MIN_SIDE} pixels on each side"
        )


def _rate(stream: Any) -> Fraction:
    fps = stream.average_rate or stream.guessed_rate or stream.base_rate
    if not fps:
        raise ImageError("video: the file declares no frame rate; convert it to MP4 with a fixed frame rate")
    if not MIN_FPS <= fps <= MAX_FPS:
        raise ImageError(
            f"video: the file declares {float(fps):.4g} frames per second; videos from {float(MIN_FPS):g} to "
            f"{MAX_FPS} frames per second can be read, so convert it to a usual rate such as 30"
        )
    return Fraction(fps)


def _declared_frames(stream: Any, fps: Fraction) -> int | None:
    """The frame count from the header, else from the stream's duration; None when neither says. (Not
    from the file's duration: that is the longest stream's, often the sound's.)"""
    if stream.frames and stream.frames > 0:
        return int(stream.frames)
    if stream.duration and stream.time_base and stream.duration > 0:
        return round(stream.duration * stream.time_base * fps)
    return None


def _check_frames(frames: int, fps: Fraction) -> None:
    if frames > MAX_FRAMES:
        raise ImageError(
            f"video: the file has {frames} frames, more than the {MAX_FRAMES} a video may have; trim it to "
            f"at most {MAX_FRAMES} frames ({float(MAX_FRAMES / fps):.1f} s at its {float(fps):.4g} frames per second)"
        )
    if frames <= 0:
        raise ImageError("video: the file holds no video frames; upload another video")


def _check_frame(frame: Any, number: int, coded: Canvas) -> None:
    """Refuse a frame larger than the file declared, before it is converted (its pixels are decoded,
    but a size change mid-file is how a small header hides a large stream)."""
    if frame.width > coded.width or frame.height > coded.height:
        raise ImageError(
            f"video: frame {number} is {frame.width}x{frame.height} px, larger than the "
            f"{coded.width}x{coded.height} the file declares; convert the video again and upload that"
        )


def _decoded(packet: Any) -> list[Any]:
    """The frames a packet completes. Every frame this module decodes comes through here (tests spy on it)."""
    return packet.decode()


def _scan(container: Any, stream: Any, frames: int | None, coded: Canvas) -> tuple[int, int]:
    """(frames, rotation): decodes the first frame, which proves the file decodes and gives its
    rotation, and counts packets (without decoding them) when the header gave no frame count."""
    first, count = None, 0
    try:
        for packet in container.demux(stream):
            if first is None:
                decoded = _decoded(packet)
                first = decoded[0] if decoded else None
            count += packet.size > 0
            if first is not None and (frames is not None or count > MAX_FRAMES):
                break
    except ImageError:
        raise
    except _AV_ERRORS as exc:
        raise ImageError(
            f"video: the {'first frame' if first is None else 'file'} could not be read ({_why(exc)}); "
            "the file looks damaged, so convert it again or upload another"
        ) from exc
    if first is None:
        raise ImageError("video: no frame of the video could be decoded; the file looks damaged or truncated")
    _check_frame(first, 1, coded)
    return (count if frames is None else frames), first.rotation % 360


def probe(source: str | os.PathLike) -> ClipInfo:
    """Check a video and say what it holds, before anything costly is done with it.

    Refuses (with an :class:`ImageError`) a path that is not a non-empty regular file, a file no
    allowed demuxer reads, one without a video stream or whose first frame does not decode, and one
    that declares a frame size, rate or count out of bounds; only the first frame is decoded, after
    the declared numbers have passed.
    """
    path = _checked(source)
    with _open(path) as container:
        stream = _video_stream(container)
        if stream.codec_context is None:
            raise ImageError(
                "video: the video is in a format this server cannot decode; convert it to MP4 (H.264) first"
            )
        coded = Canvas(stream.codec_context.width, stream.codec_context.height)
        _check_size(*coded)
        fps = _rate(stream)
        declared = _declared_frames(stream, fps)
        if declared is not None:
            _check_frames(declared, fps)
        frames, rotation = _scan(container, stream, declared, coded)
        _check_frames(frames, fps)
        upright = Canvas(coded.height, coded.width) if rotation in (90, 270) else coded
        return ClipInfo(
            width=upright.width,
            height=upright.height,
            frames=frames,
            fps=fps,
            seconds=float(frames / fps),
            audio=bool(container.streams.audio),
            codec=stream.codec_context.name,
        )


def read_frames(
    source: str | os.PathLike,
    size: int | None = None,
    limit: int | None = None,
    *,
    clip: ClipInfo | None = None,
) -> Generator[Image.Image, None, None]:
    """The video's frames as upright RGB pictures, decoded one at a time as they are asked for.

    The file is probed (and refused) here, before the first frame is asked for, unless ``clip`` is what
    :func:`probe` already said of it (probing a file that declares no frame count reads all its packets).
    Every frame has the size :func:`probe` reports, shrunk (never enlarged) so its long side is at most
    ``size``, as :func:`~nst.images.load_image` does. At most ``limit`` frames come (and never more than
    :data:`MAX_FRAMES`, whatever the file says); closing the iterator early closes the file. A frame that
    cannot be decoded, or is larger than the file declared, raises an :class:`ImageError` that names it,
    after the frames before it.
    """
    if size is not None and size < 1:
        raise ValueError(f"size must be a positive number of pixels, got {size}")
    if limit is not None and limit < 0:
        raise ValueError(f"limit must be 0 or more frames, got {limit}")
    info = clip or probe(source)
    cap = MAX_FRAMES if limit is None else min(limit, MAX_FRAMES)
    return _frames(Path(source), Canvas(info.width, info.height), size, cap)


def _frames(path: Path, upright: Canvas, size: int | None, cap: int) -> Generator[Image.Image, None, None]:
    if cap == 0:
        return
    container = _open(path)
    number = 0
    try:
        stream = _video_stream(container)
        stream.codec_context.options = {"max_pixels": str(MAX_FRAME_PIXELS)}
        coded = Canvas(stream.codec_context.width, stream.codec_context.height)
        for packet in container.demux(stream):
            for frame in _decoded(packet):
                number += 1
                _check_frame(frame, number, coded)
                yield _picture(frame, upright, size)
                if number >= cap:
                    return
    except ImageError:
        raise
    except _AV_ERRORS as exc:
        raise ImageError(
            f"video: frame {number + 1} could not be decoded ({_why(exc)}); the file looks damaged from there "
            f"on, so convert it again or use only its first {number} frames"
        ) from exc
    finally:
        container.close()


def _picture(frame: Any, upright: Canvas, size: int | None) -> Image.Image:
    image = frame.to_image()
    turn = _TURNS.get(frame.rotation % 360)
    if turn is not None:
        image = image.transpose(turn)
    # A frame smaller than declared (a stream that changes size) gets the size of the others.
    return _shrunk(resize_to(image, upright), size)


class _Sound:
    """A source's sound, copied into the output as the video grows, so the two interleave and a file
    stopped at any frame has sound up to that frame and no further.

    Times are counted from the source's first video frame, which is the output's time 0. Damaged
    sound ends the copy where the damage starts: the frames already styled matter more than the rest
    of the sound.
    """

    @classmethod
    def of(cls, source: Any, output: Any) -> _Sound | None:
        """The sound of ``source`` on its way into ``output``; None (and ``source`` closed) when it has
        none that can be decoded, or none whose numbers make sense (a video without sound beats no video)."""
        stream = next(iter(source.streams.audio), None)
        try:
            if (
                stream is not None
                and stream.codec_context is not None
                and stream.codec_context.sample_rate > 0
            ):
                return cls(source, stream, output)
        except _AV_ERRORS:
            pass
        source.close()
        return None

    def __init__(self, source: Any, stream: Any, output: Any) -> None:
        self._source, self._stream, self._output = source, stream, output
        video = next(iter(source.streams.video), None)
        start = (video.start_time or 0) * (video.time_base or 0) if video is not None else 0
        self._start = float(start)
        context = stream.codec_context
        self._remux = context.name in _MP4_SOUND
        if self._remux:
            self._out = output.add_stream_from_template(stream)
        else:
            rate = context.sample_rate if context.sample_rate in av.Codec("aac", "w").audio_rates else 48000
            self._out = output.add_stream("aac", rate=rate)
            self._out.layout = "mono" if context.channels == 1 else "stereo"
        self._items = self._packets() if self._remux else self._decoded_frames()
        self._held: tuple[float, Any] | None = None

    def _packets(self) -> Iterator[tuple[float, Any]]:
        """(start in seconds, packet) for each packet, its timestamps moved to the output's clock."""
        shift = round(self._start / self._stream.time_base)
        for packet in self._source.demux(self._stream):
            if packet.pts is None or packet.dts is None or not packet.size:
                continue
            packet.pts -= shift
            packet.dts -= shift
            if packet.pts + (packet.duration or 0) < 0:
                continue
            packet.stream = self._out
            yield float(packet.pts * self._stream.time_base), packet

    def _decoded_frames(self) -> Iterator[tuple[float, Any]]:
        """(start in seconds, frame) for each decoded frame, stamped on the output's clock."""
        for packet in self._source.demux(self._stream):
            for frame in packet.decode():
                if frame.time is None:
                    continue
                start = frame.time - self._start
                if start + frame.samples / frame.sample_rate <= 0:
                    continue
                frame.pts = round(start * frame.sample_rate)
                frame.time_base = Fraction(1, frame.sample_rate)
                yield start, frame

    def until(self, end: float) -> None:
        """Copy the sound that starts before ``end`` seconds (so at most one packet's length past it)."""
        try:
            while True:
                item = self._held or next(self._items, None)
                self._held = None
                if item is None:
                    return
                if item[0] >= end:
                    self._held = item
                    return
                self._output.mux(item[1] if self._remux else self._out.encode(item[1]))
        except (*_AV_ERRORS, ArithmeticError):
            self._items = iter(())

    def finish(self, end: float) -> None:
        """Copy the sound up to ``end`` seconds, flush the encoder and close the source."""
        self.until(end)
        try:
            if not self._remux:
                self._output.mux(self._out.encode(None))
        except (*_AV_ERRORS, ArithmeticError):
            pass
        finally:
            self._source.close()

    def close(self) -> None:
        self._source.close()


class ClipWriter:
    """Writes frames as they come to an MP4 (H.264 yuv420p); closing it copies the source's audio,
    cut to the frames written.

    The file is written beside ``path`` under a temporary name and renamed into place when closed,
    so ``path`` never holds half a video. Leaving a ``with`` block closes it, also on an exception, so
    a run stopped mid-way leaves a playable video of the frames done (with nothing written, there is
    no video and no file). ``crf`` is x264's quality (0 lossless, 18 about indistinguishable, 51 worst).
    """

    def __init__(
        self,
        path: str | os.PathLike,
        fps: Fraction,
        *,
        audio_from: str | os.PathLike | None = None,
        crf: int = 18,
    ) -> None:
        fps = Fraction(fps)
        if not MIN_FPS <= fps <= MAX_FPS:
            raise ValueError(f"fps must be from {MIN_FPS} to {MAX_FPS}, got {fps}")
        if not 0 <= crf <= 51:
            raise ValueError(f"crf must be from 0 to 51, got {crf}")
        self._path, self._fps = Path(path), fps
        self._check_path(audio_from)
        self._frames = 0
        self._canvas: Canvas | None = None
        self._result: Path | None = None
        self._closed = False
        self._sound: _Sound | None = None
        source = _open(_checked(audio_from)) if audio_from is not None else None
        try:
            fd, temp = tempfile.mkstemp(dir=self._path.parent, prefix=".nst-", suffix=".mp4")
            os.close(fd)
        except OSError as exc:
            if source is not None:
                source.close()
            raise ImageError(
                f"video: cannot save '{self._path}': {_why(exc)}; choose another folder"
            ) from exc
        self._temp = Path(temp)
        try:
            self._output = av.open(
                "file:" + os.path.abspath(temp),
                "w",
                format="mp4",
                container_options={"movflags": "+faststart"},
            )
            self._video = self._output.add_stream(
                "libx264", rate=fps, options={"crf": str(crf), "preset": _PRESET}
            )
            self._video.codec_context.time_base = 1 / fps
            self._video.pix_fmt = "yuv420p"
            if source is not None:
                self._sound = _Sound.of(source, self._output)
        except BaseException:
            if source is not None:
                source.close()
            self._discard()
            raise

    def _check_path(self, audio_from: str | os.PathLike | None) -> None:
        path = self._path
        if path.is_dir():
            raise ImageError(
                f"video: cannot save '{path}': it is a folder; give a file name such as {path / 'out.mp4'}"
            )
        if not path.parent.is_dir():
            raise ImageError(f"video: cannot save '{path}': folder '{path.parent}' does not exist")
        if audio_from is not None and os.path.realpath(audio_from) == os.path.realpath(path):
            raise ImageError(
                f"video: cannot save '{path}': it is the video the sound comes from, which the result "
                "would overwrite; choose another output file"
            )

    @property
    def frames(self) -> int:
        """Frames written so far."""
        return self._frames

    def write(self, image: Image.Image) -> None:
        """Add a frame. The first fixes the video's size; later ones of another size are resized to it.

        yuv420p needs even sides, so an odd side gets one more row or column, a copy of the edge:
        padding keeps every styled pixel (cropping would drop one) and a repeated edge line is invisible.
        """
        if self._closed:
            raise ValueError("this ClipWriter is closed; make a new one")
        image = to_rgb(image)
        if self._canvas is None:
            self._canvas = Canvas.of(image)
            self._video.width = self._canvas.width + self._canvas.width % 2
            self._video.height = self._canvas.height + self._canvas.height % 2
        pixels = np.asarray(resize_to(image, self._canvas))
        pixels = np.pad(pixels, ((0, pixels.shape[0] % 2), (0, pixels.shape[1] % 2), (0, 0)), mode="edge")
        frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
        frame.pts = self._frames
        frame.time_base = self._video.codec_context.time_base
        try:
            self._output.mux(self._video.encode(frame))
            self._frames += 1
            if self._sound is not None:
                self._sound.until(float(self._frames / self._fps))
        except _AV_ERRORS as exc:
            raise ImageError(f"video: cannot save '{self._path}' ({_why(exc)})") from exc

    def close(self) -> Path:
        """Finish the file (flush the encoder, copy the sound up to the last frame) and move it into place.

        Closing again returns the same path.
        """
        if self._closed:
            if self._result is None:
                raise ImageError(
                    "video: no video was saved (no frame was written, or saving failed); write the frames again"
                )
            return self._result
        self._closed = True
        try:
            if self._frames == 0:
                raise ImageError("video: no frame was written, so no video was saved")
            self._output.mux(self._video.encode(None))
            if self._sound is not None:
                self._sound.finish(float(self._frames / self._fps))
            self._output.close()
            os.chmod(self._temp, _new_file_mode(self._path))
            os.replace(self._temp, self._path)
        except ImageError:
            self._discard()
            raise
        except _AV_ERRORS as exc:
            self._discard()
            raise ImageError(f"video: cannot save '{self._path}' ({_why(exc)})") from exc
        self._result = self._path
        return self._path

    def _discard(self) -> None:
        """Close everything and remove the temporary file (nothing is kept of a video without frames)."""
        self._closed = True
        for closer in (getattr(self, "_sound", None), getattr(self, "_output", None)):
            try:
                if closer is not None:
                    closer.close()
            except _AV_ERRORS:
                pass
        self._temp.unlink(missing_ok=True)

    def __enter__(self) -> ClipWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is not None and self._frames == 0:
            self._discard()  # nothing to keep, and the exception on its way says why
        else:
            self.close()
