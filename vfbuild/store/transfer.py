"""`vf push` and `vf pull`: the takes the locks pin (or, pushed with `--all`, every take in the
store) and their action records, to and from the film's remote cache.

Transfers stream in CHUNK-sized pieces (no file whole in memory), run `WORKERS` at once, and
resume: an object the other side already has (the store, or `cas/` with the same size: remote
writes are atomic, so a present object is whole) is skipped. Every blob pulled is verified by
its sha256 before the store takes it (`Remote.download_blob`).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from vfbuild.errors import RemoteError, VfError
from vfbuild.store import vfdir
from vfbuild.store.index import RecipeIndex
from vfbuild.store.journal import Journal
from vfbuild.store.locks import LockBook
from vfbuild.store.objects import Artifact
from vfbuild.store.remote import Remote
from vfbuild.store.teamcache import TeamCache, action_record

WORKERS = 8


@dataclass(frozen=True)
class Pin:
    """One take to move: its recipe key, artifact and recipe."""

    key: str
    art: Artifact
    recipe: dict[str, Any]
    label: str


class Meter(Protocol):
    """Hears a transfer's progress (from its worker threads)."""

    def begin(self, objects: int, total_bytes: int) -> None: ...
    def advance(self, nbytes: int) -> None: ...
    def done(self, label: str, moved: bool) -> None: ...
    def end(self) -> None: ...


class Quiet:
    def begin(self, objects: int, total_bytes: int) -> None:
        pass

    def advance(self, nbytes: int) -> None:
        pass

    def done(self, label: str, moved: bool) -> None:
        pass

    def end(self) -> None:
        pass


@dataclass
class TransferReport:
    remote: str
    objects: int = 0  # takes considered
    moved: int = 0  # blobs this run transferred
    skipped: int = 0  # blobs the other side already had
    records: int = 0  # action records written (push) or takes indexed (pull)
    nbytes: int = 0
    missing: list[str] = field(default_factory=list)  # pinned takes this side does not have
    errors: list[VfError] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def pinned(locks_dir: Path, locks: LockBook) -> list[Pin]:
    """Every take a lock pins: picks and single outputs, each once."""
    pins: dict[str, Pin] = {}
    for path in sorted(locks_dir.glob("*.yaml")):
        lock = locks.get(path.stem)
        if lock is None:
            continue
        entries: list[tuple[str, Any]] = [*lock.picks.items(), *lock.outputs.items()]
        for step, e in entries:
            ext = Path(e.file).suffix
            art = Artifact(e.sha256, ext, -1)
            pins.setdefault(e.key, Pin(e.key, art, dict(e.recipe), f"{lock.shot} {step}"))
    return list(pins.values())


def store_takes(index: RecipeIndex) -> Iterator[Pin]:
    """Every take the recipe index records (for `vf push --all`)."""
    for path in sorted(index.root.glob("??/*.json")):
        key = path.stem
        art = index.lookup(key)
        if art is None:
            continue
        try:
            recipe = json.loads(path.read_text()).get("recipe")
        except (OSError, ValueError, RecursionError, AttributeError):
            continue
        if isinstance(recipe, dict):
            yield Pin(key, art, recipe, f"{recipe.get('step', '?')} {key[:12]}")


def _run(pins: Iterable[Pin], work: Any, report: TransferReport, meter: Meter) -> None:
    items = list(pins)
    with ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="vf-transfer") as pool:
        for _ in pool.map(lambda p: _one(work, p, report, meter), items):
            pass


def _one(work: Any, pin: Pin, report: TransferReport, meter: Meter) -> None:
    try:
        moved = work(pin)
    except VfError as e:
        with report.lock:
            report.errors.append(e)
        return
    with report.lock:
        if moved is None:
            report.missing.append(pin.label)
            return
        if moved:
            report.moved += 1
        else:
            report.skipped += 1
    meter.done(pin.label, bool(moved))


def push(team: TeamCache, journal: Journal, pins: list[Pin], meter: Meter) -> TransferReport:
    """Upload each pin's blob (unless the remote has it) and its action record."""
    remote, store = team.remote, team.store
    report = TransferReport(remote.name, objects=len(pins))
    here = [p for p in pins if store.has(p.art.sha256)]
    total = sum(store.path(p.art.sha256).stat().st_size for p in here)
    meter.begin(len(pins), total)

    def counted(n: int) -> None:
        with report.lock:
            report.nbytes += n
        meter.advance(n)

    def work(pin: Pin) -> bool | None:
        if not store.has(pin.art.sha256):
            return None
        path = store.path(pin.art.sha256)
        art = Artifact(pin.art.sha256, pin.art.ext, path.stat().st_size)
        moved = remote.upload_blob(path, art.sha256, counted)
        entry = journal.get(pin.key)
        record = action_record(
            pin.key,
            art,
            pin.recipe,
            by=team.holder,
            job_id=entry.job_id if entry is not None else None,
            cost=entry.cost if entry is not None else None,
            provider=entry.provider if entry is not None else None,
        )
        if remote.put_action(pin.key, record):
            with report.lock:
                report.records += 1
        return moved

    try:
        _run(here + [p for p in pins if not store.has(p.art.sha256)], work, report, meter)
    finally:
        meter.end()
    return report


def pull(team: TeamCache, pins: list[Pin], meter: Meter) -> TransferReport:
    """Download each pin's blob (verified) into the store unless it is there, and index it."""
    remote, store, index = team.remote, team.store, team.index
    report = TransferReport(remote.name, objects=len(pins))
    meter.begin(len(pins), 0)

    def counted(n: int) -> None:
        with report.lock:
            report.nbytes += n
        meter.advance(n)

    def work(pin: Pin) -> bool | None:
        moved = False
        if not store.has(pin.art.sha256):
            if remote.blob_size(pin.art.sha256) is None:
                return None
            with remote.download_blob(
                pin.art.sha256, team.tmp_dir, counted, resume_dir=team.partial_dir
            ) as tmp:
                store.put(tmp, pin.art.ext, expected_sha256=pin.art.sha256)
            moved = True
        if index.lookup(pin.key) is None:
            size = store.path(pin.art.sha256).stat().st_size
            index.record(pin.key, Artifact(pin.art.sha256, pin.art.ext, size), pin.recipe)
            with report.lock:
                report.records += 1
        return moved

    try:
        _run(pins, work, report, meter)
    finally:
        meter.end()
    return report


def open_team(root: Path, remotes: Any, name: str | None, store: Any, index: Any) -> TeamCache:
    from vfbuild.store.teamcache import choose_remote

    remote: Remote | None = choose_remote(remotes, name)
    if remote is None:
        raise RemoteError(
            "this film has no remote cache",
            hint="add one: `vf remote add team s3://bucket/films/NAME` (or file:///mnt/nas/…)",
        )
    vfdir.at(root, vfdir.TMP).mkdir(parents=True, exist_ok=True)
    return TeamCache(root, store, index, remote)
