"""`--json`: the library's results as JSON documents, one shape per command.

Each document names its shape and version in `schema` (`vfbuild.plan/1`); its JSON Schema is
`schema/json/<command>.schema.json`, and the README shows one of each. A shape only grows
within a version (new keys may appear; none changes meaning or goes away); a change that a
script would notice is a new version. Money is in dollars, rounded to 1/10000 (the ledger's
precision); a film-wide step (the edit) has `"shot": null`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from vfbuild.api import BuildReport, CostReport, Graph, Plan, StatusRow
    from vfbuild.errors import VfError
    from vfbuild.finish.qc import QcReport
    from vfbuild.plan.integrity import Mismatch, VerifyResult
    from vfbuild.store.gc import GcResult
    from vfbuild.store.journal import JournalEntry
    from vfbuild.store.ledger import LedgerRow
    from vfbuild.store.remotegc import RemoteGcResult

Record = dict[str, object]
VERSION = 1
COMMANDS = ("plan", "status", "cost", "jobs", "build", "graph", "qc", "verify", "gc")


def schema(command: str) -> str:
    return f"vfbuild.{command}/{VERSION}"


def dumps(record: Record) -> str:
    return json.dumps(record, indent=2, ensure_ascii=False)


def _money(value: float | None) -> float | None:
    return None if value is None else round(float(value), 4)


def _shot(name: str, film_step: bool) -> str | None:
    return None if film_step else name


def plan_record(plan: Plan) -> Record:
    return {
        "schema": schema("plan"),
        "takes": plan.takes,
        "from_remote": sum(r.from_remote for r in plan.rows),
        "cost": _money(plan.cost),
        "unpriced": list(plan.unpriced),
        "steps": [
            {
                "shot": _shot(r.name, r.film_step),
                "step": r.step,
                "status": r.status,
                "provider": r.provider,
                "model": r.model,
                "to_make": r.to_make,
                "cost": _money(r.cost),
                "cost_known": r.cost_known,
                "reasons": list(r.reasons),
                "notes": list(r.notes),
                "from_remote": r.from_remote,
            }
            for r in plan.rows
        ],
    }


def status_record(rows: Iterable[StatusRow]) -> Record:
    return {
        "schema": schema("status"),
        "steps": [
            {
                "shot": _shot(r.name, r.film_step),
                "step": r.step,
                "status": r.status,
                "version": r.version,
                "new": r.new,
                "picked_step": r.picked,
                "pick": (
                    {"take": r.pick_take, "version": r.pick_version}
                    if r.pick_take is not None and r.pick_version is not None
                    else None
                ),
                "reasons": list(r.reasons),
                "notes": list(r.notes),
            }
            for r in rows
        ],
    }


def _ledger_row(r: LedgerRow) -> Record:
    return {
        "time": r.time,
        "shot": r.shot,
        "step": r.step,
        "version": r.version,
        "take": r.take,
        "provider": r.provider,
        "model": r.model,
        "recipe_key": r.recipe_key,
        "job_id": r.job_id,
        "cost": _money(float(r.cost)) if r.cost else None,
        "lost": r.lost,
    }


def cost_record(cost: CostReport) -> Record:
    def totals(by: dict[str, float]) -> dict[str, float | None]:
        return {k: _money(v) for k, v in sorted(by.items())}

    return {
        "schema": schema("cost"),
        "total": _money(cost.total),
        "jobs": cost.jobs,
        "by_shot": totals(cost.by_shot),
        "by_step": totals(cost.by_step),
        "by_provider": totals(cost.by_provider),
        "lost": [_ledger_row(r) for r in cost.lost],
    }


def _journal_entry(e: JournalEntry) -> Record:
    words = e.label.split()
    # Labels are "s010 draft t02", "s010 final", or a film step's "edit".
    shot, step = (None, words[0]) if len(words) == 1 else (words[0], words[1])
    take = int(words[2][1:]) if len(words) > 2 and words[2][1:].isdigit() else None
    return {
        "key": e.key,
        "label": e.label,
        "shot": shot,
        "step": step,
        "take": take,
        "provider": e.provider,
        "model": e.model,
        "state": e.state,
        "attempt": e.attempt,
        "job_id": e.job_id,
        "error": e.error,
        "cost": _money(e.cost),
        "since": e.times.get(e.state),
    }


def jobs_record(entries: Iterable[JournalEntry], lost: Iterable[LedgerRow]) -> Record:
    return {
        "schema": schema("jobs"),
        "jobs": [_journal_entry(e) for e in entries],
        "lost": [_ledger_row(r) for r in lost],
    }


def _error(e: VfError) -> Record:
    return {
        "type": type(e).__name__,
        "message": e.message,
        "hint": e.hint,
        "exit_code": e.exit_code,
    }


def build_record(report: BuildReport) -> Record:
    return {
        "schema": schema("build"),
        "ok": report.ok,
        "exit_code": report.exit_code,
        "made": list(report.made),
        "spent": _money(report.spent),
        "errors": [_error(e) for e in report.errors],
        "notes": list(report.notes),
        "waiting": {shot: list(picks) for shot, picks in report.waiting.items()},
        "inbox": list(report.inbox),
        "film": report.film,
        "rough": list(report.rough),
        "seconds": round(report.seconds, 3),
    }


def graph_record(graph: Graph) -> Record:
    return {
        "schema": schema("graph"),
        "tasks": [
            {
                "id": n.id,
                "shot": _shot(n.name, n.film_step),
                "step": n.step,
                "status": n.status,
            }
            for n in graph.nodes
        ],
        "edges": [list(e) for e in graph.edges],
    }


def qc_record(report: QcReport) -> Record:
    """`vf qc --json`: the same document as the version's .qc.json."""
    from vfbuild.finish.qc import record

    return record(report)


def _mismatch(m: Mismatch) -> Record:
    return {
        "file": m.file,
        "what": m.what,
        "who": m.who,
        "expected": m.expected,
        "actual": m.actual,
    }


def verify_record(result: VerifyResult) -> Record:
    return {
        "schema": schema("verify"),
        "ok": result.ok,
        "checked": result.checked,
        "bytes": result.bytes,
        "damaged": [_mismatch(m) for m in result.mismatches],
        "missing": [_mismatch(m) for m in result.missing],
        "repaired": list(result.repaired),
        "unrepaired": list(result.unrepaired),
    }


def gc_remote_record(result: RemoteGcResult) -> Record:
    """`vf gc --remote --json`: the gc shape, its blobs as `removed`, and a `remote` part."""
    return {
        "schema": schema("gc"),
        "dry_run": result.dry_run,
        "removed": list(result.blobs),
        "freed": result.freed,
        "thumbs": 0,
        "thumbs_freed": 0,
        "kept": result.kept,
        "remote": {
            "name": result.remote,
            "url": result.url,
            "grace": result.grace,
            "actions": list(result.actions),
            "staged": result.staged,
            "young": result.young,
        },
    }


def gc_record(result: GcResult) -> Record:
    return {
        "schema": schema("gc"),
        "dry_run": result.dry_run,
        "removed": list(result.removed),
        "freed": result.freed,
        "thumbs": result.thumbs,
        "thumbs_freed": result.thumbs_freed,
        "kept": result.kept,
        "partials": result.partials,
        "partials_freed": result.partials_freed,
    }
