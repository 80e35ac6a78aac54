"""The in-memory provider on its own: the journal road of a paid take, its call record, and the
media its helpers make (valid, of the size asked, the same bytes for the same arguments)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from vfbuild.errors import ProviderError
from vfbuild.media.probe import probe
from vfbuild.providers import memory
from vfbuild.providers.base import MakeContext
from vfbuild.providers.memory import MemoryJob, MemoryProvider
from vfbuild.store.journal import SUBMITTED, Journal, JournalEntry

KEY = "ab" * 32
RECIPE = {"step": "keyframe", "model": "memory", "settings": {"width": 32, "height": 18}}


def test_a_journalled_paid_take_is_fetched_again_not_made_again(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal")
    prov = MemoryProvider(paid=True)
    ctx = MakeContext(key=KEY, label="s010 keyframe t01", journal=journal)
    assert prov.make(RECIPE, {}, tmp_path / "one.png", ctx) is None
    entry = journal.get(KEY)
    assert entry is not None and entry.state == SUBMITTED and entry.job_id == "memory-1"
    # The take did not reach the store (a build killed before it): the next one fetches it.
    assert prov.make(RECIPE, {}, tmp_path / "two.png", ctx) is None
    assert len(prov.calls) == 1
    assert (tmp_path / "one.png").read_bytes() == (tmp_path / "two.png").read_bytes()


def test_a_journalled_job_this_provider_did_not_make_is_not_sent_again_unasked(
    tmp_path: Path,
) -> None:
    journal = Journal(tmp_path / "journal")
    MemoryProvider(paid=True).make(
        RECIPE, {}, tmp_path / "one.png", MakeContext(KEY, "s010 keyframe t01", journal=journal)
    )
    other = MemoryProvider(paid=True)  # another process's provider: its memory is not ours
    with pytest.raises(ProviderError, match="did not make it") as refused:
        other.make(
            RECIPE, {}, tmp_path / "x.png", MakeContext(KEY, "s010 keyframe t01", journal=journal)
        )
    assert "vf build --resubmit" in (refused.value.hint or "")
    assert other.calls == ()
    lost: list[JournalEntry] = []
    ctx = MakeContext(KEY, "s010 keyframe t01", journal=journal, resubmit=True, lost=lost.append)
    assert other.make(RECIPE, {}, tmp_path / "again.png", ctx) is None
    assert len(other.calls) == 1 and [e.key for e in lost] == [KEY]  # ledgered as lost


def test_every_call_is_recorded_from_every_thread(tmp_path: Path) -> None:
    n = 8
    together = threading.Barrier(n, timeout=10)

    def handler(job: MemoryJob) -> bytes:
        together.wait()  # all of them inside make at once
        return memory.png(8, 8, job.key)

    prov = MemoryProvider(handler)

    def one(i: int) -> None:
        ctx = MakeContext(key=f"{i:064x}", label=f"s{i:03d} keyframe t01")
        prov.make(RECIPE, {}, tmp_path / f"{i}.png", ctx)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(c.key for c in prov.calls) == [f"{i:064x}" for i in range(n)]


def test_the_media_helpers_make_valid_media_of_the_size_asked(tmp_path: Path) -> None:
    still, mp4, audio = tmp_path / "a.png", tmp_path / "a.mp4", tmp_path / "a.wav"
    still.write_bytes(memory.png(40, 30, seed=1))
    mp4.write_bytes(memory.clip(48, 32, seconds=1.5, fps=24, seed=1))
    audio.write_bytes(memory.wav(0.5, seed=1))
    info = probe(still)
    assert info.is_image and (info.width, info.height) == (40, 30)
    info = probe(mp4)
    assert info.has_video and (info.width, info.height, info.fps) == (48, 32, 24.0)
    assert info.duration == pytest.approx(1.5, abs=0.05)
    info = probe(audio)
    assert info.has_audio and not info.has_video
    assert info.audio_duration == pytest.approx(0.5, abs=0.05)
    # Same arguments, same bytes; another seed, other bytes.
    assert memory.png(40, 30, seed=1) == memory.png(40, 30, seed=1) != memory.png(40, 30, 2)
    assert memory.clip(48, 32, 1.5, 24, 1) == mp4.read_bytes() != memory.clip(48, 32, 1.5, 24, 2)
    with pytest.raises(ValueError, match="even"):
        memory.clip(33, 18)
