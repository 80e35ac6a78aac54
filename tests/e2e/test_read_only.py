"""A read-only film: `check`, `plan` and `status` work; `build` and `pick` say that the film is
read-only and what cannot be done, and change nothing. The film is mounted read-only in a
private mount namespace of the `vf` process (root only: skipped where that cannot be done)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.film import make_film, vf

_MOUNT_RO = 'mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" "$1" && shift && exec "$@"'


def _read_only(film: Path, *cmd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["unshare", "-m", "--propagation", "private", "sh", "-c", _MOUNT_RO, "sh", str(film), *cmd],
        capture_output=True,
        text=True,
        timeout=120,
    )


def _can_mount(tmp_path: Path) -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = tmp_path / "probe"
    probe.mkdir()
    touch = _read_only(probe, "sh", "-c", '! touch "$0/x" 2>/dev/null', str(probe))
    return touch.returncode == 0 and not (probe / "x").exists()


def _tree(film: Path) -> dict[str, tuple[int, int]]:
    return {
        str(p.relative_to(film)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in film.rglob("*")
        if p.is_file()
    }


def test_a_read_only_film_can_be_checked_planned_and_shown_not_built(tmp_path: Path) -> None:
    if not _can_mount(tmp_path):
        pytest.skip("cannot mount a read-only folder here (needs root and unshare)")
    film = make_film(tmp_path / "film")
    vf(film, "build", "--tier", "draft")
    vf(film, "pick", "s010", "keyframe", "1")
    vf(film, "status")  # the caches a reader would write are there: it need not write
    before = _tree(film)
    run = [sys.executable, "-m", "vfbuild", "-C", str(film)]
    for args in (["check"], ["plan"], ["status"]):
        proc = _read_only(film, *run, *args)
        assert proc.returncode == 0, (args, proc.stderr)
        assert "internal error" not in proc.stderr
    for args in (["build", "--tier", "draft"], ["pick", "s020", "keyframe", "1"]):
        proc = _read_only(film, *run, *args)
        assert proc.returncode == 2, (args, proc.stdout, proc.stderr)
        assert f"the film at {film} is read-only" in proc.stderr
        assert "`vf check`, `vf plan` and `vf status` work" in proc.stderr
        assert "internal error" not in proc.stderr and "Traceback" not in proc.stderr
    assert _tree(film) == before
