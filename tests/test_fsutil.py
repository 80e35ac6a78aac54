from __future__ import annotations

import os
from pathlib import Path

from vfbuild.fsutil import TEMP_PREFIX, atomic_write_text, is_within, sweep_temp


def test_atomic_write_follows_umask_and_keeps_an_existing_mode(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        p = tmp_path / "shots.yaml"
        atomic_write_text(p, "a")
        assert p.stat().st_mode & 0o777 == 0o644
        os.chmod(p, 0o640)
        atomic_write_text(p, "b")
        assert p.stat().st_mode & 0o777 == 0o640 and p.read_text() == "b"
    finally:
        os.umask(old)
    assert [x.name for x in tmp_path.iterdir()] == ["shots.yaml"]  # no temp file left


def test_is_within_resolves_symlinks(tmp_path: Path) -> None:
    (tmp_path / "film").mkdir()
    (tmp_path / "film" / "out").symlink_to(tmp_path)
    assert is_within(tmp_path / "film" / "a.txt", tmp_path / "film")
    assert not is_within(tmp_path / "film" / "out" / "x", tmp_path / "film")


def test_atomic_write_never_changes_the_umask(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Reading the umask means setting it, and a thread creating a file meanwhile would get
    no mask: a new file takes its mode from the kernel instead."""
    old = os.umask(0o027)
    try:

        def refuse(mask: int) -> int:
            raise AssertionError("os.umask called")

        monkeypatch.setattr(os, "umask", refuse)
        atomic_write_text(tmp_path / "ledger.csv", "a")
        assert (tmp_path / "ledger.csv").stat().st_mode & 0o777 == 0o640
    finally:
        monkeypatch.undo()
        os.umask(old)


def test_sweep_temp_reaches_every_depth_and_only_temp_files(tmp_path: Path) -> None:
    left = ["a.txt", f"x/{TEMP_PREFIX}keep-me-dir/f", ".vf/objects/ab/" + TEMP_PREFIX + "1"]
    swept = [f"{TEMP_PREFIX}1.yaml", f".vf/recipes/by-sha/{TEMP_PREFIX}2", f"a/b/c/{TEMP_PREFIX}3"]
    for rel in left + swept:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("x")
    assert sweep_temp(tmp_path, skip=frozenset({".vf/objects"})) == len(swept)
    assert sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file()) == (
        sorted(left)
    )
