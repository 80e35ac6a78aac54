"""`draft`: image → video at the draft tier. `takes` clips from the picked (or polished)
keyframe, one of which a human picks; testing at a low tier is the golden rule's second step."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from vfbuild.media.contract import Contract
from vfbuild.spec.models import Shot
from vfbuild.steps import register
from vfbuild.steps.base import STALE, Resolution, Step, StepState, clip_seconds


def keyframe_input(r: Resolution, shot: Shot, state: StepState) -> str | None:
    """sha256 of the picked (or polished) keyframe, and its file among the state's inputs.
    None: no keyframe is picked yet."""
    pick = r.locks.pick(shot.id, "keyframe")
    if pick is None:
        return None
    if pick.polished is not None:
        state.inputs["keyframe"] = r.root / pick.polished.file
        return pick.polished.sha256
    state.inputs["keyframe"] = r.object_path(pick.sha256)
    return pick.sha256


def keyframe_file(r: Resolution, shot: Shot, sha: str) -> Path:
    """The file of the keyframe a recipe names by `sha`: the user's polished keyframe when the
    lock pins it, else the store's object."""
    pick = r.locks.pick(shot.id, "keyframe")
    if pick is not None and pick.polished is not None and pick.polished.sha256 == sha:
        return r.root / pick.polished.file
    return r.object_path(sha)


class Draft(Step):
    name = "draft"
    contract = Contract("video", size="aspect", length="asked")
    order = 20
    slot = "video"
    tier = "draft"
    picked = True
    billed_by_seconds = True
    upstream = "keyframe"

    def takes(self, shot: Shot) -> int:
        return shot.motion.takes

    def resolve(self, r: Resolution, shot: Shot | None) -> StepState:
        from vfbuild.errors import FrozenError
        from vfbuild.spec.prompt import motion_prompt, negative_prompt

        assert shot is not None
        state = StepState(shot.id, self.name, STALE)
        kf_sha = keyframe_input(r, shot, state)
        if kf_sha is None:
            if r.frozen:
                raise FrozenError(f"{shot.id}: no {self.upstream} pick in locks/{shot.id}.yaml")
            return r.needs_pick(shot, self.upstream, state)
        if r.frozen:
            state = r.frozen_pick(shot, self.name, state)
            pick = r.locks.pick(shot.id, self.name)
            if pick is not None:  # the keyframe the pinned draft was made from
                sha = pick.recipe["inputs"]["keyframe"]
                state.inputs["keyframe"] = keyframe_file(r, shot, sha)
            return state
        w, h = r.tier_size("draft")
        settings: dict[str, Any] = {
            "width": w,
            "height": h,
            "fps": r.film.film.fps,
            "duration": clip_seconds(shot),
            "move": shot.motion.move.canonical.value,
            "provider_settings": r.tier_settings(self.name, "draft"),
        }
        if r.provider(self.name).labels:
            settings["label"] = shot.id
        seed0 = shot.motion.seed if shot.motion.seed is not None else shot.keyframe.seed
        base = dict(
            **r.made_by(self.name, "draft"),
            tier="draft",
            settings=settings,
            inputs={"keyframe": kf_sha},
            prompt=motion_prompt(r.film, shot, r.root),
            negative=negative_prompt(r.film, shot, "video", r.root) or None,
        )
        jobs = r.take_jobs(shot.id, self.name, base, seed0, shot.motion.takes)
        state.jobs = r.pick_jobs(shot, self.name, jobs, state)
        return r.finish(state)


register(Draft())
