"""A step's takes are recorded in take order, each as soon as it and those before it are
made, by whichever thread finishes a take."""

from __future__ import annotations

import threading
from types import SimpleNamespace

import pytest

from vfbuild.errors import VfError
from vfbuild.plan.execute import InOrder


def takes(n: int) -> list[SimpleNamespace]:
    return [SimpleNamespace(key=f"k{i}") for i in range(n)]


def test_takes_are_recorded_in_order_as_soon_as_those_before_them_are_done() -> None:
    jobs = takes(4)
    recorded: list[str] = []
    order = InOrder(jobs, lambda j: recorded.append(j.key))  # type: ignore[arg-type]
    order.done(jobs[2])
    order.done(jobs[1])
    assert recorded == []  # t1 is not made yet
    order.done(jobs[0])
    assert recorded == ["k0", "k1", "k2"]  # at once, by the thread that made t1
    order.done(jobs[3])
    assert recorded == ["k0", "k1", "k2", "k3"]


def test_threads_finishing_together_still_record_each_take_once_in_order() -> None:
    jobs = takes(40)
    recorded: list[str] = []
    order = InOrder(jobs, lambda j: recorded.append(j.key))  # type: ignore[arg-type]
    start = threading.Barrier(len(jobs))

    def finish(job: SimpleNamespace) -> None:
        start.wait()
        order.done(job)  # type: ignore[arg-type]

    threads = [threading.Thread(target=finish, args=(j,)) for j in reversed(jobs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert recorded == [j.key for j in jobs]


def test_a_failed_record_is_raised_in_the_step_and_the_others_are_still_recorded() -> None:
    jobs = takes(3)
    recorded: list[str] = []

    def record(job: SimpleNamespace) -> None:
        if job.key == "k1":
            raise VfError("the layout folder is read-only")
        recorded.append(job.key)

    order = InOrder(jobs, record)  # type: ignore[arg-type]
    for j in jobs:
        order.done(j)  # type: ignore[arg-type]
    assert recorded == ["k0", "k2"]
    with pytest.raises(VfError, match="read-only"):
        order.raise_error()


def test_a_bug_in_one_take_is_reported_and_the_other_takes_are_recorded(
    tmp_path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    """A take whose provider raises something unexpected (a bug) fails its step with an
    internal error; the takes made beside it are still recorded in the layout."""
    from tests.e2e.film import make_film
    from vfbuild.plan.execute import BuildOptions
    from vfbuild.plan.graph import run_build
    from vfbuild.project import Project
    from vfbuild.providers.local import LocalProvider

    real = LocalProvider.make

    def make(self, recipe, inputs, out, ctx):  # type: ignore[no-untyped-def]
        if ctx.label == "s010 keyframe t01":
            raise RuntimeError("a bug in a provider")
        return real(self, recipe, inputs, out, ctx)

    monkeypatch.setattr(LocalProvider, "make", make)
    root = make_film(tmp_path / "film")
    result = run_build(Project.open(root), shots=["s010"], options=BuildOptions(jobs=2))
    errors = [e.message for e in result.events.errors]
    assert any("s010:keyframe: internal error" in m and "a bug" in m for m in errors), errors
    assert result.events.made == ["s010 keyframe t02"]
    assert [p.name for p in (root / "03_Generations").rglob("*.png")] == [
        "s010_keyframe_v001_t02.png"
    ]
