"""`delivery`: each named output of `deliveries:` made from the edit, its own job and lock:
`06_Edit/<title>_<name>_vNNN.mp4`. Changing one delivery's settings (or a focus point it
crops at) makes that delivery only."""

from __future__ import annotations

from typing import Any

from vfbuild.media.delivery import crop_window
from vfbuild.media.encode import DELIVERY, identity
from vfbuild.providers.finishing import FinishingProvider
from vfbuild.recipe import make_recipe
from vfbuild.spec.models import Shot, parse_resolution
from vfbuild.steps import register
from vfbuild.steps.base import DONE, STALE, WAITING, Job, Resolution, Step, StepState
from vfbuild.steps.edit import timeline
from vfbuild.steps.parts import add_part, settle
from vfbuild.steps.subtitles import cues
from vfbuild.store import layout
from vfbuild.store.locks import FILM_LOCK

CENTRE = (0.5, 0.5)


def edit_output(r: Resolution, state: StepState) -> tuple[Any, dict[str, Any]] | None:
    """The edit's artifact and recipe settings, or None (and `state` waiting)."""
    edit = r.resolve(FILM_LOCK, "edit")
    art = r.artifact(edit.jobs[0].key) if edit.jobs and edit.status != WAITING else None
    if art is None:
        state.status, state.reasons = WAITING, ["waits for the edit"]
        return None
    state.inputs["edit"] = r.object_path(art.sha256)
    return art, dict(edit.jobs[0].recipe["settings"])


class Delivery(Step):
    name = "delivery"
    order = 110
    scope = "film"
    tier = "final"
    output_dir = layout.EDIT

    def maker(self) -> FinishingProvider:
        return FinishingProvider(self.name)

    def resolve(self, r: Resolution, shot: Shot | None) -> StepState:
        state = StepState(FILM_LOCK, self.name, STALE)
        specs = r.film.film.delivery_specs()
        if not specs:
            state.status = DONE  # nothing asked, nothing to make
            return state
        found = edit_output(r, state)
        if found is None:
            return state
        art, edit = found
        src = (edit["width"], edit["height"])
        places = timeline(r.film)
        for name, d in sorted(specs.items()):
            size = parse_resolution(d.size)
            crops = crop_window(src, size) != src
            focus = [
                [p.start + p.frames, *(p.shot.focus or CENTRE)] for p in places
            ] if crops else []  # fmt: skip
            recipe = make_recipe(
                **r.made_by(self.name),
                tier="final",
                settings={
                    "name": name,
                    "width": size[0],
                    "height": size[1],
                    "source": list(src),
                    "fps": edit["fps"],
                    "frames": places[-1].start + places[-1].frames,
                    "focus": focus,
                    "grain": d.grain,
                    "contrast": d.contrast,
                    "bitrate": d.bitrate,
                    "cues": cues(r.film) if d.subtitles else [],
                    "encoder": identity(DELIVERY),
                },
                inputs={"edit": art.sha256},
            )
            add_part(r, state, f"delivery-{name}", recipe)
        return settle(state)

    def targets(self, job: Job, title: str, version: int) -> list[str]:
        name = job.recipe["settings"]["name"]
        return [f"{layout.EDIT}/{layout.slug(title)}_{name}_{layout.vtag(version)}.mp4"]


register(Delivery())
