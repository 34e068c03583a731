"""Tiny videos for tests, written with PyAV: a camera panning across a generated picture (the true motion
is known), with a sine tone as its sound when asked."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from support.pictures import make_picture


def pan_frames(frames: int, width: int, height: int, speed: int = 2, seed: int = 1) -> list[np.ndarray]:
    """``frames`` views of a wider picture, each ``speed`` px further right: frame t's pixel p is frame
    t-1's pixel p + (speed, 0)."""
    wide = np.asarray(make_picture(width + speed * frames, height, seed))
    return [wide[:, t * speed : t * speed + width].copy() for t in range(frames)]


def write_clip(
    path: Path,
    frames: list[np.ndarray],
    fps: Fraction = Fraction(25),
    audio: bool = False,
    codec: str = "libx264",
) -> Path:
    """``frames`` (uint8 RGB arrays of one size) as a video, with one second of 440 Hz AAC per second
    of video when ``audio``."""
    with av.open(str(path), "w") as out:
        stream = out.add_stream(codec, rate=fps)
        stream.height, stream.width = frames[0].shape[:2]
        stream.pix_fmt = "yuv420p" if codec == "libx264" else stream.pix_fmt
        if codec == "libx264":
            stream.options = {"crf": "1", "preset": "ultrafast"}
        sound = out.add_stream("aac", rate=44100) if audio else None
        for array in frames:
            out.mux(stream.encode(av.VideoFrame.from_ndarray(array, format="rgb24")))
        out.mux(stream.encode())
        if sound is not None:
            total = int(44100 * len(frames) / fps)
            t = np.arange(total) / 44100
            tone = (0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
            for start in range(0, total, 1024):
                chunk = tone[start : start + 1024][None, :]
                frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(chunk), format="fltp", layout="mono")
                frame.sample_rate = 44100
                frame.pts = start
                out.mux(sound.encode(frame))
            out.mux(sound.encode())
    return path


def read_back(path: Path) -> tuple[list[np.ndarray], Fraction, float | None]:
    """Every frame of a video as RGB arrays, its average rate, and its sound's duration (None: no sound)."""
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        rate = video.average_rate
        sound = container.streams.audio[0] if container.streams.audio else None
        seconds = float(sound.duration * sound.time_base) if sound is not None and sound.duration else None
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    return frames, rate, seconds
