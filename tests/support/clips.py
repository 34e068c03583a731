"""Tiny videos for tests, written with PyAV: flat colours per frame, or a camera panning across a generated
picture (the true motion is known), with a 440 Hz tone as their sound; and reading them back."""

from __future__ import annotations

import io
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from av.stream import Disposition
from PIL import Image

from support.pictures import make_picture

NTSC = Fraction(30000, 1001)


def colour(i: int) -> tuple[int, int, int]:
    """A flat colour per frame, far enough from its neighbours to tell frames apart after H.264."""
    return (i * 20 % 256, 255 - i * 20 % 256, 128)


def write_clip(
    path: Path,
    frames: int = 12,
    width: int = 48,
    height: int = 32,
    fps: Fraction = NTSC,
    sound: str | None = "aac",
    codec: str = "libx264",
    rotation: int = 0,
    picture: np.ndarray | None = None,
    late: int = 0,
    pictures: list[np.ndarray] | None = None,
) -> Path:
    """A clip of flat colours (or ``picture`` in every frame, or the ``pictures`` given) with a 440 Hz tone as
    long as the video; with ``late``, the picture starts that many frames after the sound, which is silent
    until then."""
    with av.open(str(path), "w") as out:
        video = out.add_stream(codec, rate=fps, options={"preset": "ultrafast"} if codec == "libx264" else {})
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        if rotation:
            video.set_display_rotation(rotation)
        audio = out.add_stream(sound, rate=48000 if sound == "libopus" else 44100) if sound else None
        if audio is not None:
            audio.layout = "mono"
        for i in range(frames):
            pixels = np.full((height, width, 3), colour(i), np.uint8) if picture is None else picture
            pixels = pixels if pictures is None else pictures[i]
            frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
            frame.pts = late + i
            out.mux(video.encode(frame))
        out.mux(video.encode())
        if audio is not None:
            rate = audio.codec_context.sample_rate
            t = np.arange(int((late + frames) / fps * rate)) / rate
            wave = (0.3 * np.sin(2 * np.pi * 440 * t) * (t >= late / fps)).astype(np.float32)
            tone = av.AudioFrame.from_ndarray(wave[None], "flt", "mono")
            tone.sample_rate, tone.pts = rate, 0
            out.mux(audio.encode(tone))
            out.mux(audio.encode())
    return path


def sound_of(path: Path) -> tuple[str, float]:
    """The codec of a file's sound and its length in seconds, from the samples it decodes to."""
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        samples = sum(frame.samples for frame in container.decode(stream))
        return stream.codec_context.name, samples / stream.codec_context.sample_rate


def pan_frames(frames: int, width: int, height: int, speed: int = 2, seed: int = 1) -> list[np.ndarray]:
    """``frames`` views of a wider picture, each ``speed`` px further right: frame t's pixel p is frame
    t-1's pixel p + (speed, 0)."""
    wide = np.asarray(make_picture(width + speed * frames, height, seed))
    return [wide[:, t * speed : t * speed + width].copy() for t in range(frames)]


def read_back(path: Path) -> tuple[list[np.ndarray], Fraction, float | None]:
    """Every frame of a video as RGB arrays, its average rate, and its sound's length in seconds (None: no
    sound)."""
    with av.open(str(path)) as container:
        rate = container.streams.video[0].average_rate
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    seconds = sound_of(path)[1] if has_sound(path) else None
    return frames, rate, seconds


def has_sound(path: Path) -> bool:
    with av.open(str(path)) as container:
        return bool(container.streams.audio)


def audio_only(path: Path) -> Path:
    """A song with its cover picture (which FFmpeg lists as a video stream) and no video."""
    with av.open(str(path), "w", format="mp4") as out:
        stream = out.add_stream("aac", rate=44100)
        cover = out.add_stream("png")
        cover.width, cover.height, cover.pix_fmt = 16, 16, "rgb24"
        cover.disposition = Disposition.attached_pic
        png = io.BytesIO()
        Image.new("RGB", (16, 16), "red").save(png, "PNG")
        picture = av.Packet(png.getvalue())
        picture.stream, picture.pts, picture.dts = cover, 0, 0
        out.mux(picture)
        tone = av.AudioFrame.from_ndarray(np.zeros((1, 4410), np.float32), "flt", "mono")
        tone.sample_rate, tone.pts = 44100, 0
        out.mux(stream.encode(tone))
        out.mux(stream.encode())
    return path


@dataclass(frozen=True)
class Hostile:
    """A file no video run may start on, and words of the sentence that refuses it."""

    name: str
    path: Path
    words: str


def hostile_videos(folder: Path) -> list[Hostile]:
    """A bad container, a cut file, an empty one, no video stream, huge declared frames, and a
    decompression bomb (ten 4000x2250 frames in a few kilobytes, 270 MB decoded)."""
    noise = folder / "noise.mp4"
    noise.write_bytes(np.random.default_rng(0).integers(0, 256, 50_000, np.uint8).tobytes())
    empty = folder / "empty.mp4"
    empty.touch()
    cut = folder / "cut.mp4"
    cut.write_bytes(write_clip(folder / "whole.mp4").read_bytes()[:300])
    black = np.zeros((2250, 4000, 3), np.uint8)
    return [
        Hostile("bad container", noise, "not a video this server can read"),
        Hostile("cut", cut, "not a video this server can read"),
        Hostile("empty", empty, "is empty (0 bytes)"),
        Hostile("no video stream", audio_only(folder / "song.m4a"), "no video stream (only audio)"),
        Hostile(
            "huge declared size",
            write_clip(folder / "wide.mp4", frames=1, width=4098, height=16, sound=None, codec="mpeg4"),
            "a side longer than 4096 pixels is refused",
        ),
        Hostile(
            "zip bomb",
            write_clip(folder / "bomb.mp4", frames=10, width=4000, height=2250, sound=None, picture=black),
            "more than the 8,294,400 a frame may have",
        ),
    ]
