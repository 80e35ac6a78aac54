"""With -j 2 or more, a stale step whose upstream is made starts before doit is imported and
started; the steps after a stale one still wait for it, in doit's order."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from tests.e2e.film import make_film
from vfbuild.plan import graph
from vfbuild.plan.execute import BuildOptions
from vfbuild.plan.graph import BuildResult, run_build
from vfbuild.project import Project
from vfbuild.providers.local import LocalProvider


@pytest.fixture
def made(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The label of every take the local provider starts making, in order."""
    labels: list[str] = []
    lock = threading.Lock()
    real = LocalProvider.make
    started = threading.Event()
    monkeypatch.setattr(graph, "_test_first_take", started, raising=False)

    def make(self, recipe, inputs, out, ctx):  # type: ignore[no-untyped-def]
        with lock:
            labels.append(ctx.label)
        started.set()
        return real(self, recipe, inputs, out, ctx)

    monkeypatch.setattr(LocalProvider, "make", make)
    return labels


def _build_s010(tmp_path: Path, jobs: int) -> tuple[Path, BuildResult]:
    """A fresh test film, and the result of building its shot s010 with `jobs`."""
    root = make_film(tmp_path / "film")
    return root, run_build(Project.open(root), shots=["s010"], options=BuildOptions(jobs=jobs))


def _when_doit_starts(
    monkeypatch: pytest.MonkeyPatch, made: list[str], *, wait_for_a_take: bool = False
) -> list[list[str]]:
    """What had started when doit was started. With `wait_for_a_take`, doit waits (an event,
    not a sleep) until a take has started, or 10 s: only a take started without doit can set
    it, so a loaded machine cannot make the test fail, and a build that starts nothing early
    still does."""
    seen: list[list[str]] = []
    real = graph._run_doit

    def run_doit(project, tasks, jobs):  # type: ignore[no-untyped-def]
        if wait_for_a_take:
            graph._test_first_take.wait(10)  # type: ignore[attr-defined]
        seen.append(list(made))
        return real(project, tasks, jobs)

    monkeypatch.setattr(graph, "_run_doit", run_doit)
    return seen


def test_the_first_takes_are_under_way_before_doit_starts(
    tmp_path: Path, made: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = _when_doit_starts(monkeypatch, made, wait_for_a_take=True)
    _, result = _build_s010(tmp_path, 2)
    assert result.ok, [e.message for e in result.events.errors]
    assert len(seen) == 1 and seen[0], "no take had started when doit was started"
    assert all(label.startswith("s010 keyframe") for label in seen[0])
    assert sorted(result.events.made) == sorted(made)


def test_with_one_job_doit_runs_every_step(
    tmp_path: Path, made: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = _when_doit_starts(monkeypatch, made)
    _, result = _build_s010(tmp_path, 1)
    assert result.ok
    assert seen == [[]]
    assert made


def test_a_step_started_early_that_fails_stops_the_steps_after_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from vfbuild.errors import ProviderError

    def make(self, recipe, inputs, out, ctx):  # type: ignore[no-untyped-def]
        raise ProviderError(f"{ctx.label}: the renderer is out of memory")

    monkeypatch.setattr(LocalProvider, "make", make)
    root, result = _build_s010(tmp_path, 4)
    errors = [e.message for e in result.events.errors]
    assert errors and all("s010 keyframe" in m and "out of memory" in m for m in errors), errors
    assert result.events.made == []
    assert not list((root / "03_Generations").rglob("*.*"))


@pytest.mark.parametrize(("jobs", "wait"), [(2, True), (1, False)])
def test_the_provider_is_ready_before_the_early_steps_start(
    tmp_path: Path, made: list[str], monkeypatch: pytest.MonkeyPatch, jobs: int, wait: bool
) -> None:
    """A provider gets ready (`prewarm`) once, before any of its takes start when its steps
    start early, and in the background otherwise."""
    calls: list[tuple[bool, int]] = []

    def prewarm(self, wait: bool = False) -> None:  # type: ignore[no-untyped-def]
        calls.append((wait, len(made)))

    monkeypatch.setattr(LocalProvider, "prewarm", prewarm, raising=False)
    _, result = _build_s010(tmp_path, jobs)
    assert result.ok
    assert calls == [(wait, 0)]
