"""`vf plan` counts what the build will pay for when the picture and the sound are made in the
same build (issue 17): a paid lip-sync that waits for its upscale, or for a reading of its
line made by the same build, is priced ahead when the reading is known without a human (a
single take, or the dialogue's `pick:`), and not before a human picks one. Counted at the
fakes: ElevenLabs reads the line, sync.so lip-syncs it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

import vfbuild
from tests.e2e.film import make_film
from tests.fakes import elevenlabs, syncso
from tests.fakes.base import Faults
from vfbuild.store.ledger import Ledger

SHOTS = ("s010", "s020", "s030")


class Stack:
    def __init__(self, root: Path, voice: elevenlabs.ElevenLabsFake, sync: syncso.SyncFake):
        self.root, self.voice, self.sync = root, voice, sync

    def accepted(self) -> dict[str, int]:
        return {"elevenlabs": self.voice.paid_jobs, "sync": self.sync.paid_jobs}

    def ledger(self) -> float:
        return round(sum(float(r.cost or 0) for r in Ledger(self.root).rows()), 4)

    def stage(self, tier: str = "final") -> dict[str, int]:
        """Plan, then build; the paid takes the plan named must be the jobs the fakes took,
        and its estimate what the ledger gained. Returns what the plan named."""
        film = vfbuild.open(self.root)
        plan = film.plan(tier=tier)
        named = {"elevenlabs": 0, "sync": 0}
        for row in plan.rows:
            if row.provider in named:
                named[row.provider] += row.to_make
        before, spent = self.accepted(), self.ledger()
        report = film.build(tier=tier)
        assert report.ok, report.errors
        now = self.accepted()
        assert {k: now[k] - before[k] for k in now} == named, plan.rows
        assert self.ledger() - spent == pytest.approx(plan.cost)
        return named

    def pick(self, step: str) -> None:
        for sid in SHOTS:
            vfbuild.open(self.root).pick(sid, step, 1)

    def edit(self, change: Any) -> None:
        yaml = YAML()
        doc = yaml.load(self.root / "shots.yaml")
        change(doc)
        yaml.dump(doc, self.root / "shots.yaml")


@pytest.fixture
def stack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    faults = Faults(retry_after="0")
    with (
        elevenlabs.ElevenLabsFake(latency=0.02, faults=faults) as voice,
        syncso.SyncFake(latency=0.02, faults=faults) as sync,
    ):
        for k, v in {**elevenlabs.KEYS, **syncso.KEYS}.items():
            monkeypatch.setenv(k, v)
        monkeypatch.setenv("VF_ELEVENLABS_BASE_URL", voice.url)
        monkeypatch.setenv("VF_SYNC_BASE_URL", sync.url)
        s = Stack(make_film(tmp_path / "film"), voice, sync)

        def spoken(doc: Any) -> None:
            doc.insert(1, "providers", {"voice": {"use": "elevenlabs"}, "lipsync": {"use": "sync"}})
            doc["characters"]["driver"] = {"voice": {"id": "fake-driver-voice"}}
            doc["shots"][2]["dialogue"] = {"line": "Winter was long.", "voice": "driver"}

        s.edit(spoken)
        yield s


def _to_final(stack: Stack) -> dict[str, int]:
    first = stack.stage("draft")  # keyframes, and the line's readings
    stack.pick("keyframe")
    stack.stage("draft")
    stack.pick("draft")
    return first


def test_a_paid_lipsync_after_a_reading_known_without_a_human_is_planned(stack: Stack) -> None:
    assert _to_final(stack) == {"elevenlabs": 1, "sync": 0}
    # The final tier: the lip-sync waits for an upscale this build makes (its reading, the
    # only take, was made before): priced ahead.
    assert stack.stage() == {"elevenlabs": 0, "sync": 1}
    # A new line read twice, the dialogue's `pick:` choosing: the readings and the lip-sync
    # that waits for them, in one build.
    stack.edit(
        lambda doc: doc["shots"][2]["dialogue"].update(line="Spring was worth it.", takes=2, pick=2)
    )
    assert stack.stage() == {"elevenlabs": 2, "sync": 1}
    assert stack.stage() == {"elevenlabs": 0, "sync": 0}


def test_a_lipsync_waiting_for_a_human_to_pick_the_reading_is_not_planned(stack: Stack) -> None:
    stack.edit(lambda doc: doc["shots"][2]["dialogue"].update(takes=2))
    assert _to_final(stack) == {"elevenlabs": 2, "sync": 0}
    film = vfbuild.open(stack.root)
    (row,) = [r for r in film.plan().rows if r.name == "s030" and r.step == "lipsync"]
    assert row.status == "needs-pick" and row.to_make == 0, row
    assert "vf pick s030 voice N" in row.reasons[0], row
    assert stack.stage() == {"elevenlabs": 0, "sync": 0}
    film.pick("s030", "voice", 2)
    assert stack.stage() == {"elevenlabs": 0, "sync": 1}
