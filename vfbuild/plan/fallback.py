"""Fallback: who makes a take that its slot's provider refuses for good.

`video: {use: fal, model: …, fallback: [{use: kling, …}]}`: a take whose input the first
provider refuses deterministically (`InputRefused`, an HTTP 422: a recognisable face, an input
the model will not take) goes to the next provider of the list, within the same budget. A
fault (a 5xx, a timeout, a lost reply) is never a reason: it is retried on the same provider,
as always. The take keeps its recipe key (the recipe of the spec: a rebuild finds it made and
sends nothing); who made it is its attempt's provider and model, which the journal, the ledger
and the lock record. Each attempt has a journal key of its own, so a build killed while the
fallback's job runs resumes that job, and a refusal is never sent again.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from vfbuild import steps
from vfbuild.project import Project
from vfbuild.providers.base import Provider
from vfbuild.spec.models import ProviderChoice
from vfbuild.steps import Job


@dataclass(frozen=True)
class Attempt:
    provider: Provider
    recipe: dict[str, Any]  # what is sent: the take's recipe, with this provider's model
    key: str  # its journal key: the take's recipe key for the first attempt

    @property
    def made_by(self) -> str:
        return f"{self.provider.name} {self.recipe.get('model')}"


def fallback_key(key: str, index: int, provider: str) -> str:
    """The journal key of the `index`-th fallback (1-based) of the take with recipe `key`."""
    return hashlib.sha256(f"vfbuild-fallback\0{key}\0{index}\0{provider}".encode()).hexdigest()


def choices(project: Project, job: Job) -> list[ProviderChoice]:
    """The fallbacks of a take of the current spec (a pick kept from the lock has none)."""
    slot = steps.slot_of(job.step)
    choice = None if slot is None else getattr(project.film.providers, slot, None)
    if not isinstance(choice, ProviderChoice) or not choice.fallback:
        return []
    if job.recipe.get("provider") != project.provider(job.step).name or not job.from_spec:
        return []
    return list(choice.fallback)


def attempts(project: Project, job: Job, first: Provider) -> list[Attempt]:
    """Who may make `job`, in order: its provider, then the slot's fallbacks."""
    recipe = job.recipe.as_dict()
    out = [Attempt(first, recipe, job.key)]
    tier = str(job.recipe.get("tier") or "final")
    for i, fb in enumerate(choices(project, job), start=1):
        prov = project.provider_named(fb.use, fb)
        settings = dict(recipe.get("settings") or {})
        if "provider_settings" in settings:
            settings["provider_settings"] = {
                k: v for k, v in fb.tier(tier).items() if k not in ("model", "workflow")
            }
        if prov.labels and "label" not in settings:
            settings["label"] = job.name
        configured = fb.tier(tier).get("model") or fb.model
        sent = recipe | {
            "provider": prov.name,
            "model": prov.model(job.step, configured),
            "engine": prov.engine(job.step),
            "settings": settings,
        }
        out.append(Attempt(prov, sent, fallback_key(job.key, i, prov.name)))
    return out


def journal_keys(project: Project, job: Job) -> list[str]:
    """The journal keys of the fallbacks of `job`, in order (without making providers)."""
    return [fallback_key(job.key, i, fb.use) for i, fb in enumerate(choices(project, job), 1)]
