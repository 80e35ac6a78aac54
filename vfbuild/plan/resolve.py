"""Resolve each step of each shot to its jobs (takes with recipes) and its state.

This is the one place that knows the golden rule: keyframe → pick → draft → pick → final →
upscale → lipsync → edit. Recipes are computed from the spec and the locks; a step whose
input is a generated artifact is resolved only once that artifact is known, which is why the
build resolves each step again right before running it.
"""

from __future__ import annotations

import contextlib
import copy
import gc
import hashlib
import os
import pickle
import threading
import weakref
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vfbuild.codesig import code_signature
from vfbuild.errors import FrozenError
from vfbuild.plan.recipe import key_of, make_recipe, step_key_of
from vfbuild.project import PROVIDER_SLOT, Project
from vfbuild.providers.base import InputFiles
from vfbuild.spec.models import (
    PICKED_STEPS,
    SHOT_STEPS,
    ProviderChoice,
    Shot,
    parse_resolution,
)
from vfbuild.store import layout, sealed
from vfbuild.store.locks import FILM_LOCK
from vfbuild.store.objects import Artifact

# Generators make clips of at most this many seconds; a longer shot loops its clip in the edit.
CLIP_MAX_SECONDS = 10.0

DONE, STALE, WAITING, NEEDS_PICK = "done", "stale", "waiting", "needs-pick"

# A user's retouched master keyframe: `<picked keyframe name>_polished.<ext>`.
IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".webp")


@dataclass
class Job:
    """One take to have: its recipe, key, version and where it must appear in the layout."""

    name: str  # the lock it belongs to: a shot id, or FILM_LOCK for the edit
    step: str
    take: int
    recipe: dict[str, Any]
    key: str
    version_key: str
    version: int | None
    ext: str
    pinned_sha256: str | None = None  # a pick's or a frozen output's bytes
    picked: bool = False
    seconds: float | None = None  # clip length a provider bills for (video steps)
    from_spec: bool = True  # False for an out-of-date pick kept from the lock's recipe

    def __getattr__(self, attr: str) -> Any:
        # A job of a saved step state (see `SavedStates`) reads its recipe only when asked.
        if attr == "recipe" and "_heavy" in self.__dict__:
            heavy, i = self.__dict__["_heavy"]
            self.recipe = heavy.get()[0][i]
            return self.recipe
        raise AttributeError(attr)

    @property
    def is_output(self) -> bool:
        return self.step not in PICKED_STEPS

    def targets(self, title: str, version: int) -> list[str]:
        """Layout paths this job's artifact must appear at, once its version is known."""
        if self.step == "edit":
            return [layout.edit_path(title, version)]
        if self.is_output:
            return [layout.output_path(self.name, self.step, version, self.ext)]
        paths = [layout.take_path(self.name, self.step, version, self.take, self.ext)]
        if self.picked:
            paths.append(layout.selected_path(self.name, self.step, version, self.take, self.ext))
            if self.step == "keyframe":
                paths.append(layout.source_image_path(self.name, version, self.take, self.ext))
        return paths


@dataclass
class StepState:
    name: str
    step: str
    status: str
    reasons: list[str] = field(default_factory=list)
    jobs: list[Job] = field(default_factory=list)
    inputs: InputFiles = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # e.g. "pick is out of date"
    rough: list[str] = field(default_factory=list)  # edit only: shots not at their last stage
    polished: str | None = None  # keyframe only: a polished file the lock does not pin yet

    @property
    def current_version(self) -> int | None:
        return next((j.version for j in self.jobs if j.from_spec), None)

    def __getattr__(self, attr: str) -> Any:
        # A saved state (see `SavedStates`) makes its jobs and reads its inputs when asked.
        d = self.__dict__
        if attr == "jobs" and "_metas" in d:
            self.jobs = [_thaw_job(m, d["_heavy"], i) for i, m in enumerate(d["_metas"])]
            return self.jobs
        if attr == "inputs" and "_heavy" in d:
            self.inputs = d["_heavy"].get()[1]
            return self.inputs
        raise AttributeError(attr)


class Resolver:
    def __init__(self, project: Project, *, frozen: bool = False) -> None:
        self.p = project
        self.frozen = frozen
        self.film = project.film

    def _seconds(self, name: str) -> float | None:
        """The clip length a shot's video takes last (None for the film's edit)."""
        shot = self.film.shot_map.get(name)
        return None if shot is None else min(shot.duration, CLIP_MAX_SECONDS)

    # -- helpers ---------------------------------------------------------------------------

    def _tier(self, tier: str) -> tuple[int, int]:
        return parse_resolution(getattr(self.film.film.tiers, tier))

    def _tier_settings(self, step: str, tier: str) -> dict[str, Any]:
        """The tier's provider settings from shots.yaml. A ComfyUI workflow file enters the
        recipe by its hash too, so editing the workflow makes a new version."""
        choice = self._choice(step)
        if choice is None:
            return {}
        settings = choice.tier(tier)
        workflow = settings.get("workflow") or choice.workflow
        if workflow:
            settings["workflow"] = workflow
            settings["workflow_sha256"] = self.p.input_sha(str(workflow))
        return settings

    def _choice(self, step: str) -> ProviderChoice | None:
        """The `providers:` entry of shots.yaml that serves `step` (none for the edit)."""
        return getattr(self.film.providers, PROVIDER_SLOT[step], None)

    def _configured_model(self, step: str, tier: str) -> str | None:
        """A tier's own `model`, else the slot's `model` (None: the provider's default)."""
        choice = self._choice(step)
        if choice is None:
            return None
        return choice.tier(tier).get("model") or choice.model

    def _made_by(self, step: str, tier: str = "final") -> dict[str, Any]:
        """The recipe fields that say who makes a step: provider, model and engine."""
        prov = self.p.provider(step)
        return {
            "step": step,
            "provider": prov.name,
            "model": prov.model(step, self._configured_model(step, tier)),
            "engine": prov.engine(step),
        }

    def future_job(self, name: str, step: str) -> Job:
        """A stand-in for an output step whose input is not built yet: it knows who makes the
        take (provider, model, tier), which is all a price needs, but has no key."""
        recipe = make_recipe(**self._made_by(step, "final"), tier="final", settings={}, inputs={})
        ext = self.p.provider(step).ext(step)
        return Job(name, step, 1, recipe, "", "", None, ext, seconds=self._seconds(name))

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
        recipe: dict[str, Any],
        *,
        picked: bool = False,
        pinned: str | None = None,
        version: int | None = None,
        version_key: str | None = None,
    ) -> Job:
        key = key_of(recipe)
        if version_key is None:
            version_key = step_key_of(recipe) if step in PICKED_STEPS else key
        if version is None:
            version = self.p.locks.version_of(name, step, version_key)
        ext = self.p.provider(step).ext(step) if step != "edit" else ".mp4"
        seconds = self._seconds(name) if step in ("draft", "final", "upscale", "lipsync") else None
        return Job(
            name,
            step,
            recipe.get("take", 1),
            recipe,
            key,
            version_key,
            version,
            ext,
            pinned_sha256=pinned,
            picked=picked,
            seconds=seconds,
        )

    def _take_jobs(
        self, name: str, step: str, base: dict[str, Any], seed0: int, takes: int
    ) -> list[Job]:
        """The takes of a picked step. They share one step key (the recipe without take and
        seed, see `step_key_of`), so it is computed once, not once per take."""
        recipes = [make_recipe(**base, seed=seed0 + t - 1, take=t) for t in range(1, takes + 1)]
        version_key = step_key_of(recipes[0])
        return [self._job(name, step, r, version_key=version_key) for r in recipes]

    def _finish(self, state: StepState) -> StepState:
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

    def _pick_jobs(self, shot: Shot, step: str, current: list[Job], state: StepState) -> list[Job]:
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
            shot.id, step, pick.recipe, picked=True, pinned=pick.sha256, version=pick.version
        )
        job.from_spec = False
        return [*current, job]

    # -- steps -----------------------------------------------------------------------------

    def resolve(self, name: str, step: str) -> StepState:
        """The state of one step. Worked out once per project until the build records an
        artifact or writes a lock (`Project.stamp`): the upscale asks for its final, the
        lipsync for its upscale, and the edit for every shot's last stage, so without this
        a no-op build of N shots would resolve each final four times. A done state is also
        kept between runs (`SavedStates`)."""
        memo_key = (name, step, self.frozen)
        stamp = self.p.stamp()
        saved = self.p.saved_states if step != "edit" else None
        fingerprint = saved.fingerprint(self, name) if saved is not None else None
        hit = self.p.resolved.get(memo_key)
        if hit is not None:
            if hit[0] == stamp:
                return hit[1]  # type: ignore[no-any-return]
            # A done step stays done while its own fingerprint (its shot's spec, inputs and
            # lock) holds: another shot's takes being made since cannot change it.
            if hit[1].status == DONE and fingerprint is not None and hit[2] == fingerprint:
                return hit[1]  # type: ignore[no-any-return]
        if saved is not None:
            state = saved.get(self, memo_key, fingerprint)
            if state is not None:
                self.p.resolved[memo_key] = (stamp, state, fingerprint)
                return state
        state = self._resolve(name, step)
        if saved is not None and fingerprint is not None and state.status == DONE:
            saved.put(memo_key, fingerprint, state)
        self.p.resolved[memo_key] = (stamp, state, fingerprint)
        return state

    def _resolve(self, name: str, step: str) -> StepState:
        if step == "edit":
            return self.edit()
        shot = self.film.shot(name)
        return getattr(self, step)(shot)

    def keyframe(self, shot: Shot) -> StepState:
        from vfbuild.spec.prompt import camera_notes, keyframe_prompt, negative_prompt

        state = StepState(shot.id, "keyframe", STALE)
        prov = self.p.provider("keyframe")
        w, h = self._tier("final")
        settings: dict[str, Any] = {
            "width": w,
            "height": h,
            "provider_settings": self._tier_settings("keyframe", "final"),
        }
        if prov.name == "local":
            settings |= {"label": shot.id, "notes": camera_notes(shot)}
        refs = self.film.reference_files(shot)
        state.inputs = {"references": [self.p.root / r for r in refs]}
        if self.frozen:
            return self._frozen_pick(shot, "keyframe", state)
        prompt = keyframe_prompt(self.film, shot, self.p.root)
        negative = negative_prompt(self.film, shot, "keyframe", self.p.root) or None
        inputs = {"references": [self.p.input_sha(r) for r in refs]}
        base = dict(
            **self._made_by("keyframe"),
            tier="final",
            settings=settings,
            inputs=inputs,
            prompt=prompt,
            negative=negative,
        )
        kf = shot.keyframe
        jobs = self._take_jobs(shot.id, "keyframe", base, kf.seed, kf.takes)
        state.jobs = self._pick_jobs(shot, "keyframe", jobs, state)
        state.polished = self.new_polished(shot.id)
        return self._finish(state)

    def new_polished(self, shot_id: str) -> str | None:
        """A `<picked keyframe>_polished.<ext>` beside the picked keyframe in 01_Source_Images
        that the lock does not pin yet (the user's retouched master), as a film-relative path."""
        pick = self.p.locks.pick(shot_id, "keyframe")
        if pick is None:
            return None
        stem = (
            layout.take_name(shot_id, "keyframe", pick.version, pick.take, "")
            + layout.POLISHED_SUFFIX
        )
        for ext in IMAGE_EXTS:
            if stem + ext in self.p.source_images:
                rel = f"{layout.SOURCE_IMAGES}/{stem}{ext}"
                sha = self.p.hashes.sha256(self.p.root / rel)
                if pick.polished is None or pick.polished.sha256 != sha:
                    return rel
                return None
        return None

    def _keyframe_input(self, shot: Shot, state: StepState) -> str | None:
        """sha256 of the picked (or polished) keyframe; sets the input file. None: not picked."""
        pick = self.p.locks.pick(shot.id, "keyframe")
        if pick is None:
            return None
        if pick.polished is not None:
            state.inputs["keyframe"] = self.p.root / pick.polished.file
            return pick.polished.sha256
        state.inputs["keyframe"] = self.p.store.path(pick.sha256)
        return pick.sha256

    def draft(self, shot: Shot) -> StepState:
        from vfbuild.spec.prompt import motion_prompt, negative_prompt

        state = StepState(shot.id, "draft", STALE)
        kf_sha = self._keyframe_input(shot, state)
        if kf_sha is None:
            if self.frozen:
                raise FrozenError(f"{shot.id}: no keyframe pick in locks/{shot.id}.yaml")
            return self._needs_pick(shot, "keyframe", state)
        if self.frozen:
            return self._frozen_pick(shot, "draft", state)
        prov = self.p.provider("draft")
        w, h = self._tier("draft")
        settings: dict[str, Any] = {
            "width": w,
            "height": h,
            "fps": self.film.film.fps,
            "duration": min(shot.duration, CLIP_MAX_SECONDS),
            "move": shot.motion.move.canonical.value,
            "provider_settings": self._tier_settings("draft", "draft"),
        }
        if prov.name == "local":
            settings["label"] = shot.id
        seed0 = shot.motion.seed if shot.motion.seed is not None else shot.keyframe.seed
        base = dict(
            **self._made_by("draft", "draft"),
            tier="draft",
            settings=settings,
            inputs={"keyframe": kf_sha},
            prompt=motion_prompt(self.film, shot, self.p.root),
            negative=negative_prompt(self.film, shot, "video", self.p.root) or None,
        )
        jobs = self._take_jobs(shot.id, "draft", base, seed0, shot.motion.takes)
        state.jobs = self._pick_jobs(shot, "draft", jobs, state)
        return self._finish(state)

    def final(self, shot: Shot) -> StepState:
        state = StepState(shot.id, "final", STALE)
        pick = self.p.locks.pick(shot.id, "draft")
        if pick is None:
            if self.frozen:
                raise FrozenError(f"{shot.id}: no draft pick in locks/{shot.id}.yaml")
            if self.p.locks.pick(shot.id, "keyframe") is None:
                state.status, state.reasons = WAITING, ["waits for the keyframe pick"]
                return state
            return self._needs_pick(shot, "draft", state)
        # The final is the picked draft's recipe at the final tier: same prompt, seed, input.
        recipe = copy.deepcopy(pick.recipe)
        w, h = self._tier("final")
        recipe["step"], recipe["tier"] = "final", "final"
        recipe["settings"] |= {
            "width": w,
            "height": h,
            "provider_settings": self._tier_settings("final", "final"),
        }
        recipe |= self._made_by("final", "final")
        kf_file = pick.recipe["inputs"]["keyframe"]
        state.inputs["keyframe"] = self._file_for_sha(shot, kf_file)
        return self._output(state, recipe)

    def _file_for_sha(self, shot: Shot, sha: str) -> Path:
        pick = self.p.locks.pick(shot.id, "keyframe")
        if pick is not None and pick.polished is not None and pick.polished.sha256 == sha:
            return self.p.root / pick.polished.file
        return self.p.store.path(sha)

    def upscale(self, shot: Shot) -> StepState:
        state = StepState(shot.id, "upscale", STALE)
        src = self._output_artifact(shot, "final", state)
        if src is None:
            return state
        w, h = parse_resolution(self.film.film.delivery)
        recipe = make_recipe(
            **self._made_by("upscale"),
            tier="final",
            settings={
                "width": w,
                "height": h,
                "provider_settings": self._tier_settings("upscale", "final"),
            },
            inputs={"clip": src.sha256},
        )
        state.inputs["clip"] = self.p.store.path(src.sha256)
        return self._output(state, recipe)

    def lipsync(self, shot: Shot) -> StepState:
        state = StepState(shot.id, "lipsync", STALE)
        assert shot.dialogue is not None
        src = self._output_artifact(shot, "upscale", state)
        if src is None:
            return state
        audio = shot.dialogue.audio
        recipe = make_recipe(
            **self._made_by("lipsync"),
            tier="final",
            settings={
                "fps": self.film.film.fps,
                "provider_settings": self._tier_settings("lipsync", "final"),
            },
            inputs={"clip": src.sha256, "audio": self.p.input_sha(audio)},
        )
        state.inputs |= {"clip": self.p.store.path(src.sha256), "audio": self.p.root / audio}
        return self._output(state, recipe)

    def _output_artifact(self, shot: Shot, upstream: str, state: StepState) -> Artifact | None:
        """The artifact of a shot's single-output upstream step, or None (and why) if not yet."""
        up = self.resolve(shot.id, upstream)
        if up.status in (NEEDS_PICK, WAITING):
            state.status, state.reasons = WAITING, [f"waits for {upstream}"]
            return None
        art = self.artifact(up.jobs[0].key)
        if art is None:
            state.status, state.reasons = WAITING, [f"waits for {upstream} to be built"]
        return art

    def _output(self, state: StepState, recipe: dict[str, Any]) -> StepState:
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
        return self._finish(state)

    def _needs_pick(self, shot: Shot, step: str, state: StepState) -> StepState:
        state.status = NEEDS_PICK
        takes = shot.keyframe.takes if step == "keyframe" else shot.motion.takes
        state.reasons = [
            f"pick a {step} take first: `vf pick {shot.id} {step} N` (N in 1..{takes})"
        ]
        return state

    def _frozen_pick(self, shot: Shot, step: str, state: StepState) -> StepState:
        pick = self.p.locks.pick(shot.id, step)
        if pick is None:
            raise FrozenError(
                f"{shot.id}: --frozen needs a {step} pick in locks/{shot.id}.yaml; there is none",
                hint=f"build without --frozen, then `vf pick {shot.id} {step} N`",
            )
        state.jobs = [
            self._job(
                shot.id, step, pick.recipe, picked=True, pinned=pick.sha256, version=pick.version
            )
        ]
        if pick.polished is not None:
            state.inputs["keyframe"] = self.p.root / pick.polished.file
        elif step == "draft":
            state.inputs["keyframe"] = self.p.store.path(pick.recipe["inputs"]["keyframe"])
        return self._finish(state)

    # -- the film's edit -------------------------------------------------------------------

    def edit(self) -> StepState:
        state = StepState(FILM_LOCK, "edit", STALE)
        clips: list[dict[str, Any]] = []
        files: list[Path] = []
        for shot in self.film.shots:
            chosen = self._edit_clip(shot)
            if chosen is None:
                state.status = WAITING
                state.reasons = [f"waits for {shot.id}: it has no keyframe take yet"]
                return state
            art, still, stage = chosen
            if stage not in ("lipsync", "upscale"):
                state.rough.append(f"{shot.id} ({stage})")
            clips.append({"sha256": art.sha256, "still": still, "duration": shot.duration})
            files.append(self.p.store.path(art.sha256))
        w, h = parse_resolution(self.film.film.delivery)
        recipe = make_recipe(
            **self._made_by("edit"),
            tier="final",
            settings={
                "width": w,
                "height": h,
                "fps": self.film.film.fps,
                "grain": self.film.film.grain,
            },
            inputs={"clips": clips},
        )
        state.inputs["clips"] = files
        return self._output(state, recipe)

    def _edit_clip(self, shot: Shot) -> tuple[Artifact, bool, str] | None:
        """A shot's most advanced material: lipsync, upscale, final, picked draft, picked or
        first keyframe take. Returns (artifact, is_still, stage)."""
        for step in ("lipsync", "upscale", "final"):
            if step not in self.film.steps_of(shot):
                continue
            st = self.resolve(shot.id, step)
            if st.jobs and (art := self.artifact(st.jobs[0].key)) is not None:
                return art, False, step
        for step in ("draft", "keyframe"):
            pick = self.p.locks.pick(shot.id, step)
            if pick is not None and self.p.store.has(pick.sha256):
                return Artifact(pick.sha256, ".mp4", 0), step == "keyframe", f"picked {step}"
        if self.frozen:
            return None
        kf = self.keyframe(shot)
        for job in kf.jobs:
            if (art := self.artifact(job.key)) is not None:
                return art, True, "unpicked keyframe"
        return None


# -- step states kept between runs ---------------------------------------------------------

SAVED_FORMAT = 2


class _Heavy:
    """The recipes and input files of a saved state, unpickled only if someone reads them."""

    __slots__ = ("blob", "data")

    def __init__(self, blob: bytes) -> None:
        self.blob = blob
        self.data: tuple[list[dict[str, Any]], InputFiles] | None = None

    def get(self) -> tuple[list[dict[str, Any]], InputFiles]:
        if self.data is None:
            # Safe: part of an entry whose seal verified and whose fingerprint (which holds the
            # code signature) matched, so written by this very code (see `SavedStates._load`).
            self.data = pickle.loads(self.blob)
        return self.data


class SavedStates:
    """Done step states of a film's shots, kept in `.vf/cache/states.pickle` between runs.

    Working out a step's state means composing prompts, building every take's recipe and
    hashing it: a no-op build of 1000 shots did that for 10,000 takes each time. A saved state
    is used instead when its fingerprint is unchanged: the vfbuild sources, the providers
    (name, model, engine of every step), the film's settings, providers and characters, the
    shot's own spec, the stat of every input file it names, its polished keyframes and its lock
    file. It must still be done: every take's recipe key still in the index with the same
    artifact, the object in the store, and every layout file in place (a stat each, as a full
    resolution would). Only done states are kept; the film's edit is always worked out (from
    the shots' states, so it is cheap). A missing or corrupt file is only a cache.
    """

    def __init__(self, project: Project) -> None:
        self.p = project
        self.path = project.vf_dir / "cache" / "states.pickle"
        self._entries: dict[tuple[str, str, bool], tuple[Any, ...]] | None = None
        self._box: dict[str, Any] = {"dirty": False, "entries": None}
        self._lock = threading.Lock()
        # Saved when this object is collected or at exit; the callback must not hold `self`.
        weakref.finalize(
            self, _save_entries, self.path, self._box, frozenset(project.film.shot_map), self._lock
        )
        self._context: str | None = None
        self._shots: dict[str, tuple[Any, ...]] = {}
        self._stats: dict[str, tuple[int, int, int] | None] = {}
        self._polished: dict[str, list[str]] | None = None

    # -- fingerprints ----------------------------------------------------------------------

    def fingerprint(self, resolver: Resolver, name: str) -> tuple[Any, ...] | None:
        """What a shot's step states are a function of, or None when it cannot be told."""
        static = self._shots.get(name)
        if static is None:
            shot = self.p.film.shot_map.get(name)
            if shot is None:
                return None
            try:
                context = self._film_context(resolver)
            except Exception:  # noqa: BLE001 - e.g. a provider that cannot start: no cache
                return None
            from vfbuild.spec.load import shot_file_names

            root = str(self.p.root)
            files = tuple(
                (f, self._stat(f"{root}/{f}")) for f in shot_file_names(self.p.film, shot)
            )
            digest = hashlib.sha1(shot.model_dump_json().encode("utf-8")).hexdigest()
            polished = tuple(
                (n, self._stat(os.path.join(str(self.p.root), layout.SOURCE_IMAGES, n)))
                for n in self._polished_names().get(name, ())
            )
            static = (context, digest, files, polished)
            self._shots[name] = static
        return (static, self.p.locks.signature(name))

    def _stat(self, path: str) -> tuple[int, int, int] | None:
        if path not in self._stats:
            try:
                st = os.stat(path)
                self._stats[path] = (st.st_size, st.st_mtime_ns, st.st_ino)
            except OSError:
                self._stats[path] = None
        return self._stats[path]

    def _polished_names(self) -> dict[str, list[str]]:
        if self._polished is None:
            found: dict[str, list[str]] = {}
            for n in self.p.source_images:
                if layout.POLISHED_SUFFIX in n and "_keyframe_" in n:
                    found.setdefault(n.split("_keyframe_", 1)[0], []).append(n)
            self._polished = {k: sorted(v) for k, v in found.items()}
        return self._polished

    def _film_context(self, resolver: Resolver) -> str:
        if self._context is None:
            film = self.p.film
            h = hashlib.sha1(f"{SAVED_FORMAT}\0{self.p.root}\0".encode())
            h.update(code_signature().encode())
            h.update(film.film.model_dump_json().encode())
            h.update(film.providers.model_dump_json().encode())
            for cname in sorted(film.characters):
                h.update(f"{cname}={film.characters[cname].model_dump_json()}".encode())
            for step in SHOT_STEPS:
                for tier in ("draft", "final"):
                    made = resolver._made_by(step, tier)
                    h.update(repr(sorted(made.items())).encode())
                h.update(self.p.provider(step).ext(step).encode())
                choice = resolver._choice(step)
                if choice is not None:
                    for wf in {
                        choice.workflow,
                        *(choice.tier(t).get("workflow") for t in ("draft", "final")),
                    }:
                        if wf:
                            h.update(
                                repr(
                                    (wf, self._stat(os.path.join(str(self.p.root), str(wf))))
                                ).encode()
                            )
            self._context = h.hexdigest()
        return self._context

    # -- entries ---------------------------------------------------------------------------

    def _load(self) -> dict[tuple[str, str, bool], tuple[Any, ...]]:
        if self._entries is None:
            with self._lock:
                if self._entries is None:
                    try:
                        with _gc_paused():  # a big graph of small tuples: gc only slows it
                            data = sealed.load(self.path, self.path.name)
                        entries = _saved_entries(data)
                    except Exception:  # noqa: BLE001 - a missing or corrupt cache is only a cache
                        entries = {}
                    self._entries = entries
                    self._box["entries"] = entries
        return self._entries

    def get(
        self, resolver: Resolver, key: tuple[str, str, bool], fingerprint: tuple[Any, ...] | None
    ) -> StepState | None:
        if fingerprint is None:
            return None
        entries = self._load()
        entry = entries.get(key)
        if entry is None:
            return None
        if entry[0] != fingerprint or not self._still_done(resolver, entry):
            with self._lock:
                entries.pop(key, None)
                self._box["dirty"] = True
            return None
        return _thaw(key, entry)

    def _still_done(self, resolver: Resolver, entry: tuple[Any, ...]) -> bool:
        """Every take's key still maps to the same artifact, its object is in the store and
        its layout files are in place (as `job_done` would find)."""
        p = self.p
        lookup, has_object = p.index.lookup, p.has_object
        for meta in entry[6]:
            art = lookup(meta[3])
            if art is None or art.sha256 != meta[11] or not has_object(meta[11]):
                return False
        has_file = p.has_file
        return all(has_file(t) for meta in entry[6] for t in meta[12])

    def put(
        self, key: tuple[str, str, bool], fingerprint: tuple[Any, ...], state: StepState
    ) -> None:
        metas = []
        title = self.p.film.film.title
        for j in state.jobs:
            art = self.p.index.lookup(j.key)
            if art is None or j.version is None:
                return  # not done after all (another thread): keep nothing
            metas.append(
                (j.name, j.step, j.take, j.key, j.version_key, j.version, j.ext,
                 j.pinned_sha256, j.picked, j.seconds, j.from_spec, art.sha256,
                 tuple(j.targets(title, j.version)))
            )  # fmt: skip
        heavy = pickle.dumps(
            ([j.recipe for j in state.jobs], state.inputs), protocol=pickle.HIGHEST_PROTOCOL
        )
        entry = (
            fingerprint, state.status, list(state.reasons), list(state.notes),
            list(state.rough), state.polished, metas, heavy,
        )  # fmt: skip
        entries = self._load()
        with self._lock:
            entries[key] = entry
            self._box["dirty"] = True

    def save(self) -> None:
        """Write the kept states now if anything changed (also done at exit)."""
        _save_entries(self.path, self._box, frozenset(self.p.film.shot_map), self._lock)


def _save_entries(
    path: Path, box: dict[str, Any], live: frozenset[str], lock: threading.Lock
) -> None:
    """Write the states of shots still in the film; never fsynced (it is a cache)."""
    with lock:
        if not box["dirty"] or box["entries"] is None:
            return
        entries = {k: v for k, v in box["entries"].items() if k[0] in live}
        box["dirty"] = False
    blob = sealed.dumps({"format": SAVED_FORMAT, "entries": entries}, path.name)
    if blob is None:
        return  # caching is off
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_bytes(blob)
        os.replace(tmp, path)
    except OSError:
        pass


def _saved_entries(data: object) -> dict[tuple[str, str, bool], tuple[Any, ...]]:
    """The entries of a verified states cache, or none when it is not of the shape `put` and
    `_save_entries` write (another vfbuild's): the keys and the parts `get` reads before it
    compares fingerprints. An entry whose fingerprint matches was written by this code."""
    if not isinstance(data, dict) or data.get("format") != SAVED_FORMAT:
        return {}
    entries = data.get("entries")
    if not isinstance(entries, dict):
        return {}
    for k, v in entries.items():
        if not (
            type(k) is tuple
            and len(k) == 3
            and type(k[0]) is str
            and type(v) is tuple
            and len(v) == 8
        ):
            return {}
    return entries


def _thaw_job(meta: tuple[Any, ...], heavy: _Heavy | None, i: int) -> Job:
    job = Job.__new__(Job)
    d = job.__dict__
    (d["name"], d["step"], d["take"], d["key"], d["version_key"], d["version"], d["ext"],
     d["pinned_sha256"], d["picked"], d["seconds"], d["from_spec"]) = meta[:11]  # fmt: skip
    if heavy is not None:
        d["_heavy"] = (heavy, i)
    return job


def _thaw(key: tuple[str, str, bool], entry: tuple[Any, ...]) -> StepState:
    _, status, reasons, notes, rough, polished, metas, blob = entry
    heavy = _Heavy(blob)
    state = StepState.__new__(StepState)
    d = state.__dict__
    d["name"], d["step"], d["status"] = key[0], key[1], status
    d["reasons"], d["notes"], d["rough"], d["polished"] = (
        list(reasons),
        list(notes),
        list(rough),
        polished,
    )
    d["_metas"] = metas
    d["_heavy"] = heavy
    return state


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """No cyclic GC while a large cache is unpickled (it only rescans the new objects)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
