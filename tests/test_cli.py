"""The command line: global options (-C, -v) work before and after the command."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.e2e.film import make_film
from vfbuild.cli import build_parser


@pytest.mark.parametrize(
    "argv",
    [
        ["-v", "-C", "films/a", "build", "-j", "2"],
        ["build", "-v", "-C", "films/a", "-j", "2"],
        ["-C", "films/a", "build", "-j", "2", "--verbose"],
        ["-v", "build", "-j", "2", "-C", "films/a"],
    ],
)
def test_global_options_work_before_and_after_the_command(argv: list[str]) -> None:
    args = build_parser().parse_args(argv)
    assert (args.C, args.verbose, args.jobs) == ("films/a", True, 2)


def test_a_global_option_given_before_the_command_is_not_undone_by_it() -> None:
    args = build_parser().parse_args(["-v", "-C", "x", "status"])
    assert (args.C, args.verbose) == ("x", True)
    args = build_parser().parse_args(["pick", "s010", "keyframe", "2", "--version", "1"])
    assert (args.C, args.verbose, args.version) == (None, False, 1)


def _vf(film: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vfbuild", *argv], capture_output=True, text=True, cwd=film,
        timeout=120,
    )  # fmt: skip


def _age(film: Path) -> None:
    """Make every file a minute old: a plan is kept (and replayed, which its debug log says)
    only when no input or output is seconds old."""
    old = time.time() - 60
    for f in [film, *film.rglob("*")]:
        os.utime(f, (old, old))


def test_vf_plan_minus_v_logs_as_vf_minus_v_plan_does(tmp_path: Path) -> None:
    film = make_film(tmp_path / "film")
    _age(film)
    assert _vf(film, "plan").returncode == 0
    _age(film)
    first = _vf(film, "plan")  # kept for the next ones
    after = _vf(film, "plan", "-v", "-C", str(film))
    before = _vf(film, "-v", "-C", str(film), "plan")
    assert (first.returncode, after.returncode, before.returncode) == (0, 0, 0), after.stderr
    said = "nothing changed since the last plan"
    assert said not in first.stderr and said in after.stderr and said in before.stderr
    assert after.stdout == before.stdout == first.stdout
