"""The local renderers and the edit, with the real ffmpeg, at thumbnail sizes."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from vfbuild.errors import MediaError
from vfbuild.fsutil import sha256_file
from vfbuild.media import ffmpeg as ff
from vfbuild.media.probe import probe
from vfbuild.media.segment import EditClip, render_segment
from vfbuild.providers.local import previz
from vfbuild.spec.models import CameraMove

W, H, FPS = 160, 90, 24


def still(path: Path, take: int = 1) -> Path:
    previz.render_still(
        path,
        width=W * 2,
        height=H * 2,
        shot_id="s010",
        title="",
        prompt="aerial wide shot, yellow car on a snowy road",
        notes=["move: push-in"],
        seed=7,
        take=take,
        references=[],
    )
    return path


def tone(path: Path, seconds: float) -> Path:
    subprocess.run(
        [
            ff.ffmpeg_exe(),
            "-v",
            "error",
            "-f",
            "lavfi",
            "-i",
            f"sine=frequency=330:duration={seconds}:sample_rate=48000",
            "-bitexact",
            str(path),
        ],
        check=True,
    )
    return path


def animatic(
    tmp: Path, name: str, *, move: str = "push-in", take: int = 1, duration: float = 1.0
) -> Path:
    out = tmp / name
    previz.render_animatic(
        out,
        still=still(tmp / f"{name}.png"),
        width=W,
        height=H,
        fps=FPS,
        duration=duration,
        move=move,
        seed=7,
        take=take,
        label="s010 t1 PREVIZ",
    )
    return out


def test_stills_are_deterministic_and_takes_differ(tmp_path: Path) -> None:
    a, b, c = (
        still(tmp_path / "a.png"),
        still(tmp_path / "b.png"),
        still(tmp_path / "c.png", take=2),
    )
    assert sha256_file(a) == sha256_file(b) != sha256_file(c)
    info = probe(a)
    assert info.is_image and (info.width, info.height) == (W * 2, H * 2)


@pytest.mark.parametrize("move", [m.value for m in CameraMove])
def test_every_camera_move_renders_exact_frames_rec709(tmp_path: Path, move: str) -> None:
    out = animatic(tmp_path, "a.mp4", move=move)
    info = probe(out)
    assert (info.width, info.height, info.frames) == (W, H, FPS)
    assert info.fps == pytest.approx(FPS) and info.video_codec == "h264"
    assert (info.color_primaries, info.color_trc, info.color_space) == ("bt709",) * 3
    assert not info.has_audio


def test_animatics_are_deterministic_and_moves_move(tmp_path: Path) -> None:
    import av
    import numpy as np

    one, two = animatic(tmp_path, "1.mp4"), animatic(tmp_path, "2.mp4")
    assert sha256_file(one) == sha256_file(two)
    assert sha256_file(animatic(tmp_path, "3.mp4", take=2)) != sha256_file(one)
    with av.open(str(one)) as c:
        frames = [f.to_ndarray(format="gray").astype(float) for f in c.decode(video=0)]
    assert np.abs(frames[0] - frames[-1]).mean() > 2  # the push-in changed the picture


def test_upscale_is_real_and_keeps_frames(tmp_path: Path) -> None:
    src = animatic(tmp_path, "a.mp4")
    out = tmp_path / "up.mp4"
    previz.render_upscale(out, source=src, width=W * 2, height=H * 2)
    info = probe(out)
    assert (info.width, info.height, info.frames) == (W * 2, H * 2, FPS)
    assert info.color_primaries == "bt709"


@pytest.mark.parametrize("audio_seconds", [0.5, 1.75])  # under the clip / outlasts it
def test_lipsync_keeps_the_clips_length_and_the_whole_line(
    tmp_path: Path, audio_seconds: float
) -> None:
    """The clip (1 s) keeps its length: the line from its start, then silence; a longer line
    holds the last frame until it ends."""
    import av
    import numpy as np

    clip = animatic(tmp_path, "a.mp4")
    out = tmp_path / "ls.mp4"
    previz.render_lipsync(out, clip=clip, audio=tone(tmp_path / "t.wav", audio_seconds), fps=FPS)
    info = probe(out)
    length = max(1.0, audio_seconds)
    assert info.has_audio and info.audio_codec == "aac"
    assert info.duration == pytest.approx(length, abs=1.5 / FPS)
    assert info.frames == round(length * FPS)
    assert info.audio_duration == pytest.approx(length, abs=0.03)
    with av.open(str(out)) as c:
        samples = np.concatenate([f.to_ndarray()[0] for f in c.decode(audio=0)])
    rate = 48000
    loud = np.abs(samples[: int((audio_seconds - 0.05) * rate)]).max()
    assert loud > 0.05  # the line
    if audio_seconds < 1.0:
        assert np.abs(samples[int((audio_seconds + 0.05) * rate) :]).max() < 1e-3  # then silence


def _plane_means(path: Path, t: float) -> tuple[float, float, float]:
    import av
    import numpy as np

    with av.open(str(path)) as c:
        for f in c.decode(video=0):
            if f.time is not None and f.time >= t:
                planes = [np.frombuffer(p, np.uint8) for p in f.planes]
                return tuple(float(p.std()) for p in planes)  # type: ignore[return-value]
    raise AssertionError("no frame")


def _segment(out: Path, clip: EditClip, grain: float, *, scale: int = 1) -> Path:
    render_segment(out, clip, width=W * scale, height=H * scale, fps=FPS, grain=grain, seed=5)
    return out


def test_segment_length_tags_and_luma_only_grain(tmp_path: Path) -> None:
    import av
    import numpy as np

    a = animatic(tmp_path, "a.mp4")
    held = still(tmp_path / "kf.png")
    for clip in (EditClip(a, 1.0), EditClip(held, 0.5, still=True), EditClip(a, 2.5)):
        info = probe(_segment(tmp_path / "s.mp4", clip, 0.3))  # 2.5 s: longer than its clip
        assert info.frames == round(clip.duration * FPS) and not info.has_audio
        assert info.fps == pytest.approx(FPS)
        assert (info.color_primaries, info.color_trc, info.color_space) == ("bt709",) * 3
    clip = EditClip(a, 1.0)
    plain = _segment(tmp_path / "plain.mp4", clip, 0)
    grainy = _segment(tmp_path / "grain.mp4", clip, 0.3)
    # grain changes luma, not chroma
    with av.open(str(plain)) as c1, av.open(str(grainy)) as c2:
        f1, f2 = next(c1.decode(video=0)), next(c2.decode(video=0))
        y1, y2 = (np.frombuffer(f.planes[0], np.uint8).astype(float) for f in (f1, f2))
        u1, u2 = (np.frombuffer(f.planes[1], np.uint8).astype(float) for f in (f1, f2))
    assert np.abs(y1 - y2).mean() > 1.0
    assert np.abs(u1 - u2).mean() < 0.5
    assert sha256_file(_segment(tmp_path / "again.mp4", clip, 0.3)) == sha256_file(grainy)


def test_ffmpeg_failure_is_a_media_error_with_its_last_lines(tmp_path: Path) -> None:
    with pytest.raises(MediaError) as e:
        ff.run_ffmpeg(
            ["-i", str(tmp_path / "missing.mp4"), str(tmp_path / "o.mp4")], what="testing"
        )
    assert "ffmpeg failed while testing" in e.value.message
    assert "missing.mp4" in (e.value.hint or "")


def test_probe_rejects_garbage_and_truncated_files(tmp_path: Path) -> None:
    (tmp_path / "g.mp4").write_bytes(b"\x00garbage" * 100)
    with pytest.raises(MediaError, match="g.mp4"):
        probe(tmp_path / "g.mp4")
    good = animatic(tmp_path, "a.mp4")
    data = good.read_bytes()
    (tmp_path / "t.mp4").write_bytes(data[: len(data) // 2])
    with pytest.raises(MediaError):
        probe(tmp_path / "t.mp4")


def test_ffmpeg_version_is_cached_without_a_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    ff._version_memo.clear()
    first = ff.ffmpeg_version()
    assert first and first[0].isalnum()
    ff._version_memo.clear()

    def no_process(*a: object, **k: object) -> None:
        raise AssertionError("ffmpeg was started to learn its version")

    monkeypatch.setattr(subprocess, "run", no_process)
    monkeypatch.setattr(subprocess, "Popen", no_process)
    assert ff.ffmpeg_version() == first


def test_vf_ffmpeg_must_exist(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("VF_FFMPEG", str(tmp_path / "nope"))
    ff._exe_memo.clear()
    try:
        with pytest.raises(MediaError):
            ff.ffmpeg_exe()
    finally:
        ff._exe_memo.clear()


def test_bytes_do_not_depend_on_the_cpu(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A lock made on one machine must hold on another: render with ffmpeg's SIMD code paths
    on and off (as a different CPU would) and get the same bytes."""
    kf = still(tmp_path / "kf.png")
    real = ff.run_ffmpeg

    def render(tag: str) -> list[str]:
        a, u, e, k = (tmp_path / f"{n}-{tag}.mp4" for n in ("a", "u", "e", "k"))
        previz.render_animatic(
            a,
            still=kf,
            width=W,
            height=H,
            fps=FPS,
            duration=1,
            move="handheld",
            seed=3,
            take=1,
            label="x",
        )
        previz.render_upscale(u, source=a, width=W * 2, height=H * 2)
        _segment(e, EditClip(a, 1.0), 0.3, scale=2)
        _segment(k, EditClip(kf, 0.5, still=True), 0.3, scale=2)
        return [sha256_file(p) for p in (a, u, e, k)]

    with_simd = render("simd")
    monkeypatch.setattr(ff, "run_ffmpeg", lambda args, **kw: real(["-cpuflags", "0", *args], **kw))
    assert render("plain-c") == with_simd
