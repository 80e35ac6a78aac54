"""probe(): what a file holds, and clear errors for files that are not what they claim."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from vfbuild.errors import MediaError
from vfbuild.media import ffmpeg as ff
from vfbuild.media.probe import probe


def make(path: Path, *args: str) -> Path:
    subprocess.run(
        [ff.ffmpeg_exe(), "-v", "error", "-y", *args, "-bitexact", str(path)], check=True
    )
    return path


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("probe")
    src = ["-f", "lavfi", "-i", "testsrc2=s=96x54:r=24:d=2"]
    tone = ["-f", "lavfi", "-i", "sine=frequency=440:duration=1.5:sample_rate=48000"]
    return {
        "mkv": make(d / "v.mkv", *src, "-c:v", "libx264"),
        "mp4": make(d / "v.mp4", *src, *tone, "-c:v", "libx264", "-c:a", "aac"),
        "wav": make(d / "t.wav", *tone),
        "png": make(d / "p.png", *src, "-frames:v", "1"),
    }


def test_video_with_audio(media: dict[str, Path]) -> None:
    info = probe(media["mp4"])
    assert info.has_video and info.has_audio and not info.is_image
    assert (info.width, info.height, info.frames, info.fps) == (96, 54, 48, 24.0)
    assert info.video_codec == "h264" and info.audio_codec == "aac"
    assert info.audio_duration == pytest.approx(1.5, abs=0.03)
    assert info.duration == pytest.approx(2.0, abs=0.05)
    assert info.color_primaries is None  # nothing tagged it


def test_frames_are_counted_when_the_header_has_no_count(media: dict[str, Path]) -> None:
    info = probe(media["mkv"])
    assert info.frames == 48 and info.fps == 24.0


def test_audio_only_and_image(media: dict[str, Path]) -> None:
    wav = probe(media["wav"])
    assert wav.has_audio and not wav.has_video and wav.frames is None
    assert wav.duration == pytest.approx(1.5)
    png = probe(media["png"])
    assert png.is_image and png.frames == 1 and png.duration is None
    assert (png.width, png.height) == (96, 54)


@pytest.mark.parametrize("kind", ["mp4", "mkv", "png"])
def test_truncated_files_are_refused(media: dict[str, Path], tmp_path: Path, kind: str) -> None:
    data = media[kind].read_bytes()
    cut = tmp_path / f"cut.{kind}"
    cut.write_bytes(data[: len(data) * 2 // 3])
    with pytest.raises(MediaError, match="cut"):
        probe(cut)


@pytest.mark.parametrize("content", [b"", b"hello, not a video\n", bytes(range(256)) * 8])
def test_non_media_is_refused_with_the_file_named(tmp_path: Path, content: bytes) -> None:
    bad = tmp_path / "shot.mp4"
    bad.write_bytes(content)
    with pytest.raises(MediaError, match="shot.mp4"):
        probe(bad)


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(MediaError, match="nope.mp4"):
        probe(tmp_path / "nope.mp4")


@pytest.fixture(scope="module")
def long_gop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # One keyframe for 5 s (x264's default GOP is 250 frames), index at the front: the shape
    # of a generated clip, whose last packets are far from any keyframe.
    d = tmp_path_factory.mktemp("gop")
    src = ["-f", "lavfi", "-i", "testsrc2=s=96x54:r=24:d=5"]
    return make(d / "long.mp4", *src, "-c:v", "libx264", "-movflags", "+faststart")


def test_the_completeness_check_reads_only_the_tail(
    long_gop: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import av

    read: list[int] = []
    real_open = av.open

    class Counting:
        def __init__(self, container: object) -> None:
            self._c = container

        def __getattr__(self, name: str) -> object:
            return getattr(self._c, name)

        def demux(self, *streams: object):  # type: ignore[no-untyped-def]
            for packet in self._c.demux(*streams):
                read.append(1)
                yield packet

    monkeypatch.setattr(av, "open", lambda *a, **k: Counting(real_open(*a, **k)))
    info = probe(long_gop)
    assert info.frames == 120
    # The last second's packets, not all 120 from the clip's one keyframe.
    assert 20 <= len(read) <= 30


def test_a_clip_cut_in_its_last_second_is_refused(long_gop: Path, tmp_path: Path) -> None:
    data = long_gop.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) * 90 // 100])
    with pytest.raises(MediaError, match="cut"):
        probe(cut)
