"""Who makes a job: the provider its recipe names.

A take's recipe says which provider and model made it. For the takes of the current spec that
is the provider of the step's slot in shots.yaml; for a pick kept from the lock after the slot
moved to another provider (a fresh clone whose keyframes now go to fal, while its locks pin
takes `local` made), it is the provider that made the pick. A missing pinned artifact is remade
by that provider, so the plan prices it, and the build makes it, alike: both ask `job_provider`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from vfbuild import steps
from vfbuild.errors import VfError
from vfbuild.project import Project
from vfbuild.providers.base import Provider
from vfbuild.spec.models import ProviderChoice
from vfbuild.steps import Job
from vfbuild.store import vfdir


def provider_config(project: Project, step: str, name: str) -> ProviderChoice | None:
    """The `providers:` entry that sets provider `name` up: the step's own slot if it uses
    `name`, else another slot that does (its endpoint, timeout), else None (its defaults)."""
    providers = project.film.providers
    slots = (steps.slot_of(step), *(s.slot for s in steps.registered()))
    for slot in dict.fromkeys(s for s in slots if s is not None):
        choice = getattr(providers, slot, None)
        if isinstance(choice, ProviderChoice) and choice.use == name:
            return choice
    return None


def recipe_provider(project: Project, step: str, recipe: Mapping[str, Any]) -> Provider:
    """The provider that makes `recipe`: the slot's when the recipe names it (every take of
    the current spec), else the one the recipe names. Raises UsageError for an unknown one."""
    slot_provider = project.provider(step)
    name = recipe.get("provider")
    if not name or name == slot_provider.name:
        return slot_provider
    return project.provider_named(name, provider_config(project, step, name))


def job_provider(project: Project, job: Job) -> Provider:
    """Who makes `job`: see `recipe_provider`."""
    return recipe_provider(project, job.step, job.recipe)


def cannot_remake(project: Project, job: Job) -> str | None:
    """Why a pinned take (a pick, a frozen output) whose artifact is missing cannot be made
    again with its pinned bytes, or None when it can. Only a free, deterministic provider
    (`local`) gives the same bytes again; a paid one would charge for a take whose bytes
    differ from the pin, which the lock's pick would still not name."""
    if job.pinned_sha256 is None:
        return None
    name = job.recipe.get("provider") or "?"
    try:
        prov = job_provider(project, job)
    except VfError:
        return f"{name}, which made it, is not a provider this vfbuild knows"
    if prov.paid and not prov.deterministic:
        return f"{name}, which made it, is paid and does not make the same bytes twice"
    if prov.paid:
        return f"{name}, which made it, is a paid provider"
    if not prov.deterministic:
        return f"{name}, which made it, does not make the same bytes twice"
    return None


def remake_hint(job: Job) -> str:
    """What to do about a pinned take that cannot be remade."""
    if job.picked:
        again = f"pick another take (`vf pick {job.name} {job.step} N`)"
    else:
        again = "build without --frozen"
    return f"copy its object into {vfdir.OBJECTS} from the clone that made it, or {again}"
