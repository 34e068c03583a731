"""Video files in and out (:mod:`nst.clips`): tiny clips written here with PyAV, read back, copied with their
sound, and hostile files refused with their own sentence before anything costly is decoded."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from nst import clips
from nst.errors import ImageError
from support.clips import NTSC, audio_only, colour, sound_of, write_clip


def refusal(source: object, **kwargs: object) -> str:
    with pytest.raises(ImageError) as caught:
        list(clips.read_frames(source, **kwargs))  # type: ignore[arg-type]
    message = str(caught.value)
    assert message.startswith("video: ") and message.count(";") <= 2 and "\n" not in message
    return message


@pytest.fixture
def clip(tmp_path) -> Path:
    return write_clip(tmp_path / "clip.mp4")


def test_round_trip_keeps_frames_colours_rate_and_sound(tmp_path, clip):
    info = clips.probe(clip)
    assert info == clips.ClipInfo(48, 32, 12, NTSC, float(12 / NTSC), True, "h264")
    frames = list(clips.read_frames(clip))
    assert len(frames) == 12
    for i, frame in enumerate(frames):
        assert frame.mode == "RGB" and frame.size == (48, 32)
        assert np.abs(np.asarray(frame, float) - colour(i)).max() <= 8, i
    copy = tmp_path / "copy.mp4"
    with clips.ClipWriter(copy, info.fps, audio_from=clip) as writer:
        for frame in frames:
            writer.write(frame)
    assert writer.frames == 12 and writer.close() == copy  # closing again is harmless
    again = clips.probe(copy)
    assert (again.frames, again.fps, again.audio, again.width, again.height) == (12, NTSC, True, 48, 32)
    with av.open(str(copy)) as container:
        assert container.streams.video[0].average_rate == NTSC  # the exact rate, not 29.97
    codec, seconds = sound_of(copy)
    assert codec == "aac" and abs(seconds - 12 / NTSC) <= 1024 / 44100  # one AAC frame
    for i, frame in enumerate(clips.read_frames(copy)):
        assert np.abs(np.asarray(frame, float) - colour(i)).max() <= 10, i
    assert not list(tmp_path.glob(".nst-*"))  # the temporary file was renamed into place


def test_a_stopped_run_leaves_a_playable_video_whose_sound_ends_with_it(tmp_path, clip):
    out = tmp_path / "stopped.mp4"
    with pytest.raises(KeyboardInterrupt):
        with clips.ClipWriter(out, NTSC, audio_from=clip) as writer:
            for i, frame in enumerate(clips.read_frames(clip)):
                if i == 5:
                    raise KeyboardInterrupt
                writer.write(frame)
    assert clips.probe(out).frames == 5 and len(list(clips.read_frames(out))) == 5
    _, seconds = sound_of(out)
    assert 5 / NTSC - 0.01 <= seconds <= 5 / NTSC + 1024 / 44100


@pytest.mark.parametrize(
    ("sound", "suffix", "copied_as"),
    # MPEG-TS carries AAC as ADTS, which goes into an MP4 only through a bitstream filter.
    [("aac", ".ts", "aac"), ("libopus", ".mkv", "opus"), ("pcm_s16le", ".mkv", "aac"), ("mp2", ".ts", "aac")],
)
def test_sound_browsers_play_is_copied_and_other_sound_becomes_aac(tmp_path, sound, suffix, copied_as):
    source = write_clip(tmp_path / f"source{suffix}", sound=sound)
    out = tmp_path / "out.mp4"
    with clips.ClipWriter(out, NTSC, audio_from=source) as writer:
        for frame in clips.read_frames(source):
            writer.write(frame)
    codec, seconds = sound_of(out)
    assert codec == copied_as and abs(seconds - 12 / NTSC) <= 0.05


@pytest.mark.parametrize("sound", ["aac", "pcm_s16le"])
def test_the_sound_is_taken_from_where_the_picture_starts(tmp_path, sound):
    source = write_clip(tmp_path / "late.mkv", sound=sound, late=30)  # silence for a second, then both
    out = tmp_path / "out.mp4"
    with clips.ClipWriter(out, NTSC, audio_from=source) as writer:
        for frame in clips.read_frames(source):
            writer.write(frame)
    with av.open(str(out)) as container:
        wave = np.concatenate([frame.to_ndarray().ravel() for frame in container.decode(audio=0)])
    assert abs(wave.size / 44100 - 12 / NTSC) <= 0.05 and np.sqrt(np.mean(wave[:8000] ** 2)) > 0.15


def test_damaged_sound_ends_the_sound_not_the_video(tmp_path, monkeypatch, clip):
    real = clips._Sound._packets

    def breaks_after_five(sound):
        packets = real(sound)
        yield from (next(packets) for _ in range(5))
        raise av.error.InvalidDataError(1094995529, "Invalid data found when processing input")

    monkeypatch.setattr(clips._Sound, "_packets", breaks_after_five)
    out = tmp_path / "out.mp4"
    with clips.ClipWriter(out, NTSC, audio_from=clip) as writer:
        for frame in clips.read_frames(clip):
            writer.write(frame)
    _, seconds = sound_of(out)
    assert clips.probe(out).frames == 12 and 0 < seconds <= 5 * 1024 / 44100


def test_odd_sides_are_padded_with_a_copy_of_the_edge(tmp_path):
    pixels = np.zeros((21, 33, 3), np.uint8)
    pixels[:, -1] = 255  # a white right edge and a grey bottom edge: the padding repeats them
    pixels[-1, :-1] = 128
    out = tmp_path / "odd.mp4"
    with clips.ClipWriter(out, Fraction(25)) as writer:
        for _ in range(3):
            writer.write(Image.fromarray(pixels))
        writer.write(Image.new("RGB", (66, 42)))  # a later frame of another size takes the first's
    info = clips.probe(out)
    assert (info.width, info.height, info.frames) == (34, 22, 4)
    first = np.asarray(next(clips.read_frames(out)), float)
    assert first.shape == (22, 34, 3)
    assert first[:20, -2:].min() >= 200 and abs(first[-2:, 8:24] - 128).max() <= 16


def test_size_shrinks_the_long_side_but_never_enlarges(clip):
    assert {f.size for f in clips.read_frames(clip, size=24)} == {(24, 16)}
    assert {f.size for f in clips.read_frames(clip, size=1000)} == {(48, 32)}


def test_limit_stops_early_and_closing_the_frames_closes_the_file(monkeypatch, clip):
    opened = []

    def spy(path):
        opened.append(real(path))
        return opened[-1]

    real = clips._open
    monkeypatch.setattr(clips, "_open", spy)
    assert len(list(clips.read_frames(clip, limit=3))) == 3
    frames = clips.read_frames(clip)
    next(frames)
    frames.close()
    # probe, the three frames, probe, the one frame: each container closed when its frames ended or stopped.
    assert len(opened) == 4 and not any(container.input_was_opened for container in opened)


def test_a_phone_video_comes_upright(tmp_path):
    picture = np.zeros((32, 64, 3), np.uint8)
    picture[:8, :8] = 255  # white top-left corner, as stored
    clip = write_clip(tmp_path / "phone.mp4", frames=2, width=64, height=32, rotation=-90, picture=picture)
    info = clips.probe(clip)
    assert (info.width, info.height) == (32, 64)
    upright = np.asarray(next(clips.read_frames(clip)), float)
    # Turned a quarter clockwise (ffmpeg's own autorotation): the stored top-left is now top-right.
    assert upright.shape == (64, 32, 3) and upright[:6, -6:].min() > 200 and upright[:6, :6].max() < 50


# Hostile files: each refused with its own sentence, before anything costly is decoded.


def test_files_that_are_no_video_are_refused(tmp_path, clip):
    noise = tmp_path / "noise.mp4"
    noise.write_bytes(np.random.default_rng(0).integers(0, 256, 50_000, np.uint8).tobytes())
    assert "not a video this server can read" in refusal(noise)
    empty = tmp_path / "empty.mp4"
    empty.touch()
    assert "'empty.mp4' is empty (0 bytes)" in refusal(empty)
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(clip.read_bytes()[:300])
    assert "not a video this server can read" in refusal(cut)
    song = audio_only(tmp_path / "song.m4a")  # with its cover picture, which FFmpeg lists as a video stream
    assert "no video stream (only audio)" in refusal(song)
    assert "is a folder, not a video file" in refusal(tmp_path)
    message = refusal(tmp_path / "secret" / "gone.mp4")
    assert "'gone.mp4' does not exist" in message and "secret" not in message  # no folders echoed
    assert "cannot read a video from a bytes" in refusal(b"\x00\x00")


def test_a_truncated_video_is_refused_or_stops_at_the_first_missing_frame(tmp_path, clip):
    copy = tmp_path / "copy.mp4"
    with clips.ClipWriter(copy, NTSC) as writer:  # its index comes first (faststart), its pictures after
        for frame in clips.read_frames(clip):
            writer.write(frame)
    data = copy.read_bytes()
    assert data.index(b"moov") < data.index(b"mdat")  # browsers can start playing before the end arrives
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: data.index(b"mdat") + 8])  # the index whole, no picture
    assert "the first frame could not be read" in refusal(cut)
    cut.write_bytes(data[:-300])  # the last pictures missing: the index promises 12 frames
    assert clips.probe(cut).frames == 12
    got = []
    with pytest.raises(ImageError) as caught:
        got.extend(clips.read_frames(cut))
    assert 0 < len(got) < 12 and f"frame {len(got) + 1} could not be decoded" in str(caught.value)


def test_a_list_of_other_files_named_mp4_is_refused(tmp_path, clip):
    # FFmpeg's concat demuxer would read the neighbouring upload and serve it as this one's frames.
    evil = tmp_path / "evil.mp4"
    evil.write_text(f"ffconcat version 1.0\nfile '{clip.name}'\n")
    with av.open(str(evil)) as container:
        assert container.format.name == "concat"  # plain FFmpeg takes the bait
    assert "not a video this server can read" in refusal(evil)


def test_declared_sizes_beyond_the_limits_are_refused(tmp_path, monkeypatch, clip):
    wide = write_clip(tmp_path / "wide.mp4", frames=1, width=4098, height=16, sound=None, codec="mpeg4")
    assert "4098x16 pixels, and a side longer than 4096 pixels is refused" in refusal(wide)
    monkeypatch.setattr(clips, "MAX_FRAME_PIXELS", 1000)
    assert "48x32 pixels (1,536 pixels), more than the 1,000 a frame may have" in refusal(clip)
    monkeypatch.undo()
    tiny = write_clip(tmp_path / "tiny.mp4", frames=1, width=8, height=8, sound=None)
    assert "8x8 pixels; videos must be at least 16 pixels" in refusal(tiny)


def test_too_many_frames_and_absurd_rates_are_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(clips, "MAX_FRAMES", 50)
    long = write_clip(tmp_path / "long.mp4", frames=60, width=16, height=16, fps=Fraction(25), sound=None)
    assert "has 60 frames, more than the 50 a video may have; trim it to at most 50 frames (2.0 s" in refusal(
        long
    )
    fast = write_clip(tmp_path / "fast.mp4", frames=3, width=16, height=16, fps=Fraction(1000), sound=None)
    assert "declares 1000 frames per second" in refusal(fast)


def test_a_small_file_that_declares_huge_frames_is_refused_before_decoding(tmp_path, monkeypatch):
    """A decompression bomb: ten identical 4000x2250 frames take a few kilobytes and decode to 270 MB."""
    black = np.zeros((2250, 4000, 3), np.uint8)
    bomb = write_clip(tmp_path / "bomb.mp4", frames=10, width=4000, height=2250, sound=None, picture=black)
    assert bomb.stat().st_size < 100_000

    def no_decoding(packet):
        raise AssertionError("decoded a frame of a refused file")

    monkeypatch.setattr(clips, "_decoded", no_decoding)
    assert "4000x2250 pixels (9,000,000 pixels), more than the 8,294,400" in refusal(bomb)
    with pytest.raises(ImageError):
        clips.probe(bomb)


def test_a_stream_that_grows_mid_file_is_refused_at_that_frame(tmp_path):
    grows = tmp_path / "grows.avi"
    with av.open(str(grows), "w") as out:
        stream = out.add_stream("mpeg4", rate=10)
        stream.width = stream.height = 32
        for start, side in ((0, 32), (3, 64)):  # three frames as declared, then three twice as large
            encoder = av.CodecContext.create("mpeg4", "w")
            encoder.width = encoder.height = side
            encoder.pix_fmt, encoder.time_base = "yuv420p", Fraction(1, 10)
            for i in range(3):
                frame = av.VideoFrame.from_ndarray(np.full((side, side, 3), 99, np.uint8), format="rgb24")
                frame.pts = i
                for packet in encoder.encode(frame) + (encoder.encode(None) if i == 2 else []):
                    packet.stream, packet.pts, packet.dts = stream, start + i, start + i
                    out.mux(packet)
    frames = clips.read_frames(grows)
    assert [f.size for f in (next(frames), next(frames), next(frames))] == [(32, 32)] * 3
    with pytest.raises(
        ImageError, match=r"^video: frame 4 is 64x64 px, larger than the 32x32 the file declares"
    ):
        next(frames)


def test_damage_mid_file_names_the_frame(monkeypatch, clip):
    real, calls = clips._decoded, []

    def breaks_on_the_sixth_packet(packet):
        calls.append(packet)
        if len(calls) == 6:
            raise av.error.InvalidDataError(1094995529, "Invalid data found when processing input")
        return real(packet)

    frames = clips.read_frames(clip)  # probes (one packet decoded) before the spy counts
    monkeypatch.setattr(clips, "_decoded", breaks_on_the_sixth_packet)
    got = []
    with pytest.raises(
        ImageError, match=r"^video: frame \d+ could not be decoded \(invalid data found"
    ) as caught:
        got.extend(frames)
    assert f"frame {len(got) + 1} could not" in str(caught.value) and f"first {len(got)} frames" in str(
        caught.value
    )


def test_the_writer_refuses_bad_paths_and_keeps_nothing_without_frames(tmp_path, clip):
    with pytest.raises(ImageError, match="it is a folder"):
        clips.ClipWriter(tmp_path, NTSC)
    with pytest.raises(ImageError, match="does not exist"):
        clips.ClipWriter(tmp_path / "no" / "out.mp4", NTSC)
    with pytest.raises(ImageError, match="it is the video the sound comes from"):
        clips.ClipWriter(clip, NTSC, audio_from=clip)
    with pytest.raises(ImageError, match="'gone.mp4' does not exist"):
        clips.ClipWriter(tmp_path / "out.mp4", NTSC, audio_from=tmp_path / "gone.mp4")
    out = tmp_path / "out.mp4"
    with pytest.raises(RuntimeError, match="stopped"), clips.ClipWriter(out, NTSC, audio_from=clip):
        raise RuntimeError("stopped")
    with pytest.raises(ImageError, match="no frame was written"):
        clips.ClipWriter(out, NTSC).close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4"]  # no video, no temporary file
