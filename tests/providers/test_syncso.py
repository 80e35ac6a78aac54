"""sync.so against its fake: the Idempotency-Key is the journal's client id, so a lost reply is
sent again and not paid twice, and `--retry-failed` is a new job with a new key. (What every
remote provider keeps: test_contract.py.)"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.fakes.syncso import KEYS, SyncFake
from tests.providers.kit import Run, clip, creates, recipe, tone
from vfbuild.errors import ProviderError


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("sync-media")
    return {"clip": clip(d / "clip.mp4", "128x72", 1), "audio": tone(d / "line.wav", 1)}


@pytest.fixture
def fake(serve: Any) -> SyncFake:
    return serve(SyncFake, KEYS)


def take(root: Path, media: dict[str, Path], **ps: Any) -> Run:
    return Run(root, recipe("sync", "lipsync", {"fps": 24}, ps=ps, prompt=None), dict(media))


def test_the_key_is_the_journals_client_id(fake: SyncFake, media: Any, tmp_path: Path):
    run = take(tmp_path, media, sync_mode="loop")
    run.make()
    entry = run.journal.get(run.key)
    assert entry is not None and fake.keys_seen == [entry.client_id]
    (job,) = fake.jobs.values()
    assert job.input["options"] == {"sync_mode": "loop"} and job.input["model"] == "lipsync-2"


def test_a_resubmission_after_a_lost_reply_is_not_paid_twice(
    fake: SyncFake, media: Any, tmp_path: Path
) -> None:
    """The service made the job and the reply was lost, twice; then the build was killed. The
    next build sends it again with the same key: one job, paid once."""
    fake.faults.force("create", "drop", "drop", "drop")
    run = take(tmp_path, media)
    with pytest.raises(ProviderError, match="reply was lost") as e:
        run.make()
    assert "same key" in (e.value.hint or "")
    assert fake.paid_jobs == 1 and creates(fake) == 3 and fake.replays == 2
    run.make(run.prov)  # the next build: no --resubmit needed, nothing ledgered as lost
    assert fake.paid_jobs == 1 and fake.replays == 3 and len(set(fake.keys_seen)) == 1
    assert run.out.stat().st_size > 0


def test_retry_failed_is_a_new_key(fake: SyncFake, media: Any, tmp_path: Path) -> None:
    fake.faults.fail_jobs = True
    run = take(tmp_path, media)
    with pytest.raises(ProviderError, match="no face was tracked"):
        run.make()
    fake.faults.fail_jobs = False
    run.make(retry_failed=True)
    assert fake.paid_jobs == 2 and len(set(fake.keys_seen)) == 2 and fake.replays == 0
