"""`vf gc`: remove the store objects nothing uses, the review thumbnails of objects gone, and
the parts of pulls cut off midway.

An object is used when a lock pins it (a pick, an output), when a recipe record names it (the
recipe index: what was made, which is what "never pay twice" reads), or when a journal entry
names it (a paid job's result). Everything else in `.vf/objects` (an object a killed build
stored before recording it, one a user's `rm -r .vf/recipes` left) is garbage. A pinned object
is never removed, whatever else says. The space freed counts only the bytes that go: an object
still hard-linked from the layout keeps its bytes there. Runs under the film's write lock, so
no build adds an object while the store is swept.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from vfbuild.store import vfdir
from vfbuild.store.index import LOG_NAME

_HEX64 = re.compile(r"[0-9a-f]{64}")
_SHA_IN_JSON = re.compile(r'"sha256":\s*"([0-9a-f]{64})"')


@dataclass(frozen=True)
class GcResult:
    removed: tuple[str, ...]  # sha256 of each store object removed (or that would be)
    freed: int  # bytes freed (or that would be)
    thumbs: int  # stale thumbnails removed
    thumbs_freed: int
    kept: int  # objects kept
    dry_run: bool
    partials: int = 0  # pulls cut off midway, removed (`.vf/partial/`)
    partials_freed: int = 0


def pinned_shas(root: Path) -> set[str]:
    """Every sha256 a lock file names (picks, polished files, outputs), read as text so a
    lock the models would refuse still protects what it names."""
    out: set[str] = set()
    locks = root / "locks"
    if locks.is_dir():
        for f in locks.glob("*.yaml"):
            try:
                text = f.read_text(encoding="utf-8", errors="replace")
            except OSError:
                continue
            out.update(re.findall(r"sha256:\s*['\"]?([0-9a-f]{64})", text))
    return out


def recorded_shas(root: Path) -> set[str]:
    """Every sha256 the recipe index records: its log, its JSON records, its by-sha names."""
    recipes = vfdir.at(root, vfdir.RECIPES)
    out: set[str] = set()
    try:
        log = (recipes / LOG_NAME).read_text(encoding="utf-8", errors="replace")
        out.update(m.group(1) for m in re.finditer(r"^[0-9a-f]{64} ([0-9a-f]{64}) ", log, re.M))
    except OSError:
        pass
    if recipes.is_dir():
        for shard in recipes.iterdir():
            if shard.name == "by-sha":
                out.update(n for n in os.listdir(shard) if _HEX64.fullmatch(n))
            elif shard.is_dir():
                for f in shard.glob("*.json"):
                    try:
                        out.update(_SHA_IN_JSON.findall(f.read_text(errors="replace")))
                    except OSError:
                        continue
    return out


def journal_shas(root: Path) -> set[str]:
    out: set[str] = set()
    journal = vfdir.at(root, vfdir.JOURNAL)
    if journal.is_dir():
        for f in journal.glob("*.json"):
            try:
                data = json.loads(f.read_text())
            except (OSError, ValueError, RecursionError):
                continue  # a damaged entry protects nothing more than the rest
            sha = data.get("sha256") if isinstance(data, dict) else None
            if isinstance(sha, str) and _HEX64.fullmatch(sha):
                out.add(sha)
    return out


def collect(root: Path, *, dry_run: bool = False) -> GcResult:
    """Remove (or with `dry_run`, list) the unused objects and the stale thumbnails."""
    used = pinned_shas(root) | recorded_shas(root) | journal_shas(root)
    objects = vfdir.at(root, vfdir.OBJECTS)
    removed: list[str] = []
    freed = kept = 0
    for shard in sorted(objects.glob("??")) if objects.is_dir() else []:
        for obj in sorted(shard.iterdir()):
            if not _HEX64.fullmatch(obj.name) or not obj.is_file():
                continue
            if obj.name in used:
                kept += 1
                continue
            st = obj.stat()
            removed.append(obj.name)
            freed += st.st_size if st.st_nlink == 1 else 0
            if not dry_run:
                obj.unlink()
    gone = set(removed)
    thumbs = thumbs_freed = 0
    folder = vfdir.at(root, vfdir.THUMBS)
    for thumb in sorted(folder.glob("??/*.jpg")) if folder.is_dir() else []:
        sha = thumb.stem
        there = (objects / sha[:2] / sha).is_file() and sha not in gone
        if _HEX64.fullmatch(sha) and there:
            continue
        thumbs += 1
        thumbs_freed += thumb.stat().st_size
        if not dry_run:
            thumb.unlink()
    partials, partials_freed = _partials(root, dry_run)
    return GcResult(
        tuple(removed), freed, thumbs, thumbs_freed, kept, dry_run, partials, partials_freed
    )


def _partials(root: Path, dry_run: bool) -> tuple[int, int]:
    """Remove the parts pulls left (a pull cut off midway, never run again), but one that a
    pull is writing now (it holds the part's flock)."""
    count = size = 0
    folder = vfdir.at(root, vfdir.PARTIAL)
    for part in sorted(folder.glob("*.part")) if folder.is_dir() else []:
        try:
            fd = os.open(part, os.O_RDONLY)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            continue
        else:
            count += 1
            size += os.fstat(fd).st_size
            if not dry_run:
                part.unlink(missing_ok=True)
        finally:
            os.close(fd)
    return count, size
