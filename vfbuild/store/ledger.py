"""`ledger.csv`: every paid (or declared-cost) take, one row each, tracked by git.

Rows are appended under a lock with O_APPEND and fsynced, so a crash can at worst cut the last
line, which the reader skips. A row is keyed by its recipe key and job id: writing the same
job twice (a crash between the ledger and the journal) is a no-op.
"""

from __future__ import annotations

import csv
import io
import math
import os
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from vfbuild.errors import LedgerError

LEDGER = "ledger.csv"


@dataclass(frozen=True)
class LedgerRow:
    time: str
    shot: str
    step: str
    version: int
    take: int
    provider: str
    model: str
    recipe_key: str
    job_id: str
    cost: str  # dollars with 4 decimals, or "" when no price is known

    @property
    def lost(self) -> bool:
        """A job whose submit reply was lost and that was sent again (`--resubmit`): the
        provider probably took it and bills it, and no one knows its id. Its cost is the
        estimate. (Marked in `job_id`, not a column of its own: a ledger.csv with such rows
        still reads, and sums, in vfbuild versions that know no lost jobs.)"""
        return self.job_id.startswith(LOST_PREFIX)


COLUMNS = [f.name for f in fields(LedgerRow)]
LOST_PREFIX = "lost-"


def lost_job_id(submitted_at: float) -> str:
    """The `job_id` of a lost job's row: named by when it was sent, so the row of one lost
    submit is written once however often a build is killed before sending it again, and each
    lost submit of a recipe has a row of its own."""
    return f"{LOST_PREFIX}{int(submitted_at * 1000)}"


class Ledger:
    def __init__(self, film_root: Path) -> None:
        self.path = film_root / LEDGER
        self._lock = threading.Lock()
        self._seen: set[tuple[str, str]] | None = None

    def rows(self, *, strict: bool = True) -> list[LedgerRow]:
        """Every whole row. A row whose cost is not a number is a LedgerError naming its
        line (`vf cost` would not tell the truth); with `strict=False` it is kept as it is
        (the build only needs to know which jobs the ledger has)."""
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return []
        except OSError as e:
            raise LedgerError(f"{self.path}: cannot be read ({e.strerror})") from None
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            if not strict:
                text = raw.decode("utf-8", "replace")
            else:
                line = raw[: e.start].count(b"\n") + 1
                col = e.start - (raw.rfind(b"\n", 0, e.start) + 1) + 1
                raise LedgerError(
                    f"{self.path}:{line}:{col}: not valid UTF-8 text", hint=FIX_HINT
                ) from None
        out = []
        reader = csv.DictReader(io.StringIO(text.replace("\0", "")))
        try:
            if strict and reader.fieldnames is not None and set(reader.fieldnames) != set(COLUMNS):
                raise LedgerError(
                    f"{self.path}:1:1: the header is not {','.join(COLUMNS)}",
                    hint="restore the first line, or `git checkout` the file",
                )
            for rec in reader:
                if None in rec.values() or set(rec) != set(COLUMNS):
                    continue  # a line cut short by a crash
                try:
                    fields: dict[str, Any] = {
                        **rec,
                        "version": int(rec["version"]),
                        "take": int(rec["take"]),
                    }
                    row = LedgerRow(**fields)
                except ValueError:
                    continue
                if strict and not _is_cost(row.cost):
                    col = text.splitlines()[reader.line_num - 1].rfind(row.cost) + 1
                    raise LedgerError(
                        f"{self.path}:{reader.line_num}:{max(col, 1)}: the cost {row.cost!r} "
                        "is not a number of dollars",
                        hint=FIX_HINT,
                    )
                out.append(row)
        except csv.Error as e:
            if strict:
                raise LedgerError(f"{self.path}:{reader.line_num}: {e}", hint=FIX_HINT) from None
        return out

    def append(
        self,
        *,
        shot: str,
        step: str,
        version: int,
        take: int,
        provider: str,
        model: str,
        recipe_key: str,
        job_id: str,
        cost: float | None,
    ) -> bool:
        """Add the row unless this job is already recorded; True if written."""
        with self._lock:
            if self._seen is None:
                self._seen = {(r.recipe_key, r.job_id) for r in self.rows(strict=False)}
            if (recipe_key, job_id) in self._seen:
                return False
            row = LedgerRow(
                time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                shot,
                step,
                version,
                take,
                provider,
                model,
                recipe_key,
                job_id,
                "" if cost is None else f"{cost:.4f}",
            )
            buf = io.StringIO()
            writer = csv.writer(buf, lineterminator="\n")
            new = not self.path.exists() or self.path.stat().st_size == 0
            if new:
                writer.writerow(COLUMNS)
            writer.writerow([getattr(row, c) for c in COLUMNS])
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
            try:
                if not new and not self._ends_with_newline():
                    os.write(fd, b"\n")  # a crash cut the last row: start a fresh line
                os.write(fd, buf.getvalue().encode("utf-8"))
                os.fsync(fd)
            finally:
                os.close(fd)
            self._seen.add((recipe_key, job_id))
            return True

    def _ends_with_newline(self) -> bool:
        with open(self.path, "rb") as f:
            f.seek(-1, os.SEEK_END)
            return f.read(1) == b"\n"


FIX_HINT = "fix the row by hand (cost is dollars, e.g. 0.2800, or empty), or `git checkout` it"


def _is_cost(text: str) -> bool:
    if text == "":
        return True
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


def summarize(rows: list[LedgerRow], by: str) -> dict[str, float]:
    """Total cost per shot, step or provider (rows without a price count as 0)."""
    totals: dict[str, float] = defaultdict(float)
    for r in rows:
        totals[getattr(r, by)] += float(r.cost or 0)
    return dict(totals)
