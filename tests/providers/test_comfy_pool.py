"""The ComfyUI provider with two boxes (two fake ComfyUI servers): a job goes to the box whose
`/queue` lists fewer jobs, its journalled id names that box, and a job whose submit reply was
lost is sent again only when every box answers that it does not have it."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.base import Faults
from tests.fakes.comfyui import ComfyFake, film_providers
from tests.providers.test_comfyui import ctx, make, provider, recipe
from vfbuild.errors import ProviderError
from vfbuild.store.journal import Journal


@pytest.fixture
def boxes() -> Any:
    with (
        ComfyFake(latency=3.0, faults=Faults(retry_after="0")) as a,
        ComfyFake(latency=0.1, faults=Faults(retry_after="0")) as b,
    ):
        yield a, b


@pytest.fixture
def root(tmp_path: Path, boxes: tuple[ComfyFake, ComfyFake]) -> Path:
    film = tmp_path / "film"
    film.mkdir()
    film_providers(boxes[0], film)
    return film


def _keyframe(root: Path, seed: int) -> dict[str, Any]:
    return {**recipe(root, "keyframe", "workflows/keyframe.json"), "seed": seed}


def test_a_job_goes_to_the_least_busy_box_and_its_id_names_it(
    root: Path, boxes: tuple[ComfyFake, ComfyFake], monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = boxes
    monkeypatch.setenv("VF_COMFYUI_BASE_URL", a.url)  # two slow jobs keep box a busy
    busy = [
        threading.Thread(target=make, args=(root, _keyframe(root, s), {}, root / f"{s}.png"))
        for s in (1, 2)
    ]
    for t in busy:
        t.start()
    while len(a.prompts) < 2:
        time.sleep(0.01)
    monkeypatch.setenv("VF_COMFYUI_BASE_URL", f"{a.url},{b.url}")
    r = _keyframe(root, 3)
    make(root, r, {}, root / "3.png")
    assert len(b.prompts) == 1 and len(a.prompts) == 2  # a had 2 in its queue, b none
    entry = Journal(root / ".vf" / "journal").get(ctx(root, r).key)
    assert entry is not None and entry.job_id == f"{entry.client_id}@{b.url}"
    for t in busy:
        t.join()


def test_a_lost_submit_is_not_sent_while_a_box_cannot_say_it_lacks_it(
    root: Path, boxes: tuple[ComfyFake, ComfyFake], monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = boxes
    dead = ComfyFake(latency=0.1).start()
    url = dead.url
    dead.stop()
    monkeypatch.setenv("VF_COMFYUI_BASE_URL", f"{url},{b.url}")
    r = _keyframe(root, 4)
    c = ctx(root, r)
    assert c.journal is not None
    c.journal.begin(c.key, provider="comfyui", model="workflow", label="s010 keyframe t01", cost=0)
    with pytest.raises(ProviderError, match="it is not sent to another box"):
        make(root, r, {}, root / "4.png")
    assert b.paid_jobs == 0
    # Every box answers, and none has it: it is sent, once.
    monkeypatch.setenv("VF_COMFYUI_BASE_URL", f"{a.url},{b.url}")
    make(root, r, {}, root / "4.png")
    assert a.paid_jobs + b.paid_jobs == 1


def test_a_job_queued_while_a_box_answered_counts_against_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two jobs chosen at once: the second asked box a how busy it was before the first was
    queued there, and the first was queued (no longer `sending`) before the second chose. a's
    answer (0) is stale by one job: the second goes to b."""
    from vfbuild.providers.comfypool import BoxPool

    pool = BoxPool("comfyui", ["http://127.0.0.1:1", "http://127.0.0.1:2"], timeout=5)
    a, b = pool.boxes
    monkeypatch.setattr(pool, "load", lambda box: 0)
    assert pool.choose() is a
    first_queued = False

    def stale(box: object) -> int:
        nonlocal first_queued
        if box is a and not first_queued:
            first_queued = True
            pool.sent(a, queued=True)  # the first job, queued just after a answered 0
        return 0

    monkeypatch.setattr(pool, "load", stale)
    assert pool.choose() is b
    pool.sent(b, queued=True)
    monkeypatch.setattr(pool, "load", lambda box: 0)  # both queues empty again, and say so
    assert pool.choose() is a


def test_a_box_is_chosen_once_the_take_holds_its_slot(
    root: Path, boxes: tuple[ComfyFake, ComfyFake], monkeypatch: pytest.MonkeyPatch
) -> None:
    """With `-j 2` every take of a step starts at once and waits for a slot. A box chosen
    before the slot is chosen for a job that may wait behind others: CI saw two takes reserve
    a and b, then the two let in first were both a's, and b stayed idle."""
    a, b = boxes
    monkeypatch.setenv("VF_COMFYUI_BASE_URL", f"{b.url},{a.url}")  # b first: its jobs are quick
    prov = provider(root)
    reserved_at_entry: list[int] = []

    class Slot:
        def __enter__(self) -> None:
            reserved_at_entry.append(sum(box.sending for box in prov.pool.boxes))

        def __exit__(self, *exc: object) -> None:
            return None

    r = _keyframe(root, 5)
    prov.make(r, {}, root / "5.png", ctx(root, r, slot=Slot()))
    assert reserved_at_entry == [0]
    assert b.paid_jobs == 1 and a.paid_jobs == 0
    assert all(box.sending == 0 for box in prov.pool.boxes)
