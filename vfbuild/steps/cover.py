"""`cover`: a frame of a shot of the edit with the title set in type, at the delivery size
and at 9:16: `06_Edit/<title>_cover_vNNN.png` and `<title>_cover_9x16_vNNN.png`."""

from __future__ import annotations

from vfbuild.providers.finishing import FinishingProvider
from vfbuild.recipe import make_recipe
from vfbuild.spec.models import Shot
from vfbuild.steps import register
from vfbuild.steps.base import DONE, STALE, Job, Resolution, Step, StepState
from vfbuild.steps.delivery import CENTRE, edit_output
from vfbuild.steps.edit import timeline
from vfbuild.steps.parts import add_part, settle
from vfbuild.store import layout
from vfbuild.store.locks import FILM_LOCK


class CoverStep(Step):
    name = "cover"
    order = 120
    scope = "film"
    tier = "final"
    kind = "image"
    output_dir = layout.EDIT

    def maker(self) -> FinishingProvider:
        return FinishingProvider(self.name)

    def resolve(self, r: Resolution, shot: Shot | None) -> StepState:
        state = StepState(FILM_LOCK, self.name, STALE)
        spec = r.film.film.cover
        if spec is None:
            state.status = DONE  # nothing asked, nothing to make
            return state
        places = timeline(r.film)
        place = next((p for p in places if p.shot.id == spec.shot), places[0])
        found = edit_output(r, state)
        if found is None:
            return state
        art, edit = found
        fps = edit["fps"]
        # The frame `at` of the way through the shot (its last frame at 1).
        at = (place.start + min(place.frames - 1, round(spec.at * (place.frames - 1)))) / fps
        w, h = r.delivery_size()
        tall = round(h * 9 / 16) // 2 * 2
        for part, size in (("", (w, h)), ("9x16", (tall, h) if w > h else (w, w * 16 // 9))):
            recipe = make_recipe(
                **r.made_by(self.name),
                tier="final",
                settings={
                    "part": part,
                    "at": at,
                    "width": size[0],
                    "height": size[1],
                    "focus": list(place.shot.focus or CENTRE),
                    "title": spec.title or r.film.film.title,
                },
                inputs={"edit": art.sha256},
            )
            add_part(r, state, f"cover-{part}" if part else "cover", recipe)
        return settle(state)

    def targets(self, job: Job, title: str, version: int) -> list[str]:
        part = job.recipe["settings"]["part"]
        name = f"cover_{part}" if part else "cover"
        return [f"{layout.EDIT}/{layout.slug(title)}_{name}_{layout.vtag(version)}.png"]


register(CoverStep())
