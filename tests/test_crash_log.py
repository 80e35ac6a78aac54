"""The crash handler (a bug's last words) writes its log as carefully as everything else: not
through a planted link, not failing when $TMPDIR is gone, never raising itself."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from vfbuild import cli


def _crash(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> int:
    def bug(args: object) -> int:
        raise RuntimeError("a bug")

    monkeypatch.setattr(cli, "cmd_check", bug)
    return cli.main(["-C", str(tmp_path), "check"])


def test_the_crash_log_does_not_follow_a_planted_link(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    os.symlink(victim, tmpdir / "vfbuild-crash.log")
    monkeypatch.setenv("TMPDIR", str(tmpdir))
    assert _crash(monkeypatch, tmp_path) == 70
    assert victim.read_text() == "precious"
    log = tmpdir / "vfbuild-crash.log"
    assert not log.is_symlink() and "RuntimeError: a bug" in log.read_text()
    assert f"traceback saved to {log}" in capsys.readouterr().err
    assert [p.name for p in tmpdir.iterdir()] == ["vfbuild-crash.log"]  # no temp file left


def test_a_missing_tmpdir_falls_back_to_the_system_temp_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TMPDIR", str(tmp_path / "gone"))
    assert _crash(monkeypatch, tmp_path) == 70
    err = capsys.readouterr().err
    assert "internal error: RuntimeError('a bug')" in err
    assert "traceback saved to" in err and str(tmp_path / "gone") not in err


def test_nowhere_to_write_prints_the_traceback_instead(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def refuse(*args: object, **kwargs: object) -> int:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(cli.os, "open", refuse)
    assert _crash(monkeypatch, tmp_path) == 70
    err = capsys.readouterr().err
    assert "the traceback follows" in err and "RuntimeError: a bug" in err
