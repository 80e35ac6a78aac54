"""`vf gc --remote`: remove the remote cache's objects that nothing the locks record uses, and
only those older than a grace period.

What is used is read from this clone's `locks/` (the team's truth, carried by git), as text so
a lock the models would refuse still protects what it names: every sha256 in a lock file (the
picks, the outputs, the inputs their recipes name) and every recipe key (a pick's or an
output's, and the step keys of every version the locks record). Then:

- `ac/<key>` is used when its key is one of those, or when its recipe's step key is (a take
  of a recorded version, picked or not);
- `cas/<sha256>` is used when a lock names it or a used action record names it as an output;
- `tmp/<name>`: what a killed writer staged; never used.

An unused object is removed only when it is older than the grace period (its mtime, S3's
LastModified): what a teammate pushed and whose locks this clone has not pulled yet is young,
and stays. A blob any action record still names, even an unused one too young to go, stays
with it. A pinned object is never removed, whatever its age. Leases are left alone.
"""

from __future__ import annotations

import re
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from vfbuild.errors import RemoteError, UsageError
from vfbuild.recipe import step_key_of
from vfbuild.store.remote import AC, CAS, TMP, Remote
from vfbuild.store.teamcache import artifact_of

_HEX64 = re.compile(r"[0-9a-f]{64}")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
DEFAULT_GRACE = 7 * 86400.0


@dataclass(frozen=True)
class RemoteGcResult:
    remote: str  # its name
    url: str
    grace: float  # seconds
    blobs: tuple[str, ...]  # sha256 of each cas/ object removed (or that would be)
    actions: tuple[str, ...]  # recipe key of each ac/ record removed (or that would be)
    staged: int  # tmp/ leftovers removed
    freed: int  # bytes
    kept: int  # objects kept (used, or unused but younger than the grace)
    young: int  # of those, unused but kept for their age
    dry_run: bool


def parse_grace(text: str) -> float:
    """`7d`, `36h`, `90m`, `2w`, `3600s`, or a number of days."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*", text)
    if m is None:
        raise UsageError(
            f"--grace {text!r} is not a duration",
            hint="write it as 7d, 36h, 90m, 2w or 3600s",
        )
    return float(m.group(1)) * _UNITS[m.group(2) or "d"]


def lock_names(root: Path) -> set[str]:
    """Every sha256 and recipe key the film's lock files name."""
    out: set[str] = set()
    locks = root / "locks"
    for f in sorted(locks.glob("*.yaml")) if locks.is_dir() else []:
        try:
            out.update(_HEX64.findall(f.read_text(encoding="utf-8", errors="replace")))
        except OSError:
            continue
    return out


def _mtime(info: dict[str, Any]) -> float:
    """An object's last change, in epoch seconds, from fsspec's info (local: mtime; s3fs:
    LastModified); 'now' when the backend does not say (so it is never old enough)."""
    for name in ("mtime", "LastModified", "last_modified", "updated", "timeCreated"):
        value = info.get(name)
        if isinstance(value, datetime):
            return value.timestamp()
        if isinstance(value, int | float):
            return float(value)
        if isinstance(value, str):
            try:
                return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
            except ValueError:
                continue
    return time.time()


def _listing(remote: Remote, kind: str) -> dict[str, dict[str, Any]]:
    try:
        found = remote.fs.ls(f"{remote.base}/{kind}", detail=True)
    except FileNotFoundError:
        return {}
    except OSError as e:
        raise RemoteError(f"remote {remote.name!r} ({remote.url}): cannot list {kind}/: {e}") from e
    out: dict[str, dict[str, Any]] = {}
    for info in found:
        if info.get("type") == "directory":
            continue
        out[str(info["name"]).rstrip("/").rsplit("/", 1)[-1]] = info
    return out


def collect_remote(
    root: Path, remote: Remote, *, grace: float = DEFAULT_GRACE, dry_run: bool = False
) -> RemoteGcResult:
    named = lock_names(root)
    now = time.time()

    def old(info: dict[str, Any]) -> bool:
        return now - _mtime(info) > grace

    # The records first, then the blobs: a blob pushed after its listing is not seen at all.
    actions = {k: v for k, v in _listing(remote, AC).items() if _HEX64.fullmatch(k)}
    with ThreadPoolExecutor(max_workers=8, thread_name_prefix="vf-gc") as pool:
        records = dict(zip(actions, pool.map(remote.get_action, actions), strict=True))
    blobs = {k: v for k, v in _listing(remote, CAS).items() if _HEX64.fullmatch(k)}
    staged = _listing(remote, TMP)

    drop_actions: list[str] = []
    keep_blobs: set[str] = set(named)
    kept = young = 0
    for key, record in records.items():
        used = key in named
        if not used and record is not None and isinstance(record.get("recipe"), dict):
            try:
                used = step_key_of(record["recipe"]) in named
            except (TypeError, ValueError):
                used = False
        art = artifact_of(record) if record is not None else None
        if used or not old(actions[key]):
            kept += 1
            young += 0 if used else 1
            if art is not None:
                keep_blobs.add(art.sha256)
        else:
            drop_actions.append(key)
    drop_blobs: list[str] = []
    freed = 0
    for sha, info in sorted(blobs.items()):
        if sha in keep_blobs:
            kept += 1
        elif not old(info):
            kept += 1
            young += 1
        else:
            drop_blobs.append(sha)
            freed += int(info.get("size") or 0)
    drop_staged = [n for n, info in staged.items() if old(info)]
    freed += sum(int(staged[n].get("size") or 0) for n in drop_staged)
    if not dry_run:
        paths = [remote.path(AC, k) for k in drop_actions]  # records before their blobs
        paths += [remote.path(CAS, s) for s in drop_blobs]
        paths += [remote.path(TMP, n) for n in drop_staged]
        _remove(remote, paths)
    return RemoteGcResult(
        remote.name,
        remote.url,
        grace,
        tuple(drop_blobs),
        tuple(sorted(drop_actions)),
        len(drop_staged),
        freed,
        kept,
        young,
        dry_run,
    )


def _remove(remote: Remote, paths: list[str]) -> None:
    for start in range(0, len(paths), 1000):  # S3's DeleteObjects takes 1000 at a time
        batch = paths[start : start + 1000]
        try:
            remote.fs.rm(batch)
        except FileNotFoundError:
            continue  # another gc was first
        except OSError as e:
            raise RemoteError(
                f"remote {remote.name!r} ({remote.url}): cannot remove objects: {e}",
                hint="check the backend's credentials allow deleting (s3:DeleteObject)",
            ) from e
