"""The job journal (`.vf/journal/<recipe key>.json`): never pay twice for one recipe.

A paid job is written here before it is submitted and its provider job id right after, each
write atomic. The next build reads the entry: a job with an id is polled and fetched, never
resubmitted; a job without one (the crash fell between submit and reply) is looked up at the
provider or stops the build; a job the provider failed waits for `--retry-failed`.

One small file per recipe key, so threads never contend and a no-op build never reads it.
Entries hold no secret and no result URL (signed URLs can carry tokens).
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from vfbuild.fsutil import atomic_write_text

SUBMITTING = "submitting"  # written before the POST; no job id yet
SUBMITTED = "submitted"  # the provider gave a job id (its take may be stored, its row owed)
FAILED = "failed"  # the provider said the job failed
STORED = "stored"  # manual work whose take is stored; its ledger row may still be missing
LEDGERED = "ledgered"  # the ledger has its row: nothing left to do


@dataclass(frozen=True)
class JournalEntry:
    key: str
    provider: str
    model: str
    label: str  # "s010 draft t02": for messages
    state: str
    attempt: int = 1
    client_id: str = ""  # an id we chose (ComfyUI prompt_id, Kling external_task_id)
    job_id: str | None = None
    error: str | None = None
    cost: float | None = None
    sha256: str | None = None
    times: dict[str, float] = field(default_factory=dict)


def client_id_for(key: str, attempt: int) -> str:
    """A lowercase UUID fixed by the recipe key and attempt: the same job asks for the same id
    after a crash, and a deliberate retry asks for a new one."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"vfbuild:{key}:{attempt}"))


class Journal:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def _path(self, key: str) -> Path:
        return self.folder / f"{key}.json"

    def get(self, key: str) -> JournalEntry | None:
        try:
            data = json.loads(self._path(key).read_text())
        except FileNotFoundError:
            return None
        return JournalEntry(**data)

    def put(self, entry: JournalEntry) -> JournalEntry:
        self.folder.mkdir(parents=True, exist_ok=True)
        entry = replace(entry, times={**entry.times, entry.state: round(time.time(), 3)})
        atomic_write_text(self._path(entry.key), json.dumps(asdict(entry), indent=1) + "\n")
        return entry

    def begin(
        self, key: str, *, provider: str, model: str, label: str, cost: float | None
    ) -> JournalEntry:
        """Record a job about to be submitted (a new attempt if an earlier one failed)."""
        old = self.get(key)
        attempt = old.attempt + 1 if old is not None and old.state == FAILED else 1
        if old is not None and old.state == SUBMITTING:
            attempt = old.attempt  # the same attempt, resubmitted: keep its client id
        return self.put(
            JournalEntry(
                key=key,
                provider=provider,
                model=model,
                label=label,
                state=SUBMITTING,
                attempt=attempt,
                client_id=client_id_for(key, attempt),
                cost=cost,
                times=old.times if old is not None else {},
            )
        )

    def update(self, entry: JournalEntry, **changes: object) -> JournalEntry:
        return self.put(replace(entry, **changes))  # type: ignore[arg-type]

    def remove(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def entries(self) -> list[JournalEntry]:
        if not self.folder.is_dir():
            return []
        names = sorted(p for p in self.folder.glob("*.json") if not p.name.startswith("."))
        return [e for p in names if (e := self.get(p.stem))]
