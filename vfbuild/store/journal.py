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
import math
import re
import time
import uuid
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from vfbuild.errors import JournalError
from vfbuild.fsutil import atomic_write_text

SUBMITTING = "submitting"  # written before the POST; no job id yet
SUBMITTED = "submitted"  # the provider gave a job id (its take may be stored, its row owed)
FAILED = "failed"  # the provider said the job failed
STORED = "stored"  # manual work whose take is stored; its ledger row may still be missing
LEDGERED = "ledgered"  # the ledger has its row: nothing left to do
# The provider refused the job's input for good (`InputRefused`, a 422): nothing was made or
# paid, and sending it again cannot help; the slot's `fallback:` makes the take instead.
REFUSED = "refused"


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
        path = self._path(key)
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as e:
            raise _damaged(path, f"cannot be read ({e.strerror})") from None
        return _entry(raw, path, key)

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
        attempt = old.attempt + 1 if old is not None and old.state in (FAILED, REFUSED) else 1
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


STATES = frozenset({SUBMITTING, SUBMITTED, FAILED, STORED, LEDGERED, REFUSED})
_HEX64 = re.compile(r"[0-9a-f]{64}")
# Each field's types as JSON gives them (`attempt` and `cost` may be written as 1 or 1.0).
_TYPES: dict[str, tuple[type, ...]] = {
    "key": (str,),
    "provider": (str,),
    "model": (str,),
    "label": (str,),
    "state": (str,),
    "attempt": (int,),
    "client_id": (str,),
    "job_id": (str, type(None)),
    "error": (str, type(None)),
    "cost": (int, float, type(None)),
    "sha256": (str, type(None)),
    "times": (dict,),
}
_REQUIRED = ("key", "provider", "model", "label", "state")


def _damaged(path: Path, what: str) -> JournalError:
    return JournalError(
        f"{path}: job journal entry {what}",
        hint="it records a paid job: look the job up on the provider's dashboard, then "
        "restore the file, or remove it (the next build submits that take again, paid again)",
    )


def _entry(raw: bytes, path: Path, key: str) -> JournalEntry:
    """A journal file's entry, or a JournalError naming the file (and its line:col)."""
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as e:
        raise _damaged(path, f"is not UTF-8 text (byte {e.start + 1})") from None
    except json.JSONDecodeError as e:
        raise JournalError(
            f"{path}:{e.lineno}:{e.colno}: job journal entry is not valid JSON: {e.msg}",
            hint=_damaged(path, "").hint,
        ) from None
    except RecursionError:
        raise _damaged(path, "is nested too deep to be a journal entry") from None
    if not isinstance(data, dict):
        raise _damaged(path, "is not a JSON object")
    unknown = sorted(set(data) - set(_TYPES))
    missing = [k for k in _REQUIRED if k not in data]
    if unknown or missing:
        what = "has unknown fields " + ", ".join(unknown) if unknown else ""
        what += ("; " if what and missing else "") + (
            "lacks " + ", ".join(missing) if missing else ""
        )
        raise _damaged(path, what)
    for name, value in data.items():
        kinds = _TYPES[name]
        if isinstance(value, bool) or not isinstance(value, kinds):
            raise _damaged(path, f"has a {name} of the wrong type")
    # The key names the file it is written to, and the digest a store path: both as made.
    if data["key"] != key or not _HEX64.fullmatch(data["key"]):
        raise _damaged(path, "names another recipe key than its file's")
    if data.get("sha256") is not None and not _HEX64.fullmatch(data["sha256"]):
        raise _damaged(path, "has a sha256 that is not a digest")
    if data["state"] not in STATES:
        raise _damaged(path, f"has an unknown state {data['state']!r}")
    cost = data.get("cost")
    if cost is not None and not (math.isfinite(cost) and cost >= 0):
        raise _damaged(path, "has a cost that is not a price")
    times = data.get("times", {})
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in times.values()):
        raise _damaged(path, "has times that are not times")
    return JournalEntry(**data)
