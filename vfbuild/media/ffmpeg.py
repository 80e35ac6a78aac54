"""Where ffmpeg is, what version it is, how every output is encoded, and how it is run.

This is the only module that imports ffmpeg-python (`ffmpeg`); it and imageio-ffmpeg are
imported inside functions because importing vfbuild must stay fast.

Determinism: x264's bytes depend on its thread count, so the encoder's threads are pinned and
written into every recipe through `encoder_identity()`; they depend on its instruction sets
too, so x264 stops at AVX2 (`X264_ASM`) wherever the CPU has it. Every output also gets
`DETERMINISM` (no encoder/muxer version strings, no timestamps, no copied metadata).

One module though long: locating, versioning, encoding settings and running are what
"the one place that knows ffmpeg" means, and the determinism rules bind them together.
"""

from __future__ import annotations

import collections
import contextlib
import functools
import json
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from vfbuild.errors import MediaError
from vfbuild.fsutil import atomic_write_text, user_cache_dir

log = logging.getLogger("vfbuild.ffmpeg")

ENCODER: dict[str, str | int] = {
    "vcodec": "libx264",
    "preset": "veryfast",
    "crf": 18,
    "pix_fmt": "yuv420p",
    "threads": 2,
    "acodec": "aac",
    "sample_rate": 48000,
    "channels": 2,
    "audio_bitrate": "192k",
}

# Output options that make a file's bytes a function of its inputs only.
DETERMINISM: list[str] = [
    "-bitexact",
    "-fflags",
    "+bitexact",
    "-flags:v",
    "+bitexact",
    "-flags:a",
    "+bitexact",
    "-map_metadata",
    "-1",
]

# swscale's SIMD paths round differently from CPU to CPU unless asked not to: every scaler
# we run (explicit or inserted for a format change) is accurate and bit-exact, so a lock made
# on one machine holds on another. `sws(kind)` gives an explicit scale filter's flags.
BITEXACT_SWS = "accurate_rnd+full_chroma_int+bitexact"


def sws(kind: str = "bicubic") -> str:
    return f"{kind}+{BITEXACT_SWS}"


# Filter that tags frames as Rec.709 (output -color_* options are ignored by ffmpeg 9).
REC709_SETPARAMS = "setparams=colorspace=bt709:color_primaries=bt709:color_trc=bt709:range=tv"

STDERR_TAIL = 10
_VERSION_CACHE_NAME = "ffmpeg-version.json"
_exe_memo: dict[str, str] = {}
_version_memo: dict[str, str] = {}


def encoder_identity() -> str:
    e = ENCODER
    return (
        f"{e['vcodec']} preset={e['preset']} crf={e['crf']} pix_fmt={e['pix_fmt']} "
        f"threads={e['threads']}; {e['acodec']} {e['sample_rate']}Hz "
        f"{e['channels']}ch {e['audio_bitrate']}"
    )


def video_codec_args() -> list[str]:
    e = ENCODER
    return [
        "-c:v", str(e["vcodec"]),
        "-preset", str(e["preset"]),
        "-crf", str(e["crf"]),
        "-pix_fmt", str(e["pix_fmt"]),
        "-threads", str(e["threads"]),
    ]  # fmt: skip


def audio_codec_args() -> list[str]:
    e = ENCODER
    return [
        "-c:a", str(e["acodec"]),
        "-ar", str(e["sample_rate"]),
        "-ac", str(e["channels"]),
        "-b:a", str(e["audio_bitrate"]),
    ]  # fmt: skip


def video_codec_kwargs() -> dict[str, Any]:
    """`video_codec_args()` as ffmpeg-python output keyword arguments."""
    return _pairs_to_kwargs(video_codec_args())


def audio_codec_kwargs() -> dict[str, Any]:
    return _pairs_to_kwargs(audio_codec_args())


def determinism_kwargs() -> dict[str, Any]:
    kwargs = _pairs_to_kwargs(DETERMINISM[1:])
    kwargs["bitexact"] = None  # a flag without a value
    return kwargs


def _pairs_to_kwargs(args: Sequence[str]) -> dict[str, Any]:
    return {args[i].lstrip("-"): args[i + 1] for i in range(0, len(args), 2)}


# --- locating the executable -------------------------------------------------------------


def ffmpeg_exe() -> str:
    """The ffmpeg to run: `$VF_FFMPEG`, else the binary that imageio-ffmpeg ships.

    Never starts a process: imageio-ffmpeg's own lookup runs `ffmpeg -version` to validate
    the binary, which would make every no-op build spawn ffmpeg.
    """
    override = os.environ.get("VF_FFMPEG")
    if override:
        found = _resolve_exe(override)
        if found is None:
            raise MediaError(
                f"VF_FFMPEG points to {override!r}, which is not an executable file",
                hint="set VF_FFMPEG to the full path of an ffmpeg binary, or unset it to use "
                "the one bundled with imageio-ffmpeg",
            )
        return found
    if "bundled" not in _exe_memo:
        _exe_memo["bundled"] = _bundled_exe()
    return _exe_memo["bundled"]


def _resolve_exe(name: str) -> str | None:
    path = Path(name).expanduser()
    if path.is_file() and os.access(path, os.X_OK):
        return str(path)
    if os.sep not in name:
        return shutil.which(name)
    return None


def _bundled_exe() -> str:
    try:
        import imageio_ffmpeg
    except ImportError as e:
        raise MediaError(
            "imageio-ffmpeg is not installed, so vfbuild has no ffmpeg",
            hint="pip install imageio-ffmpeg==0.8.1, or set VF_FFMPEG to an ffmpeg binary",
        ) from e
    env = os.environ.get("IMAGEIO_FFMPEG_EXE")
    if env:
        found = _resolve_exe(env)
        if found:
            return found
    try:
        from imageio_ffmpeg._definitions import FNAME_PER_PLATFORM, get_platform
        from imageio_ffmpeg._utils import _get_bin_dir

        exe = Path(_get_bin_dir()) / FNAME_PER_PLATFORM[get_platform()]
        if exe.is_file() and os.access(exe, os.X_OK):
            return str(exe)
    except (ImportError, KeyError, AttributeError, OSError):
        pass  # an imageio-ffmpeg without these internals: use its public lookup below
    try:
        return str(imageio_ffmpeg.get_ffmpeg_exe())
    except RuntimeError as e:
        raise MediaError(
            "no ffmpeg found", hint="set VF_FFMPEG to the full path of an ffmpeg binary"
        ) from e


# --- version, cached on disk -------------------------------------------------------------


def _cache_dir() -> Path:
    return user_cache_dir()


def _exe_key(exe: str) -> str:
    real = os.path.realpath(exe)
    try:
        st = os.stat(real)
    except OSError as e:
        raise MediaError(f"cannot read the ffmpeg executable {exe}", hint=str(e)) from e
    return f"{real}|{st.st_size}|{st.st_mtime_ns}"


def ffmpeg_version() -> str:
    """The version ffmpeg prints, e.g. "n9.0.2-17-g2a571b6068-20260930".

    Cached in `$XDG_CACHE_HOME/vfbuild/` keyed by the binary's path, size and mtime, so that
    asking (which every local recipe does) starts no process after the first time.
    """
    exe = ffmpeg_exe()
    key = _exe_key(exe)
    if key in _version_memo:
        return _version_memo[key]
    cache_file = _cache_dir() / _VERSION_CACHE_NAME
    cached = _read_version_cache(cache_file)
    version = cached.get(key)
    if not isinstance(version, str):
        version = _ask_version(exe)
        # Keep only live entries: one per binary that still exists unchanged.
        cached = {k: v for k, v in cached.items() if _still_valid(k)}
        cached[key] = version
        try:
            cache_file.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_text(cache_file, json.dumps(cached, indent=1, sort_keys=True) + "\n")
        except OSError as e:
            log.debug("cannot write %s: %s", cache_file, e)  # a cache, not a requirement
    _version_memo[key] = version
    return version


def _read_version_cache(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _still_valid(key: str) -> bool:
    path = key.split("|", 1)[0]
    try:
        return _exe_key(path) == key
    except MediaError:
        return False


def _ask_version(exe: str) -> str:
    log.debug("running %s -version", exe)
    try:
        proc = subprocess.run(
            [exe, "-hide_banner", "-version"],
            capture_output=True,
            text=True,
            timeout=30,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.SubprocessError) as e:
        raise MediaError(f"cannot run ffmpeg ({exe})", hint=str(e)) from e
    first = proc.stdout.splitlines()[0] if proc.stdout else ""
    words = first.split()
    if proc.returncode != 0 or len(words) < 3 or words[:2] != ["ffmpeg", "version"]:
        raise MediaError(
            f"{exe} does not look like ffmpeg (`-version` printed {first!r})",
            hint="set VF_FFMPEG to an ffmpeg binary",
        )
    return words[2]


# --- running ------------------------------------------------------------------------------


def graph_library() -> Any:
    """ffmpeg-python, for building filter graphs. Reached only through here: it is unmaintained
    and pulls in `future`, so the rest of vfbuild must not depend on it directly."""
    import ffmpeg

    return ffmpeg


def compile_stream(stream: Any) -> list[str]:
    """An ffmpeg-python output stream as an argument list, without the executable."""
    import ffmpeg

    return list(ffmpeg.compile(stream, cmd=[]))


def run_ffmpeg(
    args: list[str],
    *,
    what: str,
    duration: float | None = None,
    on_progress: Callable[[float], None] | None = None,
    stdin: Iterable[bytes] | None = None,
) -> None:
    """Run ffmpeg with `args` (everything after the executable); raise MediaError on failure.

    `stdin`, when given, is fed to ffmpeg's standard input (an input of `pipe:0`).

    `what` completes "ffmpeg failed while ...". With `on_progress`, ffmpeg reports its position
    on stdout and `on_progress` gets the fraction done (0..1) of `duration` seconds.
    """
    argv = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-y", "-loglevel", "error", "-nostats"]
    if on_progress is not None:
        argv += ["-progress", "pipe:1"]
    args = [_bitexact_graph(str(a), p) for p, a in zip(["", *map(str, args)], args, strict=False)]
    args = _x264_pinned(args)
    with _graphs_in_files(args) as args:
        argv += args
        log.debug("ffmpeg argv: %s", argv)
        if args.count("-i") > 256:
            _allow_open_files()
        _run(argv, what=what, duration=duration, on_progress=on_progress, stdin=stdin)


# x264's code for AVX-512 rounds differently from its code for AVX2 (and that from AVX's and
# SSE2's): the example's s030 upscale, locked on an AVX2 machine, remade on an AVX-512 one with
# other bytes. Measured on that clip: AVX2 313210eb…, AVX-512 and AVX 31a34905…, SSE2 and no asm
# d0f186dd…. Where a CPU has everything up to AVX2, x264 is told to use exactly that: on the
# AVX-512 machine, that set gave the locked 313210eb… again.
X264_ASM = "MMX2,SSE2Fast,SSSE3,SSE4.2,AVX,FMA3,BMI2,AVX2"
# The /proc/cpuinfo flags X264_ASM needs (the CPU must have them: x264 would die on SIGILL).
_X264_ASM_NEEDS = frozenset(
    {"sse2", "ssse3", "sse4_1", "sse4_2", "avx", "fma", "bmi1", "bmi2", "avx2"}
)


def _x264_pinned(args: list[str]) -> list[str]:
    """`args` with `-x264-params asm=X264_ASM` after each `-c:v libx264`, where the CPU allows
    (and where the caller did not set x264's params itself)."""
    at = [i for i in range(1, len(args)) if args[i] == "libx264" and args[i - 1].startswith("-c:v")]
    if not at or "-x264-params" in args or not _cpu_has_x264_asm():
        return args
    out = list(args)
    for i in reversed(at):
        out[i + 1 : i + 1] = ["-x264-params", f"asm={X264_ASM}"]
    return out


@functools.cache
def _cpu_has_x264_asm(cpuinfo: str = "/proc/cpuinfo") -> bool:
    """Whether this CPU has every instruction set of X264_ASM (Linux's /proc/cpuinfo; elsewhere
    x264 picks for itself, and a lock made on another CPU may not remake byte for byte)."""
    try:
        with open(cpuinfo, encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.partition(":")[2].split()) >= _X264_ASM_NEEDS
    except OSError:
        pass
    return False


# Linux refuses an argument longer than 32 pages (MAX_ARG_STRLEN, 128 KiB): a 5000-shot
# edit's soundtrack graph is about 1 MB. Longer graphs than this go through a file.
GRAPH_ON_ARGV_MAX = 64 * 1024


@contextlib.contextmanager
def _graphs_in_files(args: list[str]) -> Iterator[list[str]]:
    """`args` with each long `-filter_complex` graph read from a temporary file instead:
    `-/filter_complex FILE` (ffmpeg 7 and later) or `-filter_complex_script FILE` (before)."""
    long = [
        i
        for i, a in enumerate(args[1:], 1)
        if args[i - 1] == "-filter_complex" and len(a) > GRAPH_ON_ARGV_MAX
    ]
    if not long:
        yield args
        return
    import tempfile

    option = "-/filter_complex" if _major(ffmpeg_version()) >= 7 else "-filter_complex_script"
    with tempfile.TemporaryDirectory(prefix="vf-graph-") as folder:
        out = list(args)
        for n, i in enumerate(long):
            path = os.path.join(folder, f"graph{n}.txt")
            with open(path, "w", encoding="utf-8") as f:
                f.write(args[i])
            out[i - 1], out[i] = option, path
        yield out


def _major(version: str) -> int:
    """7 of "n7.1.1-…", "7.1.1-0+deb13u1"; 99 when it names no release (a git build
    says "N-12345-g…": new enough)."""
    m = re.match(r"n?(\d+)\.", version)
    return int(m.group(1)) if m else 99


@functools.cache
def _allow_open_files() -> None:
    """An edit opens one input per dialogue line: let ffmpeg (a child, it inherits this)
    open as many files as the system allows, not the common soft limit of 1024."""
    try:
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if hard == resource.RLIM_INFINITY or soft < hard:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    except (ImportError, ValueError, OSError) as e:
        log.debug("cannot raise the open-files limit: %s", e)


def _run(
    argv: list[str],
    *,
    what: str,
    duration: float | None,
    on_progress: Callable[[float], None] | None,
    stdin: Iterable[bytes] | None,
) -> None:
    try:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE if on_progress is not None else subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            preexec_fn=_die_with_parent(),
        )
    except OSError as e:
        raise MediaError(f"cannot start ffmpeg while {what}", hint=str(e)) from e

    tail: collections.deque[str] = collections.deque(maxlen=STDERR_TAIL)
    reader = threading.Thread(target=_drain, args=(proc.stderr, tail), daemon=True)
    reader.start()
    reported = 0.0
    try:
        if stdin is not None:
            _feed(proc, stdin)  # progress is not followed while feeding: nothing long uses both
        elif on_progress is not None:
            reported = _follow_progress(proc, duration, on_progress)
        returncode = proc.wait()
    except BaseException:
        _stop(proc)
        raise
    finally:
        reader.join(timeout=5)
        if proc.stdout is not None:
            proc.stdout.close()
    if returncode != 0:
        lines = list(tail) or [f"ffmpeg exited with status {returncode} and printed nothing"]
        raise MediaError(f"ffmpeg failed while {what}", hint="\n".join(lines))
    if on_progress is not None and reported < 1.0:
        on_progress(1.0)


PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


@functools.cache
def _prctl() -> Callable[..., int] | None:
    """libc's prctl, looked up once in the parent (the child must not load anything)."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes  # here: importing vfbuild stays fast

    try:
        fn = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
    fn.restype = ctypes.c_int
    return fn


def _die_with_parent() -> Callable[[], None] | None:
    """A `preexec_fn` that makes ffmpeg get SIGKILL when vf dies (a kill -9, a SIGTERM, a
    closed terminal): otherwise an edit's ffmpeg runs on for minutes, writing to a temp file
    nobody will read. Linux only; elsewhere ffmpeg is started as before.

    The signal fires when the *thread* that started the child ends, not only the process:
    `run_ffmpeg` waits for ffmpeg in the thread that started it (and stops it on any error
    first), so a worker thread never ends while its ffmpeg runs. Ctrl-C is unchanged: ffmpeg
    stays in vf's process group and gets the terminal's SIGINT as before."""
    prctl = _prctl()
    if prctl is None:
        return None
    parent = os.getpid()

    def preexec() -> None:
        # Runs in the child between fork and exec: no imports, no locks, nothing that
        # allocates much. If vf died before the prctl, no signal would come: exit now.
        if prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) == 0 and os.getppid() != parent:
            os._exit(1)

    return preexec


def _bitexact_graph(arg: str, previous: str) -> str:
    """Give every filtergraph default bit-exact scaler flags (see BITEXACT_SWS)."""
    if previous in ("-filter_complex", "-vf", "-filter:v") and not arg.startswith("sws_flags="):
        return f"sws_flags={sws()};{arg}"
    return arg


def _feed(proc: subprocess.Popen[bytes], chunks: Iterable[bytes]) -> None:
    """Write `chunks` to ffmpeg's stdin; if ffmpeg stops reading, its exit status says why."""
    assert proc.stdin is not None
    try:
        for chunk in chunks:
            proc.stdin.write(chunk)
    except BrokenPipeError:
        pass
    finally:
        with contextlib.suppress(BrokenPipeError):
            proc.stdin.close()


def _drain(stream: Any, tail: collections.deque[str]) -> None:
    # Read stderr continuously so ffmpeg never blocks on a full pipe; keep only the tail.
    for raw in iter(stream.readline, b""):
        line = raw.decode("utf-8", "replace").rstrip()
        if line:
            tail.append(line)
    stream.close()


def _follow_progress(
    proc: subprocess.Popen[bytes], duration: float | None, on_progress: Callable[[float], None]
) -> float:
    """Report ffmpeg's `-progress` output as fractions of `duration`; return the last one."""
    assert proc.stdout is not None
    last = -1.0
    for raw in iter(proc.stdout.readline, b""):
        key, _, value = raw.decode("ascii", "replace").strip().partition("=")
        if key == "out_time_us" and duration and duration > 0:
            try:
                seconds = int(value) / 1e6
            except ValueError:
                continue  # "N/A" before the first frame
            fraction = min(max(seconds / duration, 0.0), 1.0)
            if fraction > last:
                last = fraction
                on_progress(fraction)
    return last


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """Stop ffmpeg politely (SIGTERM lets it close its file), then for sure."""
    if proc.poll() is not None:
        return
    try:
        proc.terminate()
        proc.wait(timeout=3)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    except OSError:
        pass  # already gone


def ffmpeg_report(args: list[str], *, what: str, timeout: float = 600.0) -> str:
    """Run ffmpeg with `args` at log level info and return what it printed on stderr: the
    measuring filters (`loudnorm`'s first pass, `ebur128`, `volumedetect`) print there."""
    argv = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-y", "-nostats", "-loglevel", "info"]
    argv += [_bitexact_graph(str(a), p) for p, a in zip(["", *map(str, args)], args, strict=False)]
    log.debug("ffmpeg argv: %s", argv)
    try:
        proc = subprocess.run(
            argv,
            capture_output=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
            preexec_fn=_die_with_parent(),
        )
    except (OSError, subprocess.SubprocessError) as e:
        raise MediaError(f"cannot run ffmpeg while {what}", hint=str(e)) from e
    err = proc.stderr.decode("utf-8", "replace")
    if proc.returncode != 0:
        lines = err.strip().splitlines()[-STDERR_TAIL:]
        raise MediaError(f"ffmpeg failed while {what}", hint="\n".join(lines))
    return err
