"""Killing `vf` kills the ffmpeg it started: an edit's ffmpeg does not run on for minutes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from ruamel.yaml import YAML

from tests.e2e.film import make_film


def _ffmpeg_children(parent: int) -> list[int]:
    """Processes whose parent is `parent` and that run ffmpeg on media (not `-version`)."""
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
            cmdline = Path(entry.path, "cmdline").read_bytes()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        argv = cmdline.split(b"\0")
        if ppid == parent and b"ffmpeg" in argv[0] and b"-version" not in argv:
            found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    """Running, not a zombie waiting for its new parent to reap it."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_ffmpeg_dies_with_a_killed_vf(tmp_path: Path) -> None:
    film = make_film(tmp_path / "film")
    # A long rough cut at 1080p: its one ffmpeg runs for many seconds.
    doc = YAML().load(film / "shots.yaml")
    doc["film"]["delivery"] = "1920x1080"
    for shot in doc["shots"]:
        shot["duration"] = 10
    YAML().dump(doc, film / "shots.yaml")
    proc = subprocess.Popen(
        [sys.executable, "-m", "vfbuild", "-C", str(film), "build", "--tier", "draft"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        children: list[int] = []
        while not children and time.monotonic() < deadline and proc.poll() is None:
            children = _ffmpeg_children(proc.pid)
            time.sleep(0.01)
        assert children, "vf never ran ffmpeg"
        os.kill(proc.pid, signal.SIGKILL)  # vf only, not its process group
        proc.wait()
        deadline = time.monotonic() + 5
        while any(map(_alive, children)) and time.monotonic() < deadline:
            time.sleep(0.02)
        survivors = [pid for pid in children if _alive(pid)]
        for pid in survivors:  # leave nothing running behind the test
            os.kill(pid, signal.SIGKILL)
        assert survivors == []
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
