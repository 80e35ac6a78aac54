"""What `vf plan` and `vf status` show: each step's state, why, and who would make it."""

from __future__ import annotations

from dataclasses import dataclass

from vfbuild.errors import VfError
from vfbuild.plan.graph import plan_tasks
from vfbuild.plan.resolve import DONE, Resolver, StepState
from vfbuild.project import Project


@dataclass
class StepLine:
    state: StepState
    provider: str
    model: str
    to_make: int  # takes the build would generate now
    error: str | None = None

    @property
    def cost(self) -> float:
        return 0.0  # the local provider is free; remote price tables come with remote providers


def step_lines(
    project: Project, *, shots: list[str] | None = None, tier: str = "final", frozen: bool = False
) -> list[StepLine]:
    resolver = Resolver(project, frozen=frozen)
    lines: list[StepLine] = []
    for name, step, _ in plan_tasks(project, shots, tier):
        try:
            state = resolver.resolve(name, step)
        except VfError as e:
            lines.append(StepLine(StepState(name, step, "error"), "", "", 0, e.message))
            continue
        prov = project.provider(step)
        model = state.jobs[0].recipe["model"] if state.jobs else prov.model(step, None)
        to_make = sum(1 for j in state.jobs if resolver.artifact(j.key) is None)
        lines.append(StepLine(state, prov.name, model, to_make if state.status != DONE else 0))
    return lines
