"""Paid jobs as the job journal knows them: list them (`vf jobs`) and stop them (`vf cancel`).

A build that was stopped (Ctrl-C, a closed laptop, a kill) leaves its submitted jobs running at
the providers, and the next build polls and fetches them: nothing is paid twice. When those
takes are no longer wanted (a wrong prompt, a wrong model), `vf cancel` asks each provider to
stop them and marks them failed in the journal, so no build waits for them; the same recipe is
sent again only with `vf build --retry-failed`, as for any failed job. Kling cannot stop a task,
and Luma can only delete a generation: those are said plainly, and left for the next build to
fetch.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from vfbuild import steps
from vfbuild.errors import VfError
from vfbuild.project import Project
from vfbuild.providers import get_provider
from vfbuild.store.journal import FAILED, LEDGERED, SUBMITTED, SUBMITTING, Journal, JournalEntry
from vfbuild.store.ledger import Ledger, LedgerRow

CANCELED = "canceled with `vf cancel`"


@dataclass
class Outcome:
    entry: JournalEntry
    canceled: bool
    said: str


def journal_of(project: Project) -> Journal:
    return Journal(project.journal_dir)


def shot_of(entry: JournalEntry) -> str:
    return entry.label.split()[0] if entry.label else ""


def listed(project: Project, shots: list[str] | None = None) -> list[JournalEntry]:
    """The journal's entries with something left to say: in flight, lost or failed."""
    return [
        e
        for e in journal_of(project).entries()
        if e.state != LEDGERED and (not shots or shot_of(e) in shots)
    ]


def describe(entry: JournalEntry, now: float | None = None) -> str:
    """`s010 draft t02  fal  req-123  submitted 4 min ago`, and the error of a failed job."""
    now = time.time() if now is None else now
    since = entry.times.get(entry.state)
    age = f" {_ago(now - since)}" if since else ""
    state = {SUBMITTING: "submit reply lost"}.get(entry.state, entry.state)
    line = f"{entry.label:<18} {entry.provider:<10} {entry.job_id or '-':<38} {state}{age}"
    if entry.state == FAILED and entry.error:
        line += f": {entry.error}"
    return line


def lost_rows(project: Project, shots: list[str] | None = None) -> list[LedgerRow]:
    """Ledgered lost jobs (sent again with `--resubmit`) of recipes whose take has not come
    back yet: still worth a look in the provider's dashboard. Once the take is stored and
    ledgered, the lost row is only a cost, shown by `vf cost`."""
    journal = journal_of(project)
    out = []
    for row in Ledger(project.root).rows():
        if not row.lost or (shots and row.shot not in shots):
            continue
        entry = journal.get(row.recipe_key)
        if entry is None or entry.state != LEDGERED:
            out.append(row)
    return out


def describe_lost(row: LedgerRow) -> str:
    label = f"{row.shot} {row.step} t{row.take:02d}"
    cost = f"${float(row.cost):.2f}" if row.cost else "cost unknown"
    return (
        f"{label:<18} {row.provider:<10} {'-':<38} lost: sent again with --resubmit; the first "
        f"was probably billed ({cost} estimated, in ledger.csv)"
    )


def _ago(seconds: float) -> str:
    if seconds < 90:
        return f"{int(seconds)} s ago"
    if seconds < 5400:
        return f"{int(seconds / 60)} min ago"
    return f"{seconds / 3600:.1f} h ago"


def cancel(project: Project, shots: list[str] | None = None) -> list[Outcome]:
    """Ask each provider to stop this film's jobs in flight (of `shots`, or all)."""
    from vfbuild.providers.remote import RemoteJob

    journal = journal_of(project)
    outcomes = []
    for entry in listed(project, shots):
        if entry.state not in (SUBMITTED, SUBMITTING):
            continue
        if entry.job_id is None:
            outcomes.append(
                Outcome(
                    entry,
                    False,
                    "its submit reply was lost, so its job id is unknown: look for it in the "
                    f"{entry.provider} dashboard",
                )
            )
            continue
        prov = _provider(project, entry.provider)
        if not getattr(prov, "can_cancel", False):
            outcomes.append(
                Outcome(
                    entry,
                    False,
                    f"{entry.provider} cannot stop a job once sent: it finishes, and the next "
                    "build fetches it (without paying again)",
                )
            )
            continue
        parts = entry.label.split()
        step = parts[1] if len(parts) > 1 else ""
        recipe = {"step": step, "model": entry.model}
        job = RemoteJob(entry.key, recipe, {}, entry.label, entry.client_id)
        try:
            prov.cancel(entry.job_id, job)  # type: ignore[attr-defined]
        except VfError as e:
            outcomes.append(Outcome(entry, False, f"not canceled: {e.message}"))
            continue
        journal.update(entry, state=FAILED, error=CANCELED)
        outcomes.append(Outcome(entry, True, "canceled"))
    return outcomes


def _provider(project: Project, name: str) -> object:
    """The provider as the film configures it (its base URL), or as it comes."""
    providers = project.film.providers
    config = next(
        (
            c
            for slot in dict.fromkeys(s.slot for s in steps.registered() if s.slot)
            if (c := getattr(providers, slot, None)) is not None and c.use == name
        ),
        None,
    )
    return get_provider(name, config=config, film_root=project.root)
