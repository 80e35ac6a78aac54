"""The build's -j slots: never more than -j holders, and downloads let starts go first."""

from __future__ import annotations

import threading
import time

from vfbuild.plan import slots as slots_module
from vfbuild.plan.slots import Download, Slots


def test_never_more_holders_than_slots() -> None:
    slots = Slots(3)
    now = [0]
    peak = [0]
    lock = threading.Lock()

    def hold() -> None:
        with slots.take() as slot:
            slot.started()
            with lock:
                now[0] += 1
                peak[0] = max(peak[0], now[0])
            time.sleep(0.01)
            with lock:
                now[0] -= 1

    threads = [threading.Thread(target=hold) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert peak[0] == 3 and slots.used == 0 and slots.starting == 0


def test_a_download_waits_for_a_take_that_has_not_submitted_yet() -> None:
    slots = Slots(2)
    slot = slots.take()
    slot.__enter__()  # holds a slot, job not submitted yet
    order: list[str] = []

    def download() -> None:
        with Download(slots):
            order.append("download")

    t = threading.Thread(target=download)
    t.start()
    time.sleep(0.05)
    order.append("submitted")
    slot.started()
    t.join()
    slot.__exit__(None, None, None)
    assert order == ["submitted", "download"]


def test_a_download_waits_while_a_freed_slot_is_being_taken() -> None:
    slots = Slots(1)
    first = slots.take()
    first.__enter__()
    first.started()
    got: list[str] = []

    def next_take() -> None:
        with slots.take() as slot:
            time.sleep(0.05)  # composing and sending its submit
            got.append("submitted")
            slot.started()

    t = threading.Thread(target=next_take)
    t.start()
    time.sleep(0.02)  # it waits for the slot
    first.__exit__(None, None, None)  # the first job is done: its slot goes to the next take
    with Download(slots):
        got.append("download")
    t.join()
    assert got == ["submitted", "download"]


def test_a_download_never_waits_long(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(slots_module, "CALM_TIMEOUT", 0.1)
    slots = Slots(1)
    stuck = slots.take()
    stuck.__enter__()  # a take that never says it started
    start = time.monotonic()
    with Download(slots):
        pass
    assert 0.09 <= time.monotonic() - start < 1.0
    stuck.__exit__(None, None, None)
    assert slots.starting == 0 and slots.used == 0
