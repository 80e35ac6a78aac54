"""`edit`: the film. Every shot's most advanced material (its last built output, else its
picked draft, else its picked or first keyframe held as a still), conformed to the delivery
size and frame rate, with grain, in shot order: `06_Edit/<title>_vNNN.mp4`. Before every shot
is finished it is a rough cut, and says which shots are rough."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from vfbuild.recipe import make_recipe
from vfbuild.spec.models import Shot
from vfbuild.steps import register
from vfbuild.steps.base import STALE, WAITING, Job, Resolution, Step, StepState
from vfbuild.store import layout
from vfbuild.store.locks import FILM_LOCK


class Edit(Step):
    name = "edit"
    order = 100
    scope = "film"
    tier = "draft"  # a draft build ends in a rough cut too
    output_dir = layout.EDIT

    def resolve(self, r: Resolution, shot: Shot | None) -> StepState:
        state = StepState(FILM_LOCK, self.name, STALE)
        clips: list[dict[str, Any]] = []
        files: list[Path] = []
        for s in r.film.shots:
            chosen = r.edit_material(s)
            if chosen is None:
                state.status = WAITING
                state.reasons = [f"waits for {s.id}: it has no keyframe take yet"]
                return state
            art, still, stage, finished = chosen
            if not finished:
                state.rough.append(f"{s.id} ({stage})")
            clips.append({"sha256": art.sha256, "still": still, "duration": s.duration})
            files.append(r.object_path(art.sha256))
        from vfbuild.steps.mix import film_sound  # sound (issue 17): the mix, if any

        mix = film_sound(r, state)
        if mix is False:
            return state
        w, h = r.delivery_size()
        film = r.film.film
        recipe = make_recipe(
            **r.made_by(self.name),
            tier="final",
            settings={"width": w, "height": h, "fps": film.fps, "grain": film.grain},
            inputs={"clips": clips} | ({"mix": mix} if mix else {}),
        )
        state.inputs["clips"] = files
        return r.output(state, recipe)

    def targets(self, job: Job, title: str, version: int) -> list[str]:
        return [layout.edit_path(title, version)]


register(Edit())
