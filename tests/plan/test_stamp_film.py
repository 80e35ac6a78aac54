"""The stamps over a real film (memory provider): a touched, unchanged shots.yaml or lock keeps
the no-op; a changed shot among the others is rebuilt, never answered from a stamp; `status`
answers from its stamp as `plan` does."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import vfbuild
from tests.plan.test_planner import edit, labels, mem, no_ffmpeg, write_film  # noqa: F401
from tests.plan.test_stamp import aged
from vfbuild.providers.memory import MemoryProvider

__all__ = ["mem", "no_ffmpeg"]
SHOTS = ["s010", "s020", "s030"]  # named: no rough cut (it needs ffmpeg)


@pytest.fixture
def built(tmp_path: Path, mem: MemoryProvider) -> Path:  # noqa: F811
    root = write_film(tmp_path / "film")
    film = vfbuild.open(root)
    assert film.build(shots=SHOTS, tier="draft").ok  # keyframes
    for shot in SHOTS:
        film.pick(shot, "keyframe", 1)
    report = vfbuild.open(root).build(shots=SHOTS, tier="draft")  # drafts
    assert report.ok, report.errors
    aged(root)
    assert vfbuild.open(root).build(shots=SHOTS, tier="draft").made == ()  # checks, stamps
    assert vfbuild.open(root).build(shots=SHOTS, tier="draft").from_stamp
    return root


def test_touched_unchanged_inputs_keep_the_stamp(built: Path) -> None:
    for name in ("shots.yaml", "locks/s010.yaml"):
        os.utime(built / name)
        (built / name).write_bytes((built / name).read_bytes())
        assert vfbuild.open(built).build(shots=SHOTS, tier="draft").from_stamp, name


def test_one_changed_shot_among_the_others_is_rebuilt(built: Path, mem: MemoryProvider) -> None:  # noqa: F811
    vfbuild.open(built).status()
    vfbuild.open(built).plan(shots=SHOTS, tier="draft")
    before = len(mem.calls)
    edit(built, "the hand grips the wheel", "the hand lets go")
    plan = vfbuild.open(built).plan(shots=SHOTS, tier="draft")
    assert not plan.from_stamp
    assert [(r.name, r.step) for r in plan.pending] == [("s020", "draft")]
    report = vfbuild.open(built).build(shots=SHOTS, tier="draft")
    assert not report.from_stamp
    assert labels(mem.calls[before:]) == ["s020 draft t01"]
    states = {(r.name, r.step): r for r in vfbuild.open(built).status()}
    assert states["s020", "draft"].version == 2


def test_status_answers_from_its_stamp(built: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = vfbuild.open(built).status()
    assert any(r.picked is False for r in first)

    def worked_out(*args: object) -> None:
        raise AssertionError("status worked out again")

    monkeypatch.setattr(vfbuild.Film, "_status_rows", worked_out)
    assert vfbuild.open(built).status() == first
    os.utime(built / "shots.yaml")  # touched, unchanged
    assert vfbuild.open(built).status() == first
    monkeypatch.undo()
    edit(built, "the driver speaks", "the driver laughs")
    rows = {(r.name, r.step): r for r in vfbuild.open(built).status()}
    assert rows["s030", "draft"].status == "stale"
    assert rows["s010", "draft"].status == "done"


def test_a_take_changed_in_place_keeps_the_status_stamp_not_the_builds(
    built: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What status says reads which takes are there, not their bytes: a take saved over in
    place leaves its answer (worked out again, it says the same), while the next build checks
    the take and does not answer from its stamp."""
    first = vfbuild.open(built).status()
    aged(built)
    assert vfbuild.open(built).status() == first  # the stamp, recorded in a quiet world
    take = next((built / "03_Generations").rglob("s020_draft_v001_t01.*"))
    os.chmod(take, 0o644)
    take.write_bytes(take.read_bytes()[::-1])

    def worked_out(*args: object) -> None:
        raise AssertionError("status worked out again")

    with monkeypatch.context() as m:
        m.setattr(vfbuild.Film, "_status_rows", worked_out)
        assert vfbuild.open(built).status() == first
    assert vfbuild.open(built)._status_rows(None) == first
    assert not vfbuild.open(built).build(shots=SHOTS, tier="draft").from_stamp
