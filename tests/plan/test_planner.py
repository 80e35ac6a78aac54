"""The planner and the build, through the library API, with the in-memory provider: takes and
versions, staleness after a pick, cost, budget, failures, inbox lines, plan and status, the
golden-rule order. No subprocess and no ffmpeg: every test here runs with ffmpeg made
unavailable (`no_ffmpeg`), and the memory provider makes its clips in-process (PyAV)."""

from __future__ import annotations

import re
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import vfbuild
from vfbuild import steps
from vfbuild.errors import BudgetExceeded, MediaError, ProviderError, SpecError
from vfbuild.providers import memory
from vfbuild.providers.base import Awaiting
from vfbuild.providers.memory import MemoryJob, MemoryProvider
from vfbuild.store import layout
from vfbuild.store.journal import LEDGERED, SUBMITTING, Journal
from vfbuild.store.ledger import Ledger

SHOTS_YAML = """\
film:
  title: Memory Film
  fps: 24
  tiers: {draft: 64x36, final: 128x72}
  delivery: 256x144
providers:
  keyframe: {use: memory}
  video: {use: memory}
  upscale: {use: memory}
  lipsync: {use: memory}
shots:
  - id: s010
    duration: 1
    keyframe: {shot: wide shot, subject: a red car, takes: 2, seed: 10}
    motion: {move: push-in, prompt: the car drives away, takes: 2}
  - id: s020
    duration: 1
    keyframe: {shot: close-up, subject: a hand on the wheel, takes: 2, seed: 20}
    motion: {move: static, prompt: the hand grips the wheel, takes: 1}
  - id: s030
    duration: 1
    keyframe: {shot: medium shot, subject: the driver, takes: 1, seed: 30}
    motion: {move: static, prompt: the driver speaks}
    dialogue: {audio: 04_Audio/line.wav, line: hello}
"""

PRICE = 0.04  # dollars per keyframe image of the paid memory provider


class Spawned(AssertionError):
    pass


@pytest.fixture(autouse=True)
def no_ffmpeg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[list[list[str]]]:
    """ffmpeg is not there: vfbuild's lookup fails (VF_FFMPEG names no file, and so does
    IMAGEIO_FFMPEG_EXE), and starting any process fails the test, even where the error it
    raises would be caught."""
    missing = str(tmp_path / "no-such-ffmpeg")
    monkeypatch.setenv("VF_FFMPEG", missing)
    monkeypatch.setenv("IMAGEIO_FFMPEG_EXE", missing)
    started: list[list[str]] = []

    class NoProcess:
        def __init__(self, args: Any, *a: object, **k: object) -> None:
            started.append([str(x) for x in args] if isinstance(args, list) else [str(args)])
            raise Spawned(f"a process was started: {args!r}")

    monkeypatch.setattr(subprocess, "Popen", NoProcess)
    yield started
    assert started == [], f"processes were started: {started}"


@pytest.fixture
def mem() -> Iterator[MemoryProvider]:
    yield memory.register(MemoryProvider())
    memory.unregister("memory")


@pytest.fixture
def paid() -> Iterator[MemoryProvider]:
    yield memory.register(MemoryProvider(paid=True, deterministic=False))
    memory.unregister("memory")


def write_film(root: Path, *, price: float | None = None) -> Path:
    root.mkdir()
    (root / "shots.yaml").write_text(SHOTS_YAML)
    (root / "04_Audio").mkdir()
    (root / "04_Audio" / "line.wav").write_bytes(memory.wav(0.8, seed="line"))
    if price is not None:
        (root / "prices.yaml").write_text(f"memory:\n  memory: {{image: {price}}}\n")
    return root


@pytest.fixture
def film(tmp_path: Path) -> Path:
    return write_film(tmp_path / "film")


@pytest.fixture
def priced(tmp_path: Path) -> Path:
    return write_film(tmp_path / "film", price=PRICE)


def edit(root: Path, old: str, new: str) -> None:
    text = (root / "shots.yaml").read_text()
    assert old in text
    (root / "shots.yaml").write_text(text.replace(old, new, 1))


def labels(calls: tuple[MemoryJob, ...]) -> list[str]:
    return sorted(c.label for c in calls)


def row(plan: vfbuild.Plan, name: str, step: str) -> vfbuild.PlanRow:
    return next(r for r in plan.rows if (r.name, r.step) == (name, step))


def status_of(root: Path, name: str, step: str) -> vfbuild.StatusRow:
    return next(r for r in vfbuild.open(root).status() if (r.name, r.step) == (name, step))


def take_file(root: Path, shot: str, step: str, version: int, take: int, ext: str) -> Path:
    return root / layout.take_path(shot, step, version, take, ext)


# -- takes and versions -----------------------------------------------------------------------


def test_more_takes_join_the_same_version_and_a_new_prompt_is_a_new_version(
    film: Path, mem: MemoryProvider
) -> None:
    report = vfbuild.open(film).build(shots=["s010"], tier="draft")
    assert report.ok, report.errors
    assert labels(mem.calls) == ["s010 keyframe t01", "s010 keyframe t02"]
    assert status_of(film, "s010", "keyframe").version == 1

    edit(film, "takes: 2, seed: 10", "takes: 3, seed: 10")
    plan = vfbuild.open(film).plan(shots=["s010"], tier="draft")
    kf = row(plan, "s010", "keyframe")
    assert (kf.status, kf.to_make) == ("stale", 1)
    report = vfbuild.open(film).build(shots=["s010"], tier="draft")
    assert report.made == ("s010 keyframe t03",)
    assert len(mem.calls) == 3  # the two takes made before are not asked for again
    assert take_file(film, "s010", "keyframe", 1, 3, ".png").is_file()
    assert status_of(film, "s010", "keyframe").version == 1

    edit(film, "subject: a red car", "subject: a blue car")
    plan = vfbuild.open(film).plan(shots=["s010"], tier="draft")
    kf = row(plan, "s010", "keyframe")
    assert (kf.status, kf.to_make) == ("stale", 3)
    assert kf.reasons == ("new recipe: 3 take(s) of a new version",)
    report = vfbuild.open(film).build(shots=["s010"], tier="draft")
    assert len(report.made) == 3 and len(mem.calls) == 6
    assert status_of(film, "s010", "keyframe").version == 2
    assert "a blue car" in mem.calls[-1].recipe["prompt"]
    for take in (1, 2, 3):  # the first version is kept beside the new one
        assert take_file(film, "s010", "keyframe", 1, take, ".png").is_file()
        assert take_file(film, "s010", "keyframe", 2, take, ".png").is_file()


def test_the_takes_are_pngs_of_the_recipes_size(film: Path, mem: MemoryProvider) -> None:
    from vfbuild.media.probe import probe

    assert vfbuild.open(film).build(shots=["s020"], tier="draft").ok
    one = take_file(film, "s020", "keyframe", 1, 1, ".png")
    two = take_file(film, "s020", "keyframe", 1, 2, ".png")
    info = probe(one)
    assert info.is_image and (info.width, info.height) == (128, 72)  # the final tier's size
    assert one.read_bytes() != two.read_bytes()  # each recipe its own bytes


# -- picks ------------------------------------------------------------------------------------


def test_a_pick_makes_the_next_step_stale_and_another_pick_makes_it_stale_again(
    film: Path, mem: MemoryProvider
) -> None:
    assert vfbuild.open(film).build(shots=["s010"], tier="draft").ok
    plan = vfbuild.open(film).plan(shots=["s010"], tier="draft")
    assert row(plan, "s010", "draft").status == "needs-pick"

    vfbuild.open(film).pick("s010", "keyframe", 1)
    plan = vfbuild.open(film).plan(shots=["s010"], tier="draft")
    assert row(plan, "s010", "keyframe").status == "done"
    draft = row(plan, "s010", "draft")
    assert (draft.status, draft.to_make) == ("stale", 2)

    report = vfbuild.open(film).build(shots=["s010"], tier="draft")
    assert report.ok, report.errors
    drafts = [c for c in mem.calls if c.step == "draft"]
    assert len(drafts) == 2
    picked = take_file(film, "s010", "keyframe", 1, 1, ".png").read_bytes()
    keyframe_in = drafts[0].inputs["keyframe"]
    assert isinstance(keyframe_in, Path) and keyframe_in.read_bytes() == picked
    assert row(vfbuild.open(film).plan(shots=["s010"], tier="draft"), "s010", "draft").status == (
        "done"
    )

    vfbuild.open(film).pick("s010", "keyframe", 2)
    plan = vfbuild.open(film).plan(shots=["s010"], tier="draft")
    draft = row(plan, "s010", "draft")
    assert (draft.status, draft.to_make) == ("stale", 2)
    assert draft.reasons == ("new recipe: 2 take(s) of a new version",)
    assert row(plan, "s010", "keyframe").status == "done"  # a pick makes nothing upstream


# -- cost, ledger and budget ------------------------------------------------------------------


def test_the_cost_in_the_plan_is_what_the_ledger_records(
    priced: Path, paid: MemoryProvider
) -> None:
    plan = vfbuild.open(priced).plan(shots=["s010", "s020"], tier="draft")
    assert plan.takes == 4 and plan.cost == pytest.approx(4 * PRICE)
    assert row(plan, "s010", "keyframe").cost == pytest.approx(2 * PRICE)

    report = vfbuild.open(priced).build(shots=["s010", "s020"], tier="draft")
    assert report.ok, report.errors
    spent = vfbuild.open(priced).cost()
    assert spent.jobs == 4 and spent.total == pytest.approx(plan.cost)
    assert report.spent == pytest.approx(plan.cost)
    assert spent.by_shot == pytest.approx({"s010": 2 * PRICE, "s020": 2 * PRICE})
    entries = Journal(priced / ".vf" / "journal").entries()
    assert len(entries) == 4 and {e.state for e in entries} == {LEDGERED}
    assert {e.provider for e in entries} == {"memory"}

    # Built: nothing to make, nothing to pay, nothing asked of the provider again.
    assert vfbuild.open(priced).plan(shots=["s010", "s020"], tier="draft").cost == 0
    again = vfbuild.open(priced).build(shots=["s010", "s020"], tier="draft")
    assert again.ok and again.made == () and again.spent == 0
    assert len(paid.calls) == 4 and vfbuild.open(priced).cost().jobs == 4


def test_a_paid_take_is_journalled_before_it_is_made_and_ledgered_with_its_job_id(
    priced: Path,
) -> None:
    journal = Journal(priced / ".vf" / "journal")
    seen: list[str | None] = []

    def handler(job: MemoryJob) -> bytes:
        entry = journal.get(job.key)
        seen.append(entry.state if entry is not None else None)
        return memory.media(job)

    memory.register(MemoryProvider(handler, paid=True, deterministic=False))
    try:
        assert vfbuild.open(priced).build(shots=["s020"], tier="draft").ok
    finally:
        memory.unregister()
    assert seen == [SUBMITTING, SUBMITTING]  # the journal first, then the job
    rows = Ledger(priced).rows()
    assert sorted(r.job_id for r in rows) == ["memory-1", "memory-2"]
    assert {r.cost for r in rows} == {f"{PRICE:.4f}"}


def test_the_budget_refuses_the_take_that_would_pass_it(priced: Path, paid: MemoryProvider) -> None:
    report = vfbuild.open(priced).build(shots=["s010", "s020"], tier="draft", budget=0.10)
    refused = [e for e in report.errors if isinstance(e, BudgetExceeded)]
    assert len(report.made) == 2 and len(paid.calls) == 2  # $0.08 of $0.10; a third is $0.12
    assert len(refused) == 2 and report.exit_code == 4
    assert all("would take the build past its budget" in e.message for e in refused)
    assert not {e.message.split(":")[0] for e in refused} & set(report.made)
    assert vfbuild.open(priced).cost().total == pytest.approx(2 * PRICE)

    # The plan prices what is left, and the next build spends exactly that.
    plan = vfbuild.open(priced).plan(shots=["s010", "s020"], tier="draft")
    assert plan.takes == 2 and plan.cost == pytest.approx(2 * PRICE)
    report = vfbuild.open(priced).build(shots=["s010", "s020"], tier="draft")
    assert report.ok and report.spent == pytest.approx(plan.cost)
    assert vfbuild.open(priced).cost().total == pytest.approx(4 * PRICE)


def test_an_unpriced_paid_take_is_unknown_to_the_plan_and_refused_by_a_budget(
    film: Path, paid: MemoryProvider
) -> None:
    plan = vfbuild.open(film).plan(shots=["s020"], tier="draft")
    assert plan.unpriced == ("s020 keyframe",)
    report = vfbuild.open(film).build(shots=["s020"], tier="draft", budget=100)
    assert paid.calls == () and report.made == ()
    assert all(isinstance(e, BudgetExceeded) for e in report.errors) and report.errors
    assert "price is unknown" in report.errors[0].message


# -- failures and the inbox -------------------------------------------------------------------


def test_a_failed_take_is_reported_and_the_others_are_kept(film: Path, mem: MemoryProvider) -> None:
    mem.fail("s010 keyframe t02", "the safety filter refused it")
    report = vfbuild.open(film).build(shots=["s010", "s020"], tier="draft")
    assert not report.ok
    failures = [e for e in report.errors if isinstance(e, ProviderError)]
    assert len(failures) == 1
    assert failures[0].message.startswith("s010 keyframe t02: ")
    assert "the safety filter refused it" in failures[0].message
    assert set(report.made) == {"s010 keyframe t01", "s020 keyframe t01", "s020 keyframe t02"}
    assert take_file(film, "s010", "keyframe", 1, 1, ".png").is_file()
    assert not take_file(film, "s010", "keyframe", 1, 2, ".png").exists()

    plan = vfbuild.open(film).plan(shots=["s010", "s020"], tier="draft")
    kf = row(plan, "s010", "keyframe")
    assert (kf.status, kf.to_make) == ("stale", 1)
    assert row(plan, "s020", "keyframe").status == "done"

    mem.clear()
    report = vfbuild.open(film).build(shots=["s010", "s020"], tier="draft")
    assert report.ok and report.made == ("s010 keyframe t02",)
    assert status_of(film, "s010", "keyframe").version == 1  # the same version, completed


def test_a_paid_take_the_provider_failed_waits_for_retry_failed(
    priced: Path, paid: MemoryProvider
) -> None:
    paid.fail("s010 keyframe t02", "out of capacity")
    report = vfbuild.open(priced).build(shots=["s010"], tier="draft")
    assert report.made == ("s010 keyframe t01",) and len(report.errors) == 1
    assert vfbuild.open(priced).cost().jobs == 1  # the failed job has no ledger row

    paid.clear()
    report = vfbuild.open(priced).build(shots=["s010"], tier="draft")
    assert [e.message for e in report.errors] == [
        "s010 keyframe t02: memory failed this job before: "
        "s010 keyframe t02: memory failed the job: out of capacity"
    ]
    assert len(paid.calls) == 2  # not sent again

    report = vfbuild.open(priced).build(shots=["s010"], tier="draft", retry_failed=True)
    assert report.ok and report.made == ("s010 keyframe t02",) and len(paid.calls) == 3
    assert vfbuild.open(priced).cost().total == pytest.approx(2 * PRICE)


def test_takes_waiting_for_the_user_are_inbox_lines_not_errors(
    film: Path, mem: MemoryProvider
) -> None:
    mem.wait("s010 keyframe t01", "s010 keyframe t01: draw it and drop it in inbox/")
    report = vfbuild.open(film).build(shots=["s010"], tier="draft")
    assert report.ok and report.errors == () and report.exit_code == 0
    assert report.inbox == ("s010 keyframe t01: draw it and drop it in inbox/",)
    assert report.made == ("s010 keyframe t02",)
    kf = row(vfbuild.open(film).plan(shots=["s010"], tier="draft"), "s010", "keyframe")
    assert (kf.status, kf.to_make) == ("stale", 1)


def test_a_handler_may_answer_awaiting_or_raise_itself(film: Path) -> None:
    def handler(job: MemoryJob) -> bytes | Awaiting:
        if job.take == 1:
            return Awaiting(f"{job.label}: later")
        raise ProviderError(f"{job.label}: no")

    memory.register(MemoryProvider(handler))
    try:
        report = vfbuild.open(film).build(shots=["s020"], tier="draft")
    finally:
        memory.unregister()
    assert report.inbox == ("s020 keyframe t01: later",)
    assert [e.message for e in report.errors] == ["s020 keyframe t02: no"]


# -- the plan and status ----------------------------------------------------------------------


def test_the_plan_and_status_agree_row_for_row(film: Path, mem: MemoryProvider) -> None:
    assert vfbuild.open(film).build(shots=["s010", "s020", "s030"], tier="draft").ok
    vfbuild.open(film).pick("s010", "keyframe", 2)
    vfbuild.open(film).pick("s030", "keyframe", 1)
    assert vfbuild.open(film).build(shots=["s010"], tier="draft").ok
    vfbuild.open(film).pick("s010", "draft", 1)

    # Every shot named: the film's edit, whose recipe carries ffmpeg's version, is left out.
    shots = ["s010", "s020", "s030"]
    plan = vfbuild.open(film).plan(shots=shots)
    status = vfbuild.open(film).status(shots=shots)
    assert [(r.name, r.step, r.status) for r in plan.rows] == [
        (r.name, r.step, r.status) for r in status
    ]
    seen = {(r.name, r.step): r.status for r in plan.rows}
    assert seen[("s010", "keyframe")] == seen[("s010", "draft")] == "done"
    assert seen[("s010", "final")] == "stale"
    assert seen[("s020", "draft")] == "needs-pick"
    assert seen[("s030", "draft")] == "stale"
    pick = status_of(film, "s010", "keyframe")
    assert (pick.pick_take, pick.pick_version) == (2, 1)


def test_plan_rows_come_in_golden_rule_order(film: Path, mem: MemoryProvider) -> None:
    rows = vfbuild.open(film).plan().rows
    order = {s.name: i for i, s in enumerate(steps.registered())}
    shots = ["s010", "s020", "s030"]
    names = [r.name for r in rows]
    # Each shot's steps together, in the film's order, in step order; the film's steps last.
    assert list(dict.fromkeys(names)) == [*shots, "film"]
    for shot in shots:
        own = [r.step for r in rows if r.name == shot]
        assert own == sorted(own, key=order.__getitem__)
        assert own[0] == "keyframe"
    assert [r.step for r in rows if r.name == "s030"][-1] == "lipsync"  # it has dialogue
    assert "lipsync" not in [r.step for r in rows if r.name == "s010"]
    # the film's steps last, in step order: the edit after the segments, before what it feeds
    film_steps = [r.step for r in rows if r.name == "film"]
    assert film_steps == sorted(film_steps, key=order.__getitem__)
    assert film_steps.index("segment") < film_steps.index("edit") < film_steps.index("cover")


def test_vf_plan_names_the_memory_provider_and_its_cost(
    priced: Path, paid: MemoryProvider, capsys: pytest.CaptureFixture[str]
) -> None:
    from vfbuild.cli import main

    assert main(["-C", str(priced), "plan", "--tier", "draft", "s010"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^s010\s+keyframe\s+stale.*memory", out, re.M), out
    assert "$0.08" in out, out


# -- threads ----------------------------------------------------------------------------------


def test_takes_run_side_by_side_and_are_recorded_in_take_order(film: Path) -> None:
    both_in = threading.Barrier(2, timeout=10)  # t01 and t02 are made at the same time
    second_done = threading.Event()

    def handler(job: MemoryJob) -> bytes:
        both_in.wait()
        if job.take == 1:
            assert second_done.wait(10)  # t02 is finished first
        data = memory.media(job)
        if job.take == 2:
            second_done.set()
        return data

    mem = memory.register(MemoryProvider(handler))
    try:
        report = vfbuild.open(film).build(shots=["s020"], tier="draft", jobs=2)
        assert report.ok, report.errors
        assert labels(mem.calls) == ["s020 keyframe t01", "s020 keyframe t02"]
        logged = re.findall(r"keyframe v001 t(\d+)", (film / "prompts.txt").read_text())
        assert logged == ["01", "02"]  # recorded in take order, though t02 was made first
        assert status_of(film, "s020", "keyframe").version == 1
    finally:
        memory.unregister()


# -- the provider's registration and the guard ------------------------------------------------


def test_a_film_names_a_memory_provider_only_while_it_is_registered(film: Path) -> None:
    memory.register(MemoryProvider())
    try:
        vfbuild.open(film).check()
    finally:
        memory.unregister()
    with pytest.raises(SpecError, match="unknown provider 'memory'"):
        vfbuild.open(film).check()


def test_registering_over_a_provider_restores_it_afterwards() -> None:
    from vfbuild import catalog

    local = catalog.info("local")
    memory.register(MemoryProvider(), "local")
    try:
        assert catalog.info("local").factory is not local.factory
    finally:
        memory.unregister("local")
    assert catalog.info("local") is local


def test_ffmpeg_is_unavailable_here(no_ffmpeg: list[list[str]]) -> None:
    from vfbuild.media.ffmpeg import ffmpeg_exe

    with pytest.raises(MediaError):
        ffmpeg_exe()
    with pytest.raises(Spawned):
        subprocess.run(["ffmpeg", "-version"])
    assert no_ffmpeg == [["ffmpeg", "-version"]]
    no_ffmpeg.clear()
