"""Film steps with several outputs (one per named delivery, per subtitle format, per cover
size): each output is its own job with its own lock (`locks/_<part>.yaml`), so it has its own
versions, and changing one part's settings makes that part only."""

from __future__ import annotations

from vfbuild.recipe import Recipe
from vfbuild.steps.base import DONE, STALE, Resolution, StepState


def part_lock(part: str) -> str:
    # Shot ids cannot start with "_": a part's lock never collides with a shot's.
    return f"_{part}"


def add_part(r: Resolution, state: StepState, part: str, recipe: Recipe) -> None:
    """Add one output of the film step `state` under its own lock."""
    one = r.output(StepState(part_lock(part), state.step, STALE), recipe)
    state.jobs += one.jobs
    if one.status != DONE:
        state.reasons = state.reasons or one.reasons


def settle(state: StepState) -> StepState:
    """The step is done when every part is (`add_part` has left reasons on a stale one)."""
    if state.status == STALE and state.jobs and not state.reasons:
        state.status = DONE
    return state
