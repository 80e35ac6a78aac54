"""`first` and `last`: a frame of another shot, for a shot whose clip starts or ends on it
(`motion.first: s030.last`). A local ffmpeg step: the picked keyframe of the other shot, or a
frame (first, last, at a time) of its final or upscale, written as a PNG of that size. Its
recipe is the source's sha256 and which frame, so the other shot's new pick (a new final)
makes a new frame, and everything after it in this shot, and nothing else."""

from __future__ import annotations

from typing import Any

from vfbuild.recipe import make_recipe
from vfbuild.spec.links import FrameSource, links
from vfbuild.spec.models import Film, Shot
from vfbuild.steps import register
from vfbuild.steps.base import NEEDS_PICK, STALE, WAITING, Resolution, Step, StepState
from vfbuild.store import layout


def source_of(shot: Shot, role: str) -> FrameSource | None:
    found = links(shot).get(role)
    return None if found is None else found[1]


class Frame(Step):
    order = 12
    tier = "draft"
    kind = "image"
    output_dir = layout.SOURCE_IMAGES
    edit_material = False  # a frame of another shot cannot stand for this one in the edit

    def __init__(self, role: str, order: int) -> None:
        self.role = role
        self.name = role  # type: ignore[misc]
        self.order = order  # type: ignore[misc]

    def applies(self, film: Film, shot: Shot) -> bool:
        return shot.motion.link(self.role) is not None

    def links(self, film: Film, shot: Shot) -> list[tuple[str, str]]:
        src = source_of(shot, self.role)
        return [] if src is None else [(src.shot, src.step)]

    def resolve(self, r: Resolution, shot: Shot | None) -> StepState:
        assert shot is not None
        state = StepState(shot.id, self.name, STALE)
        src = source_of(shot, self.role)
        assert src is not None
        settings: dict[str, Any]
        if src.step == "keyframe":
            pick = r.locks.pick(src.shot, "keyframe")
            if pick is None:
                state.status, state.reasons = WAITING, [f"waits for {src.shot}'s keyframe pick"]
                return state
            if pick.polished is not None:
                sha, path = pick.polished.sha256, r.root / pick.polished.file
            else:
                sha, path = pick.sha256, r.object_path(pick.sha256)
            settings = {"at": "still"}
        else:
            up = r.resolve(src.shot, src.step)
            art = None
            if up.status not in (NEEDS_PICK, WAITING) and up.jobs:
                art = r.artifact(up.jobs[0].key)
            if art is None:
                state.status = WAITING
                state.reasons = [f"waits for {src.shot}'s {src.step} to be built"]
                return state
            sha, path = art.sha256, r.object_path(art.sha256)
            at: str | float = src.seconds if src.seconds is not None else src.at
            settings = {"at": at}
        recipe = make_recipe(
            **r.made_by(self.name, "draft"), tier="draft", settings=settings, inputs={"source": sha}
        )
        state.inputs["source"] = path
        return r.output(state, recipe)


register(Frame("first", 12))
register(Frame("last", 14))
