"""`vf pick`: a human choice of a take, written to the shot's lock. Locks framing."""

from __future__ import annotations

from dataclasses import dataclass

from vfbuild import steps
from vfbuild.errors import UsageError
from vfbuild.fsutil import sha256_file
from vfbuild.plan.resolve import NEEDS_PICK, Job, Resolver
from vfbuild.project import Project
from vfbuild.recipe import Recipe
from vfbuild.store import layout, vfdir
from vfbuild.store.locks import Pick


@dataclass
class PickResult:
    pick: Pick
    previous: Pick | None
    lock_file: str


def pick_take(
    project: Project, shot_id: str, step: str, take: int, version: int | None = None
) -> PickResult:
    picked = steps.picked_names()
    if step not in picked:
        raise UsageError(
            f"only {' and '.join(picked)} takes are picked, not {step!r}",
            hint="the other steps follow from the picks",
        )
    if shot_id not in project.shot_ids:
        raise UsageError(
            f"no shot named {shot_id!r} in shots.yaml",
            hint=f"shots are: {', '.join(project.shot_ids[:20])}",
        )
    state = Resolver(project).resolve(shot_id, step)
    if state.status == NEEDS_PICK:
        raise UsageError(f"{shot_id} {step} cannot be picked yet", hint=state.reasons[0])
    if version is None:
        version = state.current_version
        if version is None:
            raise UsageError(
                f"{shot_id} {step}: the current version is not built yet",
                hint="run `vf build` first, then look at the takes",
            )
    ext = project.provider(step).ext(step)
    rel = layout.take_path(shot_id, step, version, take, ext)
    path = project.root / rel
    job = next(
        (j for j in state.jobs if j.version == version and j.take == take and j.from_spec), None
    )
    if job is not None:
        art = project.index.lookup(job.key)
        if art is None or not project.store.has(art.sha256):
            raise UsageError(
                f"take {take} of {shot_id} {step} v{version:03d} is not built yet",
                hint="run `vf build` first",
            )
        key, recipe, sha = job.key, job.recipe.as_dict(), art.sha256
    else:
        # An older version's take: find what made the file in the layout.
        if not path.exists():
            raise UsageError(
                f"there is no take {take} of {shot_id} {step} v{version:03d} ({rel})",
                hint=f"look in {layout.EXPLORATION}/ for {shot_id}_{step}_v*_t*",
            )
        sha = sha256_file(path)
        found = project.index.recipe_for_sha(sha)
        if found is None:
            raise UsageError(
                f"{rel} was not made by this film's store", hint="pick a take that `vf build` made"
            )
        key, recipe = found
        try:
            Recipe.from_dict(recipe)
        except (ValueError, TypeError):
            raise UsageError(
                f"{rel}: its record in {vfdir.RECIPES} is not a recipe vfbuild wrote",
                hint="pick a take of the current version, or build it again",
            ) from None
    new = Pick(
        version=version,
        take=take,
        key=key,
        sha256=sha,
        file=rel,
        recipe=recipe,
        made_by=project.index.made_by(key),
    )
    previous = project.locks.pick(shot_id, step)
    if previous != new:
        project.locks.set_pick(shot_id, step, new)
    obj = project.store.path(sha)
    shown = Job(shot_id, step, take, Recipe.from_dict(recipe), key, "", version, ext, picked=True)
    for target in shown.targets(project.film.film.title, version):
        layout.materialize(obj, project.root / target)
    return PickResult(new, previous, f"locks/{shot_id}.yaml")
