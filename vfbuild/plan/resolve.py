"""Resolve each step of each shot to its jobs (takes with recipes) and its state.

The steps themselves (`vfbuild.steps`) say how their recipes are made; this is the engine's
side: who makes a step (provider, model, engine), the takes of a picked step and which one is
picked, the single output of the others, `--frozen`'s rule (only what the locks pin), and a
memo so that a step asked for by several downstream steps is worked out once. A step whose
input is a generated artifact is resolved only once that artifact is known, which is why the
build resolves each step again right before running it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from vfbuild import steps
from vfbuild.errors import FrozenError, LockError
from vfbuild.project import Project, Resolved
from vfbuild.providers.base import Provider
from vfbuild.recipe import Recipe, make_recipe
from vfbuild.spec.models import Film, ProviderChoice, Shot, parse_resolution
from vfbuild.steps import DONE, NEEDS_PICK, STALE, WAITING, Job, StepState
from vfbuild.store.locks import LockBook
from vfbuild.store.objects import Artifact

__all__ = ["DONE", "NEEDS_PICK", "STALE", "WAITING", "Job", "Resolver", "StepState"]


class Resolver:
    """Works out step states for one project; implements `vfbuild.steps.Resolution`."""

    def __init__(self, project: Project, *, frozen: bool = False, rough: str | None = None) -> None:
        self.p = project
        self.frozen = frozen
        self._rough = rough  # the build's own rough-cut size (`--tier final`), else the film's

    # -- what a step sees of the film ------------------------------------------------------

    @property
    def film(self) -> Film:
        return self.p.film

    @property
    def root(self) -> Path:
        return self.p.root

    @property
    def locks(self) -> LockBook:
        return self.p.locks

    def object_path(self, sha256: str) -> Path:
        return self.p.store.path(sha256)

    def input_sha(self, relpath: str) -> str:
        return self.p.input_sha(relpath)

    def file_sha(self, path: Path) -> str:
        return self.p.hashes.sha256(path)

    def source_images(self) -> set[str]:
        return self.p.source_images

    def provider(self, step: str) -> Provider:
        return self.p.provider(step)

    def tier_size(self, tier: str) -> tuple[int, int]:
        return parse_resolution(getattr(self.film.film.tiers, tier))

    def delivery_size(self) -> tuple[int, int]:
        return parse_resolution(self.film.film.delivery)

    @property
    def rough(self) -> str:
        return self._rough or self.film.film.rough

    def choice(self, step: str) -> ProviderChoice | None:
        """The `providers:` entry of shots.yaml that serves `step` (none for local steps)."""
        slot = steps.slot_of(step)
        return None if slot is None else getattr(self.film.providers, slot, None)

    def tier_settings(self, step: str, tier: str) -> dict[str, Any]:
        """The tier's provider settings from shots.yaml. A ComfyUI workflow file enters the
        recipe by its hash too, so editing the workflow makes a new version."""
        choice = self.choice(step)
        if choice is None:
            return {}
        settings = choice.tier(tier)
        workflow = settings.get("workflow") or choice.workflow
        if workflow:
            settings["workflow"] = workflow
            settings["workflow_sha256"] = self.p.input_sha(str(workflow))
        return settings

    def _configured_model(self, step: str, tier: str) -> str | None:
        """A tier's own `model`, else the slot's `model` (None: the provider's default)."""
        choice = self.choice(step)
        if choice is None:
            return None
        model: str | None = choice.tier(tier).get("model") or choice.model
        return model

    def made_by(self, step: str, tier: str = "final") -> dict[str, Any]:
        """The recipe fields that say who makes a step: provider, model and engine."""
        prov = self.p.provider(step)
        return {
            "step": step,
            "provider": prov.name,
            "model": prov.model(step, self._configured_model(step, tier)),
            "engine": prov.engine(step),
        }

    # -- jobs ------------------------------------------------------------------------------

    def future_job(self, name: str, step: str) -> Job:
        """A stand-in for an output step whose input is not built yet: it knows who makes the
        take (provider, model, tier), which is all a price needs, but has no key."""
        recipe = make_recipe(**self.made_by(step, "final"), tier="final", settings={}, inputs={})
        ext = self.p.provider(step).ext(step)
        seconds = steps.get(step).seconds(self.film.shot_map.get(name))
        return Job(name, step, 1, recipe, "", "", None, ext, seconds=seconds)

    def artifact(self, key: str) -> Artifact | None:
        art = self.p.index.lookup(key)
        if art is not None and self.p.has_object(art.sha256):
            return art
        return None

    def job_done(self, job: Job) -> bool:
        if job.version is None or self.artifact(job.key) is None:
            return False
        has_file = self.p.has_file
        return all(has_file(t) for t in job.targets(self.film.film.title, job.version))

    def _job(
        self,
        name: str,
        step: str,
        recipe: Recipe,
        *,
        picked: bool = False,
        pinned: str | None = None,
        version: int | None = None,
        version_key: str | None = None,
    ) -> Job:
        key = recipe.key
        declared = steps.get(step)
        if version_key is None:
            version_key = recipe.step_key if declared.picked else key
        if version is None:
            version = self.p.locks.version_of(name, step, version_key)
        return Job(
            name,
            step,
            recipe.get("take", 1),
            recipe,
            key,
            version_key,
            version,
            self.p.provider(step).ext(step),
            pinned_sha256=pinned,
            picked=picked,
            seconds=declared.seconds(self.film.shot_map.get(name)),
        )

    def take_jobs(
        self, name: str, step: str, base: dict[str, Any], seed0: int, takes: int
    ) -> list[Job]:
        """The takes of a picked step. They share one step key (the recipe without take and
        seed, see `step_key_of`), so it is computed once, not once per take."""
        recipes = [make_recipe(**base, seed=seed0 + t - 1, take=t) for t in range(1, takes + 1)]
        version_key = recipes[0].step_key
        return [self._job(name, step, r, version_key=version_key) for r in recipes]

    def finish(self, state: StepState) -> StepState:
        if state.status == STALE and state.polished is not None:
            state.reasons.append(f"your polished keyframe {state.polished} will be pinned")
        elif state.status == STALE and all(self.job_done(j) for j in state.jobs):
            state.status = DONE
        elif state.status == STALE and not state.reasons:
            new = [j for j in state.jobs if j.version is None]
            if new and new[0].is_output:
                state.reasons.append("new recipe: it gets a new version")
            elif new:
                state.reasons.append(f"new recipe: {len(new)} take(s) of a new version")
            missing = [j for j in state.jobs if j.version is not None and not self.job_done(j)]
            if missing:
                state.reasons.append(f"{len(missing)} take(s) not in the store or layout")
        return state

    def pick_jobs(self, shot: Shot, step: str, current: list[Job], state: StepState) -> list[Job]:
        """Mark the picked take among the current ones, or add it from the lock's recipe."""
        pick = self.p.locks.pick(shot.id, step)
        if pick is None:
            return current
        for j in current:
            if j.key == pick.key:
                j.picked, j.pinned_sha256, j.version = True, pick.sha256, pick.version
                return current
        state.notes.append(
            f"pick is out of date: take {pick.take} of v{pick.version:03d} was picked, but the "
            f"recipe has changed since; it stays in force until you `vf pick {shot.id} {step} N`"
        )
        job = self._job(
            shot.id,
            step,
            self.pinned_recipe(shot.id, step, pick.recipe),
            picked=True,
            pinned=pick.sha256,
            version=pick.version,
        )
        job.from_spec = False
        return [*current, job]

    def needs_pick(self, shot: Shot, step: str, state: StepState) -> StepState:
        state.status = NEEDS_PICK
        takes = steps.get(step).takes(shot)
        state.reasons = [
            f"pick a {step} take first: `vf pick {shot.id} {step} N` (N in 1..{takes})"
        ]
        return state

    def frozen_pick(self, shot: Shot, step: str, state: StepState) -> StepState:
        """Under --frozen a picked step is its pick, exactly as the lock pins it."""
        pick = self.p.locks.pick(shot.id, step)
        if pick is None:
            raise FrozenError(
                f"{shot.id}: --frozen needs a {step} pick in locks/{shot.id}.yaml; there is none",
                hint=f"build without --frozen, then `vf pick {shot.id} {step} N`",
            )
        state.jobs = [
            self._job(
                shot.id,
                step,
                self.pinned_recipe(shot.id, step, pick.recipe),
                picked=True,
                pinned=pick.sha256,
                version=pick.version,
            )
        ]
        return self.finish(state)

    def output_artifact(self, shot: Shot, upstream: str, state: StepState) -> Artifact | None:
        """The artifact of a shot's single-output upstream step, or None (and why) if not yet."""
        up = self.resolve(shot.id, upstream)
        if up.status in (NEEDS_PICK, WAITING):
            state.status, state.reasons = WAITING, [f"waits for {upstream}"]
            return None
        art = self.artifact(up.jobs[0].key)
        if art is None:
            state.status, state.reasons = WAITING, [f"waits for {upstream} to be built"]
        return art

    def pinned_recipe(self, name: str, step: str, recorded: dict[str, Any]) -> Recipe:
        try:
            return Recipe.from_dict(recorded)
        except (ValueError, TypeError) as e:
            raise LockError(
                f"locks/{name}.yaml: the {step} pick's recipe is not a recipe ({e})",
                hint=f"restore the file from git, or pick again: `vf pick {name} {step} N`",
            ) from None

    def output(self, state: StepState, recipe: Recipe) -> StepState:
        """A step's single output (not picked): under --frozen, only the one the lock pins."""
        job = self._job(state.name, state.step, recipe)
        pinned = self.p.locks.output(state.name, state.step)
        if self.frozen:
            if pinned is None or pinned.key != job.key:
                what = "pins no" if pinned is None else "pins another recipe for the"
                raise FrozenError(
                    f"{state.name}: locks/{state.name}.yaml {what} {state.step} output",
                    hint="run `vf build` without --frozen to make it, then commit the locks",
                )
            job.pinned_sha256, job.version = pinned.sha256, pinned.version
        state.jobs = [job]
        return self.finish(state)

    def edit_material(self, shot: Shot) -> tuple[Artifact, bool, str, bool] | None:
        """A shot's most advanced material: its last built output, else its latest picked
        take, else its first step's first made take. (artifact, is a still, stage, finished)"""
        chain = steps.shot_steps(self.film, shot)
        for step in reversed(chain):
            if step.picked or not step.edit_material:
                continue
            st = self.resolve(shot.id, step.name)
            if st.jobs and (art := self.artifact(st.jobs[0].key)) is not None:
                return art, step.kind == "image", step.name, step.finished
        for step in reversed(chain):
            if not step.picked:
                continue
            pick = self.p.locks.pick(shot.id, step.name)
            if pick is not None and self.p.store.has(pick.sha256):
                art = Artifact(pick.sha256, ".mp4", 0)
                return art, step.kind == "image", f"picked {step.name}", False
        if self.frozen or not chain:
            return None
        first = next((s for s in chain if s.edit_material), chain[0])
        for job in first.resolve(self, shot).jobs:
            if (art := self.artifact(job.key)) is not None:
                return art, first.kind == "image", f"unpicked {first.name}", False
        return None

    # -- the memo --------------------------------------------------------------------------

    def resolve(self, name: str, step: str) -> StepState:
        """The state of one step. Worked out once per project until the build records an
        artifact or writes a lock (`Project.stamp`): the upscale asks for its final, the
        lipsync for its upscale, and the edit for every shot's last stage, so without this
        a no-op build of N shots would resolve each final four times. A done state of a
        shot's step is also kept between runs (`vfbuild.plan.states`)."""
        from vfbuild.plan.states import saved_states

        declared = steps.get(step)
        memo_key = (name, step, self.frozen)
        stamp = self.p.stamp()
        saved = saved_states(self.p) if declared.scope == "shot" else None
        fingerprint = saved.fingerprint(self, name) if saved is not None else None
        hit = self.p.resolved.get(memo_key)
        if hit is not None:
            if hit.stamp == stamp:
                return hit.state
            # A done step stays done while its own fingerprint (its shot's spec, inputs and
            # lock) holds: another shot's takes being made since cannot change it.
            if (
                hit.state.status == DONE
                and fingerprint is not None
                and hit.fingerprint == fingerprint
            ):
                return hit.state
        if saved is not None:
            state = saved.get(self, memo_key, fingerprint)
            if state is not None:
                self.p.resolved[memo_key] = Resolved(stamp, state, fingerprint)
                return state
        shot = self.film.shot(name) if declared.scope == "shot" else None
        state = declared.resolve(self, shot)
        if saved is not None and fingerprint is not None and state.status == DONE:
            saved.put(memo_key, fingerprint, state)
        self.p.resolved[memo_key] = Resolved(stamp, state, fingerprint)
        return state
