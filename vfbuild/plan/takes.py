"""Every take of a film as the layout holds it: `Film.takes()`, what the review page shows.

The current version's takes come from the step states the planner works out (the same ones
`vf status` and `vf build` use); earlier versions from the layout files of the versions the
lock recorded, each traced back to its recipe through the store's index. Nothing here is
recorded anywhere else: it is read again each time.
"""

from __future__ import annotations

import os
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vfbuild import steps
from vfbuild.errors import VfError

if TYPE_CHECKING:
    from vfbuild.plan.resolve import Resolver
    from vfbuild.project import Project
    from vfbuild.steps import Job, Step, StepState

# A layout name's version and take: `<shot>_<step>_v001_t01.png`, `<shot>_<step>_v001.mp4`.


@dataclass(frozen=True)
class TakeRow:
    """One take of a shot's step (or one version of a single-output step, or of the film's
    edit) as the layout holds it: what made it, what it cost, whether it is picked."""

    name: str  # a shot id, or "film"
    step: str
    kind: str  # image, video or audio
    version: int | None  # None: a take of a new recipe, not made yet
    take: int
    current: bool  # a take of the recipe shots.yaml asks for now (else an earlier version)
    picked: bool  # the take the lock pins
    file: str | None  # film-relative layout path; None while it is not made
    sha256: str | None
    key: str | None  # recipe key; None when the store did not make the file
    provider: str = ""
    model: str = ""
    tier: str | None = None
    seed: int | None = None
    prompt: str | None = None
    negative: str | None = None
    cost: float | None = None  # dollars ledger.csv holds for it; None: no paid job


_TAKE_NAME = re.compile(r"^(?P<pre>.+)_v(?P<v>[0-9]{3,})_t(?P<t>[0-9]{2,})(?P<ext>\.[A-Za-z0-9]+)$")
_OUTPUT_NAME = re.compile(r"^(?P<pre>.+)_v(?P<v>[0-9]{3,})(?P<ext>\.[A-Za-z0-9]+)$")


def take_rows(project: Project, shots: list[str] | None = None) -> list[TakeRow]:
    from vfbuild.plan.resolve import Resolver
    from vfbuild.store import locks  # its models (pydantic) only when asked

    wanted = set(shots) if shots else None
    lister = _Lister(project.root)
    costs = _ledger_costs(project)
    resolver = Resolver(project)
    rows: list[TakeRow] = []
    for shot in project.film.shots:
        if wanted is not None and shot.id not in wanted:
            continue
        for step in steps.shot_steps(project.film, shot):
            rows += _step_rows(project, resolver, lister, costs, shot.id, step)
    if wanted is None:
        for step in steps.film_steps(project.film):
            rows += _step_rows(project, resolver, lister, costs, locks.FILM_LOCK, step)
    project.hashes.save()  # earlier versions' files, hashed once (stat-cached)
    return rows


class _Lister:
    """Names in each layout folder, listed once."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._names: dict[str, set[str]] = {}

    def names(self, folder: str) -> set[str]:
        names = self._names.get(folder)
        if names is None:
            try:
                names = {e.name for e in os.scandir(self.root / folder) if e.is_file()}
            except OSError:
                names = set()
            self._names[folder] = names
        return names

    def has(self, relpath: str) -> bool:
        folder, _, name = relpath.rpartition("/")
        return name in self.names(folder)


def _ledger_costs(project: Project) -> dict[str, float]:
    from vfbuild.store.ledger import Ledger

    costs: dict[str, float] = defaultdict(float)
    for row in Ledger(project.root).rows(strict=False):
        try:
            costs[row.recipe_key] += float(row.cost or 0)
        except ValueError:
            continue  # `vf cost` names such a row; the page only shows what it can read
    return dict(costs)


def _step_rows(
    project: Project,
    resolver: Resolver,
    lister: _Lister,
    costs: dict[str, float],
    name: str,
    step: Step,
) -> list[TakeRow]:
    from vfbuild.store import locks  # its models (pydantic) only when asked

    try:
        state = resolver.resolve(name, step.name)
    except VfError:
        return []  # `vf status` shows the error; the page shows the step's state from it
    who = "film" if name == locks.FILM_LOCK else name
    title = project.film.film.title
    pick = project.locks.pick(name, step.name) if step.picked else None
    rows: list[TakeRow] = []
    seen: set[tuple[int, int]] = set()
    for job in state.jobs:
        if not job.from_spec:
            continue  # an out-of-date pick: it is one of the earlier versions' takes below
        art = resolver.artifact(job.key) if job.version is not None else None
        file = None
        if art is not None and job.version is not None:
            first = job.targets(title, job.version)[0]
            file = first if lister.has(first) else None
        if job.version is not None:
            seen.add((job.version, job.take))
        rows.append(
            TakeRow(
                name=who,
                step=step.name,
                kind=step.kind,
                version=job.version,
                take=job.take,
                current=True,
                picked=pick is not None and pick.key == job.key,
                file=file,
                sha256=art.sha256 if art is not None else None,
                key=job.key,
                cost=costs.get(job.key),
                **_recipe_fields(job.recipe),
            )
        )
    rows += _earlier_rows(project, lister, costs, name, step, state, seen)
    return rows


def _earlier_rows(
    project: Project,
    lister: _Lister,
    costs: dict[str, float],
    name: str,
    step: Step,
    state: StepState,
    seen: set[tuple[int, int]],
) -> list[TakeRow]:
    from vfbuild.store import locks  # its models (pydantic) only when asked

    """The layout files of the versions the lock recorded that are not the current one."""

    lock = project.locks.get(name)
    versions: set[int | None] = (
        set(lock.versions.get(step.name, {}).values()) if lock is not None else set()
    )
    current = state.current_version
    pick = project.locks.pick(name, step.name) if step.picked else None
    if pick is not None:
        versions.add(pick.version)
    versions.discard(current)
    if not versions:
        return []
    title = project.film.film.title
    template = _template_job(project, name, step)
    rows: list[TakeRow] = []
    for version in sorted((v for v in versions if v is not None), reverse=True):
        first = step.targets(template, title, version)[0]
        folder, _, base = first.rpartition("/")
        match = (_TAKE_NAME if step.picked else _OUTPUT_NAME).match(base)
        if match is None:
            continue  # a step that names its files its own way: only its current takes show
        prefix = match["pre"]
        found: list[tuple[int, str]] = []
        for n in lister.names(folder):
            m = (_TAKE_NAME if step.picked else _OUTPUT_NAME).match(n)
            # Only the step's own files: an edit version's .otio, .edl or .xml is not a take.
            if (
                m is None
                or m["pre"] != prefix
                or int(m["v"]) != version
                or m["ext"] != match["ext"]
            ):
                continue
            take = int(m["t"]) if step.picked else 1
            if (version, take) not in seen:
                found.append((take, f"{folder}/{n}" if folder else n))
        for take, rel in sorted(found):
            seen.add((version, take))
            path = project.root / rel
            try:
                sha = project.hashes.sha256(path)
            except OSError:
                continue
            made = project.index.recipe_for_sha(sha)
            key, recipe = made if made is not None else (None, {})
            rows.append(
                TakeRow(
                    name="film" if name == locks.FILM_LOCK else name,
                    step=step.name,
                    kind=step.kind,
                    version=version,
                    take=take,
                    current=False,
                    picked=pick is not None and pick.sha256 == sha,
                    file=rel,
                    sha256=sha,
                    key=key,
                    cost=costs.get(key) if key is not None else None,
                    **_recipe_fields(recipe),
                )
            )
    return rows


def _template_job(project: Project, name: str, step: Step) -> Job:
    """A job whose only use is to ask the step where a version's files go."""
    from vfbuild.recipe import make_recipe
    from vfbuild.steps import Job

    recipe = make_recipe(
        step=step.name, provider="", model="", engine={}, tier=None, settings={}, inputs={}
    )
    ext = project.provider(step.name).ext(step.name)
    return Job(name, step.name, 1, recipe, "", "", 1, ext)


def _recipe_fields(recipe: Any) -> dict[str, Any]:
    """What a card shows of a recipe (a Recipe, or a recorded dict), with the types it has."""

    def text(field: str) -> str | None:
        value = recipe.get(field)
        return value if isinstance(value, str) else None

    seed = recipe.get("seed")
    return {
        "provider": text("provider") or "",
        "model": text("model") or "",
        "tier": text("tier"),
        "seed": seed if isinstance(seed, int) and not isinstance(seed, bool) else None,
        "prompt": text("prompt"),
        "negative": text("negative"),
    }
