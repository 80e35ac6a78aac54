"""More of the local renderers and the edit: moves go the right way, errors clean up after
themselves, letterboxing, hold versus loop, audio kept through upscale."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

from vfbuild.errors import MediaError
from vfbuild.fsutil import sha256_file
from vfbuild.media import ffmpeg as ff
from vfbuild.media.probe import probe
from vfbuild.media.segment import LOOP_AFTER, EditClip, render_segment, segment_args
from vfbuild.providers.local import previz

W, H, FPS = 160, 90, 24


def _still(out: Path, *, width: int = 320, height: int = 180, **kw: object) -> Path:
    args: dict[str, object] = dict(
        width=width,
        height=height,
        shot_id="s020",
        title="Winter to Spring",
        prompt="a yellow car crosses the frame",
        notes=["camera: Alexa Mini, 35mm"],
        seed=3,
        take=1,
        references=[],
    )
    args.update(kw)
    previz.render_still(out, **args)  # type: ignore[arg-type]
    return out


def _animatic(out: Path, still: Path, *, move: str = "push-in", **kw: object) -> Path:
    args: dict[str, object] = dict(
        still=still,
        width=W,
        height=H,
        fps=FPS,
        duration=1.0,
        move=move,
        seed=3,
        take=1,
        label="s020 · draft v001 t1 · PREVIZ ANIMATIC",
    )
    args.update(kw)
    previz.render_animatic(out, **args)  # type: ignore[arg-type]
    return out


def _frames(path: Path) -> list[np.ndarray]:
    import av

    with av.open(str(path)) as c:
        return [f.to_ndarray(format="gray").astype(float) for f in c.decode(video=0)]


def _shift(a: np.ndarray, b: np.ndarray) -> tuple[int, int]:
    """How far the picture moved from a to b (dy, dx), by phase correlation."""
    f = np.fft.fft2(b) * np.conj(np.fft.fft2(a))
    r = np.abs(np.fft.ifft2(f / (np.abs(f) + 1e-9)))
    dy, dx = (int(v) for v in np.unravel_index(int(np.argmax(r)), r.shape))
    h, w = a.shape
    return (dy - h if dy > h // 2 else dy, dx - w if dx > w // 2 else dx)


@pytest.fixture(scope="module")
def still(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _still(tmp_path_factory.mktemp("still") / "kf.png")


def test_renderer_identity_names_what_the_bytes_depend_on() -> None:
    ident = previz.renderer_identity()
    assert set(ident) == {"ffmpeg", "pillow", "encoder", "previz"}
    assert ident["previz"].isdigit() and "threads=2" in ident["encoder"]


def test_stills_at_any_size_with_references_and_any_text(tmp_path: Path, still: Path) -> None:
    with_ref = _still(tmp_path / "r.png", references=[still])
    assert sha256_file(with_ref) != sha256_file(still)  # the thumbnail is drawn
    odd = _still(
        tmp_path / "u.png",
        width=180,
        height=320,
        prompt="crème brûlée — naïve “quotes” ×2 日本語 " + "long " * 200,
        notes=["a note that is far too long to fit on one line of a portrait frame " * 3],
    )
    assert (probe(odd).width, probe(odd).height) == (180, 320)


def test_a_failed_still_leaves_nothing(tmp_path: Path) -> None:
    bad = tmp_path / "ref.png"
    bad.write_bytes(b"not an image")
    out = tmp_path / "s.png"
    with pytest.raises(MediaError, match="ref.png"):
        _still(out, references=[bad])
    assert not out.exists()
    with pytest.raises(MediaError):
        _still(out, width=321)  # 4:2:0 video needs even sizes
    assert not out.exists()


@pytest.mark.parametrize(
    ("move", "sign"),
    [("pan-right", (0, -1)), ("pan-left", (0, 1)), ("tilt-down", (-1, 0)), ("tilt-up", (1, 0))],
)
def test_moves_go_their_way(tmp_path: Path, still: Path, move: str, sign: tuple[int, int]) -> None:
    frames = _frames(_animatic(tmp_path / "a.mp4", still, move=move))
    top = H * 2 // 3  # above the burnt-in label, which does not move
    dy, dx = _shift(frames[0][:top], frames[-1][:top])
    # A camera panning right sees the picture slide left, and so on.
    for got, want in zip((dy, dx), sign, strict=True):
        assert (got > 2 if want > 0 else got < -2) if want else abs(got) <= 2, (move, dy, dx)


def test_aliases_exact_frames_and_unknown_moves(tmp_path: Path, still: Path) -> None:
    a = _animatic(tmp_path / "a.mp4", still, move="dolly-in", duration=1.3)
    b = _animatic(tmp_path / "b.mp4", still, move="push-in", duration=1.3)
    assert sha256_file(a) == sha256_file(b)
    assert probe(a).frames == round(1.3 * FPS)
    out = tmp_path / "c.mp4"
    with pytest.raises(MediaError, match="whip-pan"):
        _animatic(out, still, move="whip-pan")
    assert not out.exists() and not list(tmp_path.glob("*.label.png"))


def test_a_still_of_another_shape_fills_the_frame(tmp_path: Path) -> None:
    tall = _still(tmp_path / "tall.png", width=90, height=160)
    info = probe(_animatic(tmp_path / "a.mp4", tall, move="static"))
    assert (info.width, info.height, info.frames) == (W, H, FPS)


def test_handheld_keeps_moving(tmp_path: Path, still: Path) -> None:
    frames = _frames(_animatic(tmp_path / "a.mp4", still, move="handheld"))
    steps = [np.abs(a - b).mean() for a, b in zip(frames, frames[1:], strict=False)]
    # A smooth shake may rest for a frame where it turns, but not for long.
    assert sum(s > 0.05 for s in steps) >= 0.8 * len(steps)


def _tone(path: Path, seconds: float, *extra: str) -> Path:
    subprocess.run(
        [ff.ffmpeg_exe(), "-v", "error", "-y", "-f", "lavfi", "-i",
         f"sine=frequency=330:duration={seconds}:sample_rate=44100", *extra, str(path)],
        check=True,
    )  # fmt: skip
    return path


def test_upscale_and_lipsync_are_deterministic_and_keep_sound(tmp_path: Path, still: Path) -> None:
    clip = _animatic(tmp_path / "a.mp4", still)
    tone = _tone(tmp_path / "t.wav", 1.4)
    synced = [tmp_path / f"l{i}.mp4" for i in (1, 2)]
    for out in synced:
        previz.render_lipsync(out, clip=clip, audio=tone, fps=FPS)
    assert sha256_file(synced[0]) == sha256_file(synced[1])
    ups = [tmp_path / f"u{i}.mp4" for i in (1, 2)]
    for out in ups:
        previz.render_upscale(out, source=synced[0], width=W * 2, height=H * 2)
    assert sha256_file(ups[0]) == sha256_file(ups[1])
    src, up = probe(synced[0]), probe(ups[0])
    assert up.has_audio and up.audio_codec == "aac" and up.frames == src.frames
    assert up.audio_duration == pytest.approx(1.4, abs=0.03)
    assert (up.color_primaries, up.color_trc, up.color_space) == ("bt709",) * 3


def test_a_segment_is_one_command_and_grain_zero_adds_no_filters(
    tmp_path: Path, still: Path
) -> None:
    clip = EditClip(still, 1.0, still=True)
    kw = {"width": W, "height": H, "fps": FPS, "seed": 7}
    plain = segment_args(tmp_path / "o.mp4", clip, grain=0, **kw)  # type: ignore[arg-type]
    assert plain.count("-filter_complex") == 1 and plain.count("-i") == 1 and "-an" in plain
    graph = plain[plain.index("-filter_complex") + 1]
    assert "noise" not in graph and "blend" not in graph
    grainy = segment_args(tmp_path / "o.mp4", clip, grain=0.25, **kw)  # type: ignore[arg-type]
    graph = grainy[grainy.index("-filter_complex") + 1]
    assert "blend=c0_mode=overlay:c0_opacity=0.2500" in graph and "all_" not in graph
    assert "c0_seed=7" in graph


def _segment(out: Path, clip: EditClip, **kw: object) -> Path:
    args: dict[str, object] = {"width": W, "height": H, "fps": FPS, "grain": 0, "seed": 1}
    render_segment(out, clip, **(args | kw))  # type: ignore[arg-type]
    return out


def test_segments_letterbox_hold_and_loop(tmp_path: Path, still: Path) -> None:
    square = _animatic(tmp_path / "sq.mp4", _still(tmp_path / "sq.png", width=90, height=90),
                       width=90, height=90, move="pan-right")  # fmt: skip
    moving = _animatic(tmp_path / "m.mp4", still, move="pan-right")
    long_shot = LOOP_AFTER + 0.5
    progress: list[float] = []
    boxed = _segment(tmp_path / "a.mp4", EditClip(square, 1.0), on_progress=progress.append)
    assert progress[-1] == 1.0
    held = _segment(tmp_path / "b.mp4", EditClip(moving, 2.0))
    looped = _segment(tmp_path / "c.mp4", EditClip(moving, long_shot))
    for path, seconds in ((boxed, 1.0), (held, 2.0), (looped, long_shot)):
        info = probe(path)
        assert info.frames == round(seconds * FPS) and not info.has_audio
    # the square clip is pillarboxed: black (limited-range 16) bars left and right
    frame = _frames(boxed)[10]
    assert frame[:, :30].mean() < 20 and frame[:, 60:100].mean() > 30
    # the 2 s shot holds its 1 s clip's last frame; the long shot loops its clip instead
    frames = _frames(held)
    assert np.abs(frames[int(1.5 * FPS)] - frames[int(1.9 * FPS)]).mean() < 0.5
    frames = _frames(looped)
    assert np.abs(frames[-int(0.4 * FPS)] - frames[-1]).mean() > 1.0


def test_a_failed_segment_leaves_nothing(tmp_path: Path) -> None:
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"\x00" * 1000)
    out = tmp_path / "segment.mp4"
    with pytest.raises(MediaError, match="bad.mp4"):
        _segment(out, EditClip(bad, 1.0))
    assert not out.exists()
