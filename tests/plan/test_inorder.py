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
