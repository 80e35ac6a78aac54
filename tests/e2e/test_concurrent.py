"""Two commands on one film at once: the second waits for the first (or, with --no-wait, stops
at once), and neither corrupts anything: a loop of runs of two concurrent `vf build`s (and a
`vf pick` beside a build) leaves the store, the recipe index, the locks, the layout, the journal
and prompts.txt exactly as one build alone does. The lock is the kernel's: a build killed with
SIGKILL holds nothing."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.film import make_film, vf
from vfbuild.store import vfdir

TRACKED = ("locks", "01_Source_Images", "03_Generations", "05_Upscaled", "06_Edit")
STORE = (vfdir.OBJECTS, vfdir.RECIPES, vfdir.JOURNAL)


def snapshot(film: Path) -> dict[str, str]:
    """What a build leaves that matters, each file by its sha256 (index.log by its sorted
    lines, prompts.txt by its sorted entries without their times: -j 2 orders them otherwise)."""
    out: dict[str, str] = {}
    for top in (*TRACKED, *STORE):
        for p in sorted((film / top).rglob("*")):
            if not p.is_file():
                continue
            rel = p.relative_to(film).as_posix()
            data = p.read_bytes()
            if rel == vfdir.INDEX_LOG:
                data = b"\n".join(sorted(data.splitlines()))
            out[rel] = hashlib.sha256(data).hexdigest()
    prompts = film / "prompts.txt"
    if prompts.exists():
        text = re.sub(r"^\[[^\]]+\] ", "", prompts.read_text(), flags=re.M)
        entries = sorted(e.strip() for e in re.split(r"\n(?=\S)", text))
        out["prompts.txt"] = hashlib.sha256("\n".join(entries).encode()).hexdigest()
    return out


def _start(film: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "vfbuild", "-C", str(film), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_until_blocked(*procs: subprocess.Popen[str]) -> None:
    """Until each of `procs` waits in flock for the film's lock (a `->` line of /proc/locks
    names the waiters): a fixed sleep is not enough on a loaded machine, where a process may
    not reach the lock before the holder lets go."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        lines = Path("/proc/locks").read_text().splitlines()
        waiting = {int(line.split()[5].split(":")[0]) for line in lines if "->" in line}
        if all(p.pid in waiting for p in procs):
            return
        assert all(p.poll() is None for p in procs), "a command ended instead of waiting"
        time.sleep(0.05)
    raise AssertionError("the commands never waited for the film's lock")


def _wait_for_lock(film: Path, proc: subprocess.Popen[str]) -> None:
    """Until `proc` holds the film's lock (its pid is in the lock file)."""
    lock = film / vfdir.BUILD_LOCK
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if lock.exists() and f"pid {proc.pid}," in lock.read_text():
            return
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.01)
    raise AssertionError("the build never took the film's lock")


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    film = make_film(tmp_path_factory.mktemp("alone") / "film")
    vf(film, "build", "--tier", "draft")
    return snapshot(film)


def test_two_builds_at_once_in_a_loop_corrupt_nothing(
    tmp_path: Path, reference: dict[str, str]
) -> None:
    waited = 0
    for run in range(4):
        film = make_film(tmp_path / f"film{run}")
        a = _start(film, "build", "--tier", "draft")
        if run % 2:
            _wait_for_lock(film, a)  # the second surely comes while the first builds
        b = _start(film, "build", "--tier", "draft", "-j", "2")
        outs = [p.communicate(timeout=300) for p in (a, b)]
        for p, (out, err) in zip((a, b), outs, strict=True):
            assert p.returncode == 0, (out, err)
            assert "Traceback" not in err and "internal error" not in out + err
        waited += sum("waiting for another vfbuild command" in out for out, _ in outs)
        assert snapshot(film) == reference, f"run {run}"
        assert not list((film / vfdir.TMP).glob("*"))
        assert not (film / vfdir.BUILD_RUNNING).exists()
    assert waited >= 2  # the runs that surely overlapped said why they waited


@contextlib.contextmanager
def held(film: Path) -> Iterator[None]:
    """The film's lock held by this process, as a running build holds it."""
    (film / vfdir.VF).mkdir(exist_ok=True)
    with open(film / vfdir.BUILD_LOCK, "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        fh.truncate(0)
        fh.write(f"pid {os.getpid()}, vf build\n")
        fh.flush()
        yield


def test_no_wait_stops_at_once_with_a_clear_error(tmp_path: Path) -> None:
    film = make_film(tmp_path / "film")
    with held(film):
        for args in (("build", "--no-wait"), ("pick", "s010", "keyframe", "1", "--no-wait")):
            proc = vf(film, *args, check=False)
            assert proc.returncode == 2, proc.stderr
            assert "another vfbuild command is writing to this film" in proc.stderr
            assert f"pid {os.getpid()}, vf build" in proc.stderr and "hint:" in proc.stderr
            assert "Traceback" not in proc.stderr
    assert not list(film.glob("03_Generations/**/*.png"))  # the refused build made nothing


def test_a_pick_and_a_build_wait_for_the_holder(tmp_path: Path) -> None:
    film = make_film(tmp_path / "film")
    vf(film, "build", "--tier", "draft", "s010")
    with held(film):
        pick = _start(film, "pick", "s010", "keyframe", "2")
        build = _start(film, "build", "--tier", "draft", "s010", "--plain")
        _wait_until_blocked(pick, build)  # both wait
    out, err = pick.communicate(timeout=60)
    assert pick.returncode == 0, err
    assert "waiting for another vfbuild command on this film" in err
    out, err = build.communicate(timeout=120)
    assert build.returncode == 0, err
    assert "waiting for another vfbuild command on this film" in out
    assert "take: 2" in (film / "locks" / "s010.yaml").read_text()


def test_a_killed_build_holds_no_lock(tmp_path: Path, reference: dict[str, str]) -> None:
    film = make_film(tmp_path / "film")
    a = _start(film, "build", "--tier", "draft")
    _wait_for_lock(film, a)
    os.kill(a.pid, signal.SIGKILL)
    a.communicate()
    proc = vf(film, "build", "--tier", "draft", "--no-wait")
    assert "waiting" not in proc.stdout
    assert snapshot(film) == reference
