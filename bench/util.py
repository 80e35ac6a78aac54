"""Timing, machine facts and Markdown for the benchmarks."""

from __future__ import annotations

import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BENCH = REPO / "bench"
OUT = BENCH / "out"
WORK = OUT / "work"
DVC_VENV = BENCH / ".venv-dvc"
MAKE = "/usr/bin/make"


@dataclass
class Sample:
    """One run of one command: wall and CPU seconds, peak RSS, exit status and output."""

    wall: float
    cpu: float  # user + system, of the process and every child it waited for
    maxrss_mib: float
    rc: int
    stdout: str
    stderr: str


def run_timed(
    argv: Sequence[str], *, cwd: Path | None = None, env: dict[str, str] | None = None
) -> Sample:
    """Run `argv` to completion; its own rusage comes from wait4 (not the harness's)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(list(argv), cwd=cwd, env=env, stdout=out, stderr=err)
        _, status, ru = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return Sample(
            wall,
            ru.ru_utime + ru.ru_stime,
            ru.ru_maxrss / 1024,
            proc.returncode,
            out.read().decode("utf-8", "replace"),
            err.read().decode("utf-8", "replace"),
        )


@dataclass
class Series:
    """The samples of one command across the rounds of a side-by-side comparison."""

    label: str
    samples: list[Sample] = field(default_factory=list)

    @property
    def wall(self) -> float:
        return statistics.median(s.wall for s in self.samples)

    @property
    def cpu(self) -> float:
        return statistics.median(s.cpu for s in self.samples)

    @property
    def spread(self) -> str:
        walls = [s.wall for s in self.samples]
        return f"{min(walls):.3f}–{max(walls):.3f}"


def rounds(
    commands: dict[str, tuple[Sequence[str], Path | None, dict[str, str] | None]],
    runs: int,
    *,
    warmup: int = 1,
    check=None,  # type: ignore[no-untyped-def]
    log=print,  # type: ignore[no-untyped-def]
) -> dict[str, Series]:
    """Run every command once per round, side by side (round-robin), `warmup` rounds first
    (not kept). `check(label, sample)` may raise on a run that did not do what it should."""
    series = {label: Series(label) for label in commands}
    for r in range(warmup + runs):
        for label, (argv, cwd, env) in commands.items():
            s = run_timed(argv, cwd=cwd, env=env)
            if check is not None:
                check(label, s)
            if r >= warmup:
                series[label].samples.append(s)
        kept = "warm-up" if r < warmup else f"run {r - warmup + 1}/{runs}"
        log(
            f"    {kept}: "
            + ", ".join(
                f"{label} {series[label].samples[-1].wall:.3f}s" if r >= warmup else label
                for label in commands
            )  # fmt: skip
        )
    return series


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


# --------------------------------------------------------------------------- machine


def machine() -> dict[str, str]:
    cpu = platform.processor() or "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        kb = next(
            int(line.split()[1])
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal:")
        )
        ram = f"{kb / 1024 / 1024:.1f} GiB"
    except (OSError, StopIteration):
        ram = "?"
    osname = platform.platform()
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                osname = f"{line.split('=', 1)[1].strip(chr(34))} ({platform.release()})"
    except OSError:
        pass
    try:
        load = " / ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        load = "?"
    return {
        "CPU": cpu,
        "cores": str(os.cpu_count()),
        "RAM": ram,
        "OS": osname,
        "load average at start (1/5/15 min)": load,
    }


def _first_line(argv: Sequence[str]) -> str | None:
    try:
        proc = subprocess.run(list(argv), capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.SubprocessError):
        return None
    text = (proc.stdout or proc.stderr).strip()
    return text.splitlines()[0] if proc.returncode == 0 and text else None


def git_rev() -> str:
    rev = _first_line(["git", "-C", str(REPO), "rev-parse", "--short=12", "HEAD"]) or "?"
    dirty = subprocess.run(
        ["git", "-C", str(REPO), "status", "--porcelain", "--", "vfbuild"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    return rev + (" + uncommitted changes in vfbuild/" if dirty else "")


def dvc_exe() -> str | None:
    exe = DVC_VENV / "bin" / "dvc"
    return str(exe) if exe.exists() else shutil.which("dvc")


def install_dvc(log=print) -> str | None:  # type: ignore[no-untyped-def]
    """DVC in bench/.venv-dvc (pip from PyPI), unless one is already there or on PATH."""
    found = dvc_exe()
    if found:
        return found
    log("  installing DVC into bench/.venv-dvc (pip) ...")
    try:
        subprocess.run([sys.executable, "-m", "venv", str(DVC_VENV)], check=True)
        subprocess.run(
            [str(DVC_VENV / "bin" / "pip"), "install", "-q", "dvc"],
            check=True,
            capture_output=True,
            timeout=1200,
        )
    except (OSError, subprocess.SubprocessError) as e:
        log(f"  could not install DVC: {e}")
        return None
    return dvc_exe()


def dvc_env() -> dict[str, str]:
    env = dict(os.environ)
    env["DVC_NO_ANALYTICS"] = "1"
    return env


def versions(dvc: str | None) -> dict[str, str]:
    import importlib.metadata as md

    def pkg(name: str) -> str:
        try:
            return md.version(name)
        except md.PackageNotFoundError:
            return "not installed"

    out = {
        "python": platform.python_version(),
        "vfbuild": f"{pkg('vfbuild')} at git {git_rev()}",
        "doit (vfbuild's task runner)": pkg("doit"),
        "pydantic": pkg("pydantic"),
        "ruamel.yaml / clib": f"{pkg('ruamel.yaml')} / {pkg('ruamel.yaml.clib')}",
        "GNU make": _first_line([MAKE, "--version"]) or "MISSING",
        "dvc": (
            _first_line(
                [dvc, "--version"],
            )
            if dvc
            else None
        )
        or "MISSING",
    }
    try:
        from vfbuild.media.ffmpeg import ffmpeg_version

        out["ffmpeg (imageio-ffmpeg)"] = ffmpeg_version()
    except Exception:  # noqa: BLE001 - only a line of the report
        out["ffmpeg (imageio-ffmpeg)"] = "?"
    return out


# --------------------------------------------------------------------------- Markdown


def table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    def cell(v: object) -> str:
        return str(v).replace("|", "\\|")

    lines = [
        "| " + " | ".join(header) + " |",
        "| " + " | ".join("---" if i == 0 else "---:" for i in range(len(header))) + " |",
    ]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def secs(v: float | None) -> str:
    if v is None:
        return "—"
    return f"{v * 1000:.0f} ms" if v < 1 else f"{v:.2f} s"


def ratio(a: float | None, b: float | None) -> str:
    if a is None or b is None or b == 0:
        return "—"
    x = a / b
    return f"{x:.1f}×" if x >= 0.95 else f"{x:.2f}×" if x >= 0.1 else f"{x:.3f}×"
