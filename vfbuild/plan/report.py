"""What `vf plan` and `vf status` show: each step's state, why, and who would make it."""

from __future__ import annotations

from dataclasses import dataclass, replace

from vfbuild import steps
from vfbuild.errors import VfError
from vfbuild.plan.execute import job_label
from vfbuild.plan.graph import plan_tasks, task_name
from vfbuild.plan.resolve import DONE, WAITING, Resolver, StepState
from vfbuild.project import Project


@dataclass
class StepLine:
    state: StepState
    provider: str
    model: str
    to_make: int  # takes the build would generate now
    error: str | None = None
    cost: float = 0.0  # dollars for the takes to make (priced ones)
    cost_known: bool = True  # False when a take to make has no price


def step_lines(
    project: Project, *, shots: list[str] | None = None, tier: str = "final", frozen: bool = False
) -> list[StepLine]:
    from vfbuild.plan.cost import Coster

    resolver = Resolver(project, frozen=frozen)
    coster = Coster(project)
    lines: list[StepLine] = []
    producing: set[str] = set()  # tasks this build will make something in
    planned: dict[str, str] = {}  # recipe key -> the take that makes it
    for name, step, upstream in plan_tasks(project, shots, tier):
        try:
            state = resolver.resolve(name, step)
        except VfError as e:
            lines.append(StepLine(StepState(name, step, "error"), "", "", 0, e.message))
            continue
        prov = project.provider(step)
        if state.status == DONE:  # nothing to make, and nothing shows a done step's model
            model, making = "", []
        else:
            model = state.jobs[0].recipe["model"] if state.jobs else prov.model(step, None)
            making = [j for j in state.jobs if resolver.artifact(j.key) is None]
            shared = [j for j in making if j.key in planned]
            if shared:
                # Another shot's step makes the same recipe: the build makes it once.
                making = [j for j in making if j.key not in planned]
                others = ", ".join(sorted({planned[j.key] for j in shared}))
                same = "the same recipes as" if len(shared) > 1 else "the same recipe as"
                state = replace(state, reasons=[*state.reasons, f"{same} {others}: made once"])
            planned.update((j.key, job_label(j)) for j in making)
        if state.status == WAITING and upstream in producing and not steps.get(step).picked:
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
            )
        )
    return lines
