"""`subtitles`: the shots' dialogue lines, timed by each shot's place in the edit, as `.srt`
and `.vtt` beside each edit version (`06_Edit/<title>_vNNN.srt`). The lines are part of the
edit's recipe, so each edit version has its own subtitles."""

from __future__ import annotations

from vfbuild.providers.finishing import FinishingProvider
from vfbuild.recipe import make_recipe
from vfbuild.spec.models import Film, Shot
from vfbuild.steps import register
from vfbuild.steps.base import DONE, STALE, WAITING, Job, Resolution, Step, StepState
from vfbuild.steps.edit import timeline
from vfbuild.steps.parts import add_part, settle
from vfbuild.store import layout
from vfbuild.store.locks import FILM_LOCK

FORMATS = ("srt", "vtt")


def cues(film: Film) -> list[list[object]]:
    """[first frame, frames, text] of every shot with a dialogue line, in edit order."""
    return [
        [p.start, p.frames, p.shot.dialogue.line]
        for p in timeline(film)
        if p.shot.dialogue is not None and p.shot.dialogue.line
    ]


class Subtitles(Step):
    name = "subtitles"
    order = 105
    scope = "film"
    tier = "draft"
    output_dir = layout.EDIT

    def maker(self) -> FinishingProvider:
        return FinishingProvider(self.name)

    def resolve(self, r: Resolution, shot: Shot | None) -> StepState:
        state = StepState(FILM_LOCK, self.name, STALE)
        edit = r.resolve(FILM_LOCK, "edit")
        job = edit.jobs[0] if edit.jobs else None
        if edit.status == WAITING or job is None or job.version is None:
            state.status, state.reasons = WAITING, ["waits for the edit"]
            return state
        lines = cues(r.film)
        if not lines:
            state.status = DONE  # no shot has a dialogue `line:`: nothing to make
            return state
        for fmt in FORMATS:
            recipe = make_recipe(
                **r.made_by(self.name),
                tier="final",
                settings={
                    "format": fmt,
                    "fps": r.film.film.fps,
                    "cues": lines,
                    "edit_version": job.version,
                },
                inputs={},
            )
            add_part(r, state, f"subtitles-{fmt}", recipe)
        return settle(state)

    def targets(self, job: Job, title: str, version: int) -> list[str]:
        s = job.recipe["settings"]
        edit = layout.edit_path(title, s["edit_version"])
        return [edit[: -len(".mp4")] + "." + s["format"]]


register(Subtitles())
