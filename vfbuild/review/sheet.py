"""The contact sheet as plain data: what the page renders, from the library's own answers.

`sheet(film)` combines `Film.status()` (each step's state, version and pick) with
`Film.takes()` (every take in the layout, with its recipe and cost); `plan_data(film)` is
`Film.plan()`'s answer. Both are JSON-ready dicts; nothing here decides anything the library
does not.
"""

from __future__ import annotations

import functools
import json
import os
import time
from dataclasses import asdict, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vfbuild import steps
from vfbuild.store import vfdir

if TYPE_CHECKING:
    from vfbuild.api import Film, Plan, StatusRow, TakeRow

SHEET_FORMAT = 1
# The last sheet and the world it was made in, as `vf plan` keeps its answer (see
# `vfbuild.plan.stamp`): a film that did not change since opens without being loaded. The
# file is the world's digest on a line, then the sheet's JSON, which is sent as it is.
SHEET_STAMP = Path(vfdir.REVIEW_SHEET)
_STAMP_KEY = ("review-sheet", SHEET_FORMAT)


def sheet_world(root: Path) -> str:
    """The digest of everything the sheet is made from: the world of the no-op stamp, and
    ledger.csv (the cards' costs), which that world leaves out."""
    from vfbuild.plan import stamp

    return _with_ledger(root, stamp.World(root, _STAMP_KEY).digest)


def _with_ledger(root: Path, digest: str) -> str:
    from vfbuild.store.ledger import LEDGER

    try:
        st = os.stat(root / LEDGER)
        return f"{digest}:{st.st_size}:{st.st_mtime_ns}:{st.st_ino}"
    except OSError:
        return f"{digest}:-"


def sheet_json(film: Film) -> tuple[bytes, str | None]:
    """`sheet(film)` as JSON, from its stamp when nothing it reads changed since; and the
    world it holds for (None when the film changed while it was made, or just before)."""
    from vfbuild.fsutil import atomic_write_bytes
    from vfbuild.plan import stamp

    root = film.root
    before = stamp.World(root, _STAMP_KEY)
    seen = _with_ledger(root, before.digest)
    path = root / SHEET_STAMP
    try:
        with open(path, "rb") as f:
            if f.readline().decode("ascii", "replace").strip() == seen:
                return f.read(), seen
    except OSError:
        pass
    body = json.dumps(sheet(film), separators=(",", ":")).encode("utf-8")
    after = stamp.World(root, _STAMP_KEY)
    now = _with_ledger(root, after.digest)
    if seen != now or time.time_ns() - after.newest < stamp.RACY_SECONDS * 1e9:
        return body, None  # a change within one tick of the clock could go unseen: no stamp
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(path, now.encode("ascii") + b"\n" + body)
    except OSError:
        pass  # a cache (a read-only film keeps none)
    return body, now


def sheet(film: Film) -> dict[str, Any]:
    project = film.project
    status = film.status()
    takes = film.takes()
    by_step: dict[tuple[str, str], list[TakeRow]] = {}
    for t in takes:
        by_step.setdefault((t.name, t.step), []).append(t)
    shots: list[dict[str, Any]] = []
    by_shot: dict[str, dict[str, Any]] = {}
    film_steps: list[dict[str, Any]] = []
    for row in status:
        entry = _step_entry(row, by_step.get((row.name, row.step), []))
        if row.name == "film":
            film_steps.append(entry)
            continue
        shot = by_shot.get(row.name)
        if shot is None:
            spec = project.film.shot(row.name)
            shot = {"id": row.name, "duration": spec.duration, "steps": []}
            by_shot[row.name] = shot
            shots.append(shot)
        shot["steps"].append(entry)
    for shot in shots:
        shot["waits_for"] = waits_for(shot["steps"])
    cut = _latest_cut(film_steps)
    return {
        "format": SHEET_FORMAT,
        "title": project.film.film.title,
        "fps": project.film.film.fps,
        "shots": shots,
        "film_steps": film_steps,
        "cut": cut,
        "counts": _counts(shots),
    }


def _row(take: TakeRow) -> dict[str, Any]:
    # Its fields are plain values: `asdict`'s deep copy costs a third of a 800-take sheet.
    return {name: getattr(take, name) for name in _take_fields()}


@functools.cache
def _take_fields() -> tuple[str, ...]:
    from vfbuild.api import TakeRow

    return tuple(f.name for f in fields(TakeRow))


def _step_entry(row: StatusRow, takes: list[TakeRow]) -> dict[str, Any]:
    current = [_row(t) for t in takes if t.current]
    earlier: dict[int, list[dict[str, Any]]] = {}
    for t in takes:
        if not t.current and t.version is not None:
            earlier.setdefault(t.version, []).append(_row(t))
    # A pick is out of date when its recipe is none of the current takes' (as the planner
    # says in the step's notes), whether or not its file is still in the layout.
    out_of_date = row.pick_take is not None and not any(t.picked and t.current for t in takes)
    declared = steps.get(row.step)
    return {
        "step": row.step,
        "kind": declared.kind,
        "picked_step": row.picked,
        "status": row.status,
        "version": row.version,
        "new": row.new,
        "pick": None
        if row.pick_take is None
        else {"take": row.pick_take, "version": row.pick_version, "out_of_date": out_of_date},
        "missing_pick": row.picked and row.pick_take is None and bool(current),
        "reasons": list(row.reasons),
        "notes": list(row.notes),
        "takes": current,
        "earlier": [{"version": v, "takes": earlier[v]} for v in sorted(earlier, reverse=True)],
        "prompt": _shared(current, "prompt"),
        "negative": _shared(current, "negative"),
    }


def _shared(takes: list[dict[str, Any]], field: str) -> str | None:
    """The value every take of the version has (a step's composed prompt), else None."""
    values = {t[field] for t in takes}
    return values.pop() if len(values) == 1 else None


def waits_for(entries: list[dict[str, Any]]) -> dict[str, str] | None:
    """What the shot waits for: the first of its steps a human or a build must act on."""
    for e in entries:
        if e["status"] == "error":
            return {"step": e["step"], "who": "fix", "text": "; ".join(e["reasons"])}
        if e["missing_pick"] and e["status"] == "done":
            return {"step": e["step"], "who": "you", "text": f"pick a {e['step']} take"}
        if e["status"] == "needs-pick":
            return {"step": e["step"], "who": "you", "text": e["reasons"][0].split(":")[0]}
        if e["status"] == "stale":
            return {"step": e["step"], "who": "build", "text": f"build {e['step']}"}
    return None


def _latest_cut(film_steps: list[dict[str, Any]]) -> dict[str, Any] | None:
    for e in film_steps:
        if e["step"] != "edit":
            continue
        made = [t for t in e["takes"] if t["file"]]
        made += [t for grp in e["earlier"] for t in grp["takes"] if t["file"]]
        if made:
            best = max(made, key=lambda t: t["version"] or 0)
            return {
                "file": best["file"],
                "sha256": best["sha256"],
                "version": best["version"],
                "current": best["current"],
                "status": e["status"],
            }
    return None


def _counts(shots: list[dict[str, Any]]) -> dict[str, int]:
    counts = {"shots": len(shots), "takes": 0, "missing_picks": 0, "out_of_date": 0}
    for shot in shots:
        for e in shot["steps"]:
            counts["takes"] += sum(1 for t in e["takes"] if t["file"])
            counts["missing_picks"] += int(e["missing_pick"])
            counts["out_of_date"] += int(bool(e["pick"] and e["pick"]["out_of_date"]))
    return counts


def plan_data(plan: Plan) -> dict[str, Any]:
    return {
        "rows": [asdict(r) for r in plan.pending],
        "takes": plan.takes,
        "cost": round(plan.cost, 4),
        "unpriced": list(plan.unpriced),
    }
