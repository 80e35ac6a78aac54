"""A touched input whose bytes did not change keeps the stamp; a changed one never does."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from tests.plan.test_stamp import ARGS, aged, film  # noqa: F401 - the fixture
from vfbuild.plan import stamp

__all__ = ["film"]


def recorded(root: Path, data: object = ["nothing to do"]) -> None:
    world = stamp.World(root, ARGS)
    stamp.record(root, world, stamp.World(root, ARGS), data)
    assert stamp.replay(root, stamp.World(root, ARGS)) == data


@pytest.mark.parametrize("name", ["shots.yaml", "prompts/s010.txt", "locks/s010.yaml"])
def test_a_touched_unchanged_file_keeps_the_stamp(film: Path, name: str) -> None:  # noqa: F811
    recorded(film)
    before = stamp.World(film, ARGS).digest
    os.utime(film / name)  # touched: a new mtime, the same bytes
    (film / name).write_bytes((film / name).read_bytes())  # saved again unchanged
    world = stamp.World(film, ARGS)
    assert world.digest != before  # the stat changed...
    assert stamp.replay(film, world) == ["nothing to do"]  # ...the bytes did not


@pytest.mark.parametrize(
    "change",
    [
        lambda p: p.write_text(p.read_text()[::-1]),  # same size, new bytes
        lambda p: p.write_text(p.read_text() + "# more\n"),
    ],
)
def test_a_touched_changed_file_loses_the_stamp(film: Path, change) -> None:  # noqa: F811, ANN001
    recorded(film)
    for name in ("shots.yaml", "prompts/s010.txt", "locks/s010.yaml"):
        change(film / name)
        assert stamp.replay(film, stamp.World(film, ARGS)) is None, name
        aged(film)
        recorded(film)


def test_once_the_touch_is_old_the_stamp_takes_the_new_stat(film: Path) -> None:  # noqa: F811
    recorded(film)
    then = time.time() - 30
    os.utime(film / "shots.yaml", (then, then))
    assert stamp.replay(film, stamp.World(film, ARGS)) == ["nothing to do"]
    # written again with the new stat: the next answer is a plain digest match
    assert stamp.World(film, ARGS).digest in (film / stamp.STAMP).read_text()


def test_a_file_added_or_removed_loses_the_stamp(film: Path) -> None:  # noqa: F811
    recorded(film)
    (film / "prompts/s020.txt").write_text("")
    assert stamp.replay(film, stamp.World(film, ARGS)) is None
    (film / "prompts/s020.txt").unlink()
    assert stamp.replay(film, stamp.World(film, ARGS)) == ["nothing to do"]
    (film / "prompts/s010.txt").unlink()
    assert stamp.replay(film, stamp.World(film, ARGS)) is None


def test_an_output_folder_changed_is_not_saved_by_the_hashes(film: Path) -> None:  # noqa: F811
    recorded(film)
    (film / "06_Edit/T_v002.mp4").write_text("edit")
    assert stamp.replay(film, stamp.World(film, ARGS)) is None


def test_bytes_changed_while_recording_are_not_trusted(film: Path, monkeypatch) -> None:  # noqa: F811, ANN001
    world = stamp.World(film, ARGS)
    real = stamp._sha256

    def edit_then_hash(path: Path, size: int) -> str | None:
        if path.name == "s010.txt":  # the user saves a change as the stamp is written
            path.write_text("a dog\n")
        return real(path, size)

    monkeypatch.setattr(stamp, "_sha256", edit_then_hash)
    stamp.record(film, world, world, ["nothing to do"])
    monkeypatch.setattr(stamp, "_sha256", real)
    assert stamp.replay(film, stamp.World(film, ARGS)) is None
