"""Locating, versioning and running ffmpeg: no needless processes, clear failures, progress."""

from __future__ import annotations

import logging
import os
import subprocess
from pathlib import Path

import pytest

from vfbuild.errors import MediaError
from vfbuild.media import ffmpeg as ff


@pytest.fixture(autouse=True)
def _fresh_memos() -> object:
    ff._exe_memo.clear()
    ff._version_memo.clear()
    yield
    ff._exe_memo.clear()
    ff._version_memo.clear()


def _forbid_processes(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_process(*a: object, **k: object) -> None:
        raise AssertionError("a process was started")

    monkeypatch.setattr(subprocess, "run", no_process)
    monkeypatch.setattr(subprocess, "Popen", no_process)


def _fake_ffmpeg(path: Path, version: str) -> Path:
    path.write_text(f"#!/bin/sh\necho 'ffmpeg version {version} Copyright (c) the authors'\n")
    path.chmod(0o755)
    return path


def test_the_encoder_is_pinned_and_named() -> None:
    assert ff.ENCODER["threads"] == 2  # x264 bytes depend on the thread count (FACTS.md)
    ident = ff.encoder_identity()
    assert "libx264" in ident and "threads=2" in ident and "crf=18" in ident and "aac" in ident
    args = ff.video_codec_args()
    assert args[args.index("-threads") + 1] == "2"
    assert {"-bitexact", "-map_metadata"} <= set(ff.DETERMINISM)


def test_finding_the_bundled_ffmpeg_starts_no_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VF_FFMPEG", raising=False)
    monkeypatch.delenv("IMAGEIO_FFMPEG_EXE", raising=False)
    _forbid_processes(monkeypatch)
    exe = ff.ffmpeg_exe()
    assert os.access(exe, os.X_OK)


def test_version_cache_is_keyed_by_the_binary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    fake = _fake_ffmpeg(tmp_path / "ffmpeg", "t-1")
    monkeypatch.setenv("VF_FFMPEG", str(fake))
    assert ff.ffmpeg_version() == "t-1"
    assert (tmp_path / "cache" / "vfbuild" / "ffmpeg-version.json").is_file()

    # A new binary (size and mtime change) is asked again, not served from the cache.
    _fake_ffmpeg(fake, "t-22")
    os.utime(fake, ns=(1, 10**18))
    ff._version_memo.clear()
    assert ff.ffmpeg_version() == "t-22"


def test_an_executable_that_is_not_ffmpeg_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    script = tmp_path / "notffmpeg"
    script.write_text("#!/bin/sh\necho hello\n")
    script.chmod(0o755)
    monkeypatch.setenv("VF_FFMPEG", str(script))
    with pytest.raises(MediaError, match="does not look like ffmpeg"):
        ff.ffmpeg_version()


def test_failure_hint_is_the_last_lines_only(tmp_path: Path) -> None:
    with pytest.raises(MediaError) as e:
        ff.run_ffmpeg(["-f", "lavfi", "-i", "nosuchsource=x=1", "-f", "null", "-"], what="x")
    hint = e.value.hint or ""
    assert 0 < len(hint.splitlines()) <= ff.STDERR_TAIL
    assert "nosuchsource" in hint or "No such filter" in hint


def test_argv_is_logged_at_debug(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="vfbuild.ffmpeg"):
        ff.run_ffmpeg(
            ["-f", "lavfi", "-i", "color=c=red:s=32x32:d=0.1", "-f", "null", "-"], what="x"
        )
    assert any("color=c=red" in r.getMessage() for r in caplog.records)


def test_progress_rises_to_one() -> None:
    seen: list[float] = []
    ff.run_ffmpeg(
        ["-f", "lavfi", "-i", "testsrc2=s=64x36:r=24:d=2", "-f", "null", "-"],
        what="counting",
        duration=2.0,
        on_progress=seen.append,
    )
    assert seen and seen[-1] == 1.0
    assert seen == sorted(seen) and all(0.0 <= f <= 1.0 for f in seen)


def test_an_interrupt_stops_ffmpeg(monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[subprocess.Popen[bytes]] = []
    real_popen = subprocess.Popen

    def recording_popen(*a: object, **k: object) -> subprocess.Popen[bytes]:
        proc = real_popen(*a, **k)  # type: ignore[call-overload]
        started.append(proc)
        return proc

    monkeypatch.setattr(subprocess, "Popen", recording_popen)

    def interrupt(fraction: float) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        # -re reads in real time, so this would run for 30 s if left alone.
        ff.run_ffmpeg(
            ["-re", "-f", "lavfi", "-i", "testsrc2=s=64x36:r=24:d=30", "-f", "null", "-"],
            what="waiting",
            duration=30.0,
            on_progress=interrupt,
        )
    assert len(started) == 1 and started[0].poll() is not None


def test_compile_stream_gives_arguments_without_the_executable(tmp_path: Path) -> None:
    import ffmpeg

    stream = ffmpeg.input("in.png").filter("scale", 32, 18).output(str(tmp_path / "o.png"))
    args = ff.compile_stream(stream)
    assert args[:2] == ["-i", "in.png"] and args[-1].endswith("o.png")


def test_a_graph_too_long_for_one_argument_is_read_from_a_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 5000-shot edit's soundtrack graph is longer than Linux lets one argument be: it goes
    to ffmpeg in a file, and the mix is the same bytes as with the graph on the command line."""
    from tests.media.test_media import tone
    from vfbuild.media.join import join_args
    from vfbuild.media.soundtrack import Placement, render_soundtrack

    line = tone(tmp_path / "line.wav", 0.2)
    lines = [Placement(start=i * 0.1, path=line, length=0.1) for i in range(5000)]
    args = join_args(
        tmp_path / "film.mp4", tmp_path / "list", frames=12000, fps=24, placements=lines
    )
    graph = args[args.index("-filter_complex") + 1]
    assert len(graph) > 128 * 1024  # MAX_ARG_STRLEN: execve refuses it (E2BIG)
    with ff._graphs_in_files(args) as sent:
        assert max(len(a) for a in sent) < 4096
        option = next(a for a in sent if "filter_complex" in a)
        assert Path(sent[sent.index(option) + 1]).read_text() == graph
        folder = Path(sent[sent.index(option) + 1]).parent
    assert not folder.exists()  # no file left behind

    few = [Placement(start=0.0, path=line), Placement(start=0.5, path=line, gain_db=-6.0)]
    render_soundtrack(tmp_path / "argv.wav", few, 1.0)
    monkeypatch.setattr(ff, "GRAPH_ON_ARGV_MAX", 10)
    render_soundtrack(tmp_path / "file.wav", few, 1.0)
    on_argv = (tmp_path / "argv.wav").read_bytes()
    assert len(on_argv) > 100_000 and (tmp_path / "file.wav").read_bytes() == on_argv


@pytest.mark.parametrize(
    ("version", "major"),
    [("n9.0.2-17-g2a571b6068-20260930", 9), ("5.1.9-0+deb12u1", 5), ("N-118000-gabc", 99)],
)
def test_the_major_version_picks_how_a_graph_file_is_named(version: str, major: int) -> None:
    assert ff._major(version) == major


def test_x264_is_pinned_to_avx2_only_where_the_cpu_has_all_of_it(tmp_path: Path) -> None:
    v3 = "fpu sse sse2 ssse3 sse4_1 sse4_2 avx fma bmi1 bmi2 avx2"
    for name, flags, pinned in [
        ("avx512", f"{v3} avx512f avx512bw", True),
        ("avx2", v3, True),
        ("avx", "fpu sse sse2 ssse3 sse4_1 sse4_2 avx", False),
    ]:
        cpuinfo = tmp_path / name
        cpuinfo.write_text(f"processor\t: 0\nflags\t\t: {flags}\n\nprocessor\t: 1\n")
        assert ff._cpu_has_x264_asm(str(cpuinfo)) is pinned
    assert ff._cpu_has_x264_asm(str(tmp_path / "none")) is False


def test_the_x264_pin_goes_after_each_x264_output_and_nowhere_else(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(ff, "_cpu_has_x264_asm", lambda: True)
    args = ["-i", "a.mp4", "-c:v", "libx264", "-crf", "18", "x.mp4", "-c:v:0", "libx264", "y.mp4"]
    pin = ["-x264-params", f"asm={ff.X264_ASM}"]
    assert ff._x264_pinned(args) == [*args[:4], *pin, *args[4:9], *pin, args[9]]
    prores = ["-i", "a.mp4", "-c:v", "prores_ks", "x.mov"]
    assert ff._x264_pinned(prores) == prores
    monkeypatch.setattr(ff, "_cpu_has_x264_asm", lambda: False)
    assert ff._x264_pinned(args) == args


def test_x264_uses_exactly_the_pinned_instruction_sets() -> None:
    """x264 ignores a name it does not know: read back what it says it uses."""
    if not ff._cpu_has_x264_asm():
        pytest.skip("this CPU lacks an instruction set of X264_ASM")
    args = ["-f", "lavfi", "-i", "testsrc2=size=64x36:rate=24:duration=0.2",
            *ff.video_codec_args(), "-f", "null", "-"]  # fmt: skip
    proc = subprocess.run(
        [ff.ffmpeg_exe(), "-hide_banner", *ff._x264_pinned(args)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    said = next(ln for ln in proc.stderr.splitlines() if "using cpu capabilities" in ln)
    assert said.split("capabilities: ")[1].split() == ff.X264_ASM.split(",")
