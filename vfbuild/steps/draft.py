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


def first_step(shot: Shot) -> str | None:
    """The step of this shot whose output is its first frame (`motion.first`), or None when
    the clip starts from the shot's own picked keyframe."""
    link = shot.motion.link("first")
    if link is None:
        return None
    return "first-restyle" if link.restyle is not None else "first"


def last_step(shot: Shot) -> str | None:
    link = shot.motion.link("last")
    if link is None:
        return None
    return "last-restyle" if link.restyle is not None else "last"


def linked_inputs(r: Resolution, shot: Shot, state: StepState) -> dict[str, str] | None:
    """The continuity inputs of a video step (see `vfbuild.steps.base`): `keyframe` when the
    first frame comes from another shot, `last`, `reference`; their files go into the state's
    inputs. None: one is not built yet (the state then says so). A provider that cannot take
    the last frame or the reference is told here, not left to drop it."""
    from vfbuild.errors import UsageError
    from vfbuild.providers.base import takes_last_frame, takes_reference_video

    out: dict[str, str] = {}
    prov = r.provider("draft")
    for role, step in (("keyframe", first_step(shot)), ("last", last_step(shot))):
        if step is None:
            continue
        if role == "last" and not takes_last_frame(prov):
            raise UsageError(
                f"{shot.id}: motion.last asks for a last frame, and {prov.name} cannot take one",
                hint="use a video provider whose model takes a last frame, or remove motion.last",
            )
        art = r.output_artifact(shot, step, state)
        if art is None:
            return None
        out[role] = art.sha256
        state.inputs[role] = r.object_path(art.sha256)
    ref = shot.motion.reference
    if ref is not None:
        if not takes_reference_video(prov):
            raise UsageError(
                f"{shot.id}: motion.reference asks for a motion-control model, and {prov.name} "
                "has none",
                hint="use a video provider that takes a reference performance, or remove "
                "motion.reference",
            )
        out["reference"] = r.input_sha(ref)
        state.inputs["reference"] = r.root / ref
    return out


def pinned_inputs(r: Resolution, shot: Shot, recorded: dict[str, Any], state: StepState) -> None:
    """The files of a picked draft's continuity inputs (`last`, `reference`), by the sha256s
    its recipe names."""
    if "last" in recorded:
        state.inputs["last"] = r.object_path(recorded["last"])
    ref = shot.motion.reference
    if "reference" in recorded and ref is not None:
        state.inputs["reference"] = r.root / ref


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
        own_keyframe = first_step(shot) is None
        kf_sha = keyframe_input(r, shot, state) if own_keyframe else ""
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
                pinned_inputs(r, shot, pick.recipe["inputs"], state)
            return state
        linked = linked_inputs(r, shot, state)
        if linked is None:
            return state  # waits for its first or last frame
        kf_sha = linked.pop("keyframe", kf_sha)
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
            inputs={"keyframe": kf_sha, **linked},
            prompt=motion_prompt(r.film, shot, r.root),
            negative=negative_prompt(r.film, shot, "video", r.root) or None,
        )
        jobs = r.take_jobs(shot.id, self.name, base, seed0, shot.motion.takes)
        state.jobs = r.pick_jobs(shot, self.name, jobs, state)
        return r.finish(state)


register(Draft())
