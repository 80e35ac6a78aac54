"""`segment`: each shot's part of the edit, made on its own: the shot's most advanced material
(its last built output, else its picked draft, else its picked or first keyframe held as a
still) conformed to the cut's size and frame rate, graded and grained, picture only, in the
mezzanine codec: `06_Edit/segments/<shot>_segment_vNNN.mp4`.

A segment's recipe holds only what decides its pixels: its material's sha256, its length, the
conform, grain and colour settings, and a grain seed worked out from those (so each segment has
noise of its own wherever it stands). Changing one shot's pick makes that shot's segment only;
reordering shots makes none. The join is the `edit`.

One film step with a job per shot (each recorded in its shot's lock): the cut's size is the
film's (a rough cut is at the `rough:` size, or the final tier's for `vf build --tier final`,
while any shot is not finished), which one shot's
state cannot know.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from vfbuild.media.encode import MEZZANINE, identity, mezzanine_ext
from vfbuild.providers.finishing import FinishingProvider
from vfbuild.recipe import make_recipe
from vfbuild.spec.models import Shot
from vfbuild.steps import register
from vfbuild.steps.base import DONE, STALE, WAITING, Job, Resolution, Step, StepState
from vfbuild.store import layout
from vfbuild.store.locks import FILM_LOCK

SEGMENTS = f"{layout.EDIT}/segments"
COLOUR = {"matrix": "bt709", "primaries": "bt709", "trc": "bt709", "range": "tv"}


@dataclass
class Cut:
    """What the film is cut from: each shot's material, and the cut's size."""

    materials: list[tuple[Shot, str, bool]] = field(default_factory=list)  # shot, sha256, still
    rough: list[str] = field(default_factory=list)
    width: int = 0
    height: int = 0
    waiting: str | None = None


def film_cut(r: Resolution) -> Cut:
    cut = Cut()
    for s in r.film.shots:
        chosen = r.edit_material(s)
        if chosen is None:
            cut.waiting = f"waits for {s.id}: it has no keyframe take yet"
            return cut
        art, still, stage, finished = chosen
        if not finished:
            cut.rough.append(f"{s.id} ({stage})")
        cut.materials.append((s, art.sha256, still))
    rough = r.rough if cut.rough else "delivery"
    size = r.delivery_size() if rough == "delivery" else r.tier_size(rough)
    cut.width, cut.height = size
    return cut


def grain_seed(recipe: dict[str, Any]) -> int:
    """A seed of the segment's own (the key of its recipe without a seed): no two segments
    start the same noise, and a segment's seed does not change when it moves."""
    return int(make_recipe(**recipe).key[:8], 16) % (2**31 - 1)  # the noise filter's range


class Segment(Step):
    name = "segment"
    order = 90
    scope = "film"
    tier = "draft"  # a draft build ends in a rough cut too
    output_dir = SEGMENTS
    edit_material = False

    def maker(self) -> FinishingProvider:
        return FinishingProvider(self.name)

    def resolve(self, r: Resolution, shot: Shot | None) -> StepState:
        state = StepState(FILM_LOCK, self.name, STALE)
        cut = film_cut(r)
        if cut.waiting:
            state.status, state.reasons = WAITING, [cut.waiting]
            return state
        state.rough = cut.rough
        film = r.film.film
        done = True
        for s, sha, still in cut.materials:
            settings = {
                "width": cut.width,
                "height": cut.height,
                "fps": film.fps,
                "duration": s.duration,
                "grain": film.grain,
                "colour": COLOUR,
                "codec": film.mezzanine,
                "encoder": identity(MEZZANINE[film.mezzanine]),
            }
            base: dict[str, Any] = dict(
                **r.made_by(self.name), tier="final", settings=settings,
                inputs={"clip": sha, "still": still},
            )  # fmt: skip
            recipe = make_recipe(**base, seed=grain_seed(base))
            one = r.output(StepState(s.id, self.name, STALE), recipe)
            state.jobs += one.jobs
            state.inputs[sha] = r.object_path(sha)  # the maker finds it by its sha256
            done = done and one.status == DONE
            if one.status == STALE:
                state.reasons = one.reasons
        if done:
            state.status = DONE
        return state

    def targets(self, job: Job, title: str, version: int) -> list[str]:
        ext = mezzanine_ext(job.recipe["settings"]["codec"])
        return [layout.output_path_in(SEGMENTS, job.name, job.step, version, ext)]


register(Segment())
