"""What `vf plan` and `vf status` show: each step's state, why, and who would make it."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from vfbuild import steps
from vfbuild.errors import VfError
from vfbuild.plan.execute import job_label
from vfbuild.plan.graph import TaskSpec, plan_tasks, task_links, task_name
from vfbuild.plan.maker import remake_hint
from vfbuild.plan.resolve import DONE, STALE, WAITING, Job, Resolver, StepState
from vfbuild.project import Project

if TYPE_CHECKING:
    from vfbuild.plan.cost import Coster


@dataclass
class StepLine:
    state: StepState
    provider: str
    model: str
    to_make: int  # takes the build would generate now
    error: str | None = None
    cost: float = 0.0  # dollars for the takes to make (priced ones)
    cost_known: bool = True  # False when a take to make has no price
    from_remote: int = 0  # stale takes the remote cache has: fetched, not made nor paid


def step_lines(
    project: Project,
    *,
    shots: list[str] | None = None,
    tier: str = "final",
    frozen: bool = False,
    rough: str | None = None,
) -> list[StepLine]:
    from vfbuild.plan.cost import Coster
    from vfbuild.plan.remoteplan import RemoteLookup

    resolver = Resolver(project, frozen=frozen, rough=rough)
    remote = RemoteLookup(project)
    coster = Coster(project)
    lines: list[StepLine] = []
    producing: set[str] = set()  # tasks this build will make something in
    planned: dict[str, str] = {}  # recipe key -> the take that makes it
    blocked: set[str] = set()  # tasks the build cannot do: a pinned take cannot be remade
    done: set[str] = set()  # tasks with nothing to make: their outputs are known
    specs = plan_tasks(project, shots, tier)
    reads = _inputs(project, specs)
    for name, step, upstream in specs:
        try:
            state = resolver.resolve(name, step)
        except VfError as e:
            lines.append(StepLine(StepState(name, step, "error"), "", "", 0, e.message))
            continue
        prov = project.provider(step)
        there: set[str] = set()
        if state.status == DONE:  # nothing to make, and nothing shows a done step's model
            model, making = "", []
        else:
            model = state.jobs[0].recipe.model if state.jobs else prov.model(step, None)
            making = [j for j in state.jobs if resolver.artifact(j.key) is None]
            making, notes = _pinned_makers(project, coster, prov.name, making)
            if any(n.startswith("blocked:") for n in notes):
                blocked.add(task_name(name, step))
            elif upstream in blocked and state.status == STALE:
                # Its input is the pick that cannot be remade: the build does not get to it.
                making, notes = [], [f"blocked: its input is the {upstream} pick above"]
                blocked.add(task_name(name, step))
            if notes:
                state = replace(state, reasons=[*state.reasons, *notes])
            shared = [j for j in making if j.key in planned]
            if shared:
                # Another shot's step makes the same recipe: the build makes it once.
                making = [j for j in making if j.key not in planned]
                others = ", ".join(sorted({planned[j.key] for j in shared}))
                same = "the same recipes as" if len(shared) > 1 else "the same recipe as"
                state = replace(state, reasons=[*state.reasons, f"{same} {others}: made once"])
                producing.add(task_name(name, step))  # by the other shot's task, in this build
            planned.update((j.key, job_label(j)) for j in making)
            there = remote.has(making) if project.film.remotes else set()
            if there:
                making = [j for j in making if j.key not in there]
                name_of = remote.remote.name if remote.remote is not None else "remote"
                state = replace(
                    state,
                    reasons=[*state.reasons, f"{len(there)} from the remote {name_of}: no payment"],
                )
        task = task_name(name, step)
        if state.status in (DONE, STALE) and not making and task not in blocked:
            done.add(task)  # its output is known (a stale one only relinks its files)
        inputs = reads.get(task, set())
        if (
            state.status == WAITING
            and not steps.get(step).picked
            and inputs & producing
            and inputs <= producing | done
        ):
            # Its input is made earlier in this same build: its recipe is not known yet, but
            # who makes it, and so its price, is.
            making = [resolver.future_job(name, step)]
            # A copy: the resolver keeps its states for the rest of the process.
            state = replace(
                state, reasons=[*state.reasons, "priced ahead: it runs after its input is built"]
            )
        if making:
            producing.add(task_name(name, step))
        costs = [coster.cost(j) for j in making]
        lines.append(
            StepLine(
                state,
                prov.name,
                model,
                len(making),
                cost=sum(c for c in costs if c is not None),
                cost_known=None not in costs,
                from_remote=len(there),
            )
        )
    return lines


def _inputs(project: Project, specs: list[TaskSpec]) -> dict[str, set[str]]:
    """The tasks of the build whose outputs each task reads: the one it follows, its step's
    `upstream` in its shot (lip-sync follows the voice take but reads the upscale too) and
    other shots' (`Step.links`). A waiting task is priced ahead when each of them is done or
    makes something in this build, not when only the one it follows does."""
    names = {task_name(s.name, s.step) for s in specs}
    links = task_links(project, specs)
    out: dict[str, set[str]] = {}
    for spec in specs:
        task = task_name(spec.name, spec.step)
        deps = set(links.get(task, []))
        if spec.upstream is not None:
            deps.add(spec.upstream)
        up = steps.get(spec.step).upstream
        if not spec.film_step and up is not None and task_name(spec.name, up) in names:
            deps.add(task_name(spec.name, up))
        out[task] = deps
    return out


def _pinned_makers(
    project: Project, coster: Coster, slot_provider: str, making: list[Job]
) -> tuple[list[Job], list[str]]:
    """Pinned takes to remake, as the build will: by the provider that made them (said when
    it is not the slot's), or not at all when it cannot give the pinned bytes again (said,
    with what sending it again would cost, and left out of the takes to make)."""
    from vfbuild.plan.maker import cannot_remake, job_provider

    kept: list[Job] = []
    notes: list[str] = []
    for job in making:
        if job.pinned_sha256 is None:
            kept.append(job)
            continue
        why = cannot_remake(project, job)
        if why is None:
            kept.append(job)
            maker = job_provider(project, job).name
            if maker != slot_provider:
                notes.append(f"pinned {job_label(job)} is remade by {maker}, which made it")
            continue
        try:
            price = coster.cost(job)
        except VfError:
            price = None
        again = "" if price is None else f" (sending it again would cost ${price:.2f}"
        again += ", for other bytes than the pin)" if again else ""
        notes.append(
            f"blocked: pinned {job_label(job)} is not in the store and cannot be remade: "
            f"{why}{again}; {remake_hint(job)}"
        )
    return kept, notes
