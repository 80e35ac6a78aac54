"""`music`: the film's `music:`, as long as the cut (the sum of the shots' durations).

`takes` pieces of the prompt; the mix uses the one `music.pick` names (a film has no shot lock
to pin it in, so the pick is written in shots.yaml). When the cut's length changes, `fit:
trim` keeps the music the last mix used while it is still long enough (the mix trims it with
a fade) and asks again only when it is too short; `fit: regenerate` asks again at the new
length.
"""

from __future__ import annotations

import math

from vfbuild.spec.models import Film, Shot
from vfbuild.steps import register
from vfbuild.steps.base import STALE, Job, Resolution, Step, StepState
from vfbuild.store import layout
from vfbuild.store.locks import FILM_LOCK


def asked_seconds(film: Film) -> float:
    """The length to ask for: the cut's, rounded up to a whole second."""
    return float(math.ceil(film.length - 1e-9))


class Music(Step):
    name = "music"
    order = 90  # after every shot's steps, before the mix
    scope = "film"
    slot = "music"
    tier = "draft"
    picked = True
    kind = "audio"
    edit_material = False

    def in_film(self, film: Film) -> bool:
        return film.music is not None

    def resolve(self, r: Resolution, shot: Shot | None) -> StepState:
        state = StepState(FILM_LOCK, self.name, STALE)
        spec = r.film.music
        if spec is None:  # not in this film: nothing to make
            return r.finish(state)
        need = asked_seconds(r.film)
        if r.frozen:  # the music the locked mix was made with, exactly
            return self._frozen(r, state, need)
        jobs = self._jobs(r, need)
        if spec.fit == "trim":
            last = last_music_seconds(r)
            if last is not None and last > need:
                kept = self._jobs(r, last)
                was = self._picked(r, kept)
                if was is not None and r.artifact(was.key) is not None:
                    jobs = kept
                    state.notes.append(
                        f"the cut is {r.film.length:g} s: the {last:g} s music still fits "
                        "(the mix trims it)"
                    )
        picked = self._picked(r, jobs)
        if picked is not None:
            picked.picked = True
        state.jobs = jobs
        return r.finish(state)

    def _frozen(self, r: Resolution, state: StepState, need: float) -> StepState:
        from vfbuild.errors import FrozenError

        out = r.locks.output(FILM_LOCK, "mix")
        music = out.recipe.get("inputs", {}).get("music") if out is not None else None
        if not isinstance(music, dict):
            raise FrozenError(
                "--frozen needs the music the film's mix was made with; locks/_film.yaml "
                "pins no mix with music",
                hint="run `vf build` without --frozen to make it, then commit the locks",
            )
        seconds = float(music.get("seconds") or need)
        picked = self._picked(r, self._jobs(r, seconds))
        if picked is None:
            raise FrozenError("--frozen: the music's pick is not one of its takes")
        picked.picked, picked.pinned_sha256 = True, str(music["sha256"])
        state.jobs = [picked]
        return r.finish(state)

    def _jobs(self, r: Resolution, seconds: float) -> list[Job]:
        from vfbuild.spec.prompt import read_text

        spec = r.film.music
        assert spec is not None
        base = dict(
            **r.made_by(self.name, "final"),
            tier="final",
            settings={
                "seconds": seconds,
                "provider_settings": r.tier_settings(self.name, "final"),
            },
            inputs={},
            prompt=read_text(r.root, spec.prompt),
        )
        return r.take_jobs(FILM_LOCK, self.name, base, spec.seed, spec.takes)

    @staticmethod
    def _picked(r: Resolution, jobs: list[Job]) -> Job | None:
        spec = r.film.music
        take = spec.pick if spec is not None else 1
        return next((j for j in jobs if j.take == take), None)

    def targets(self, job: Job, title: str, version: int) -> list[str]:
        name = f"{layout.slug(title)}_{self.name}_{layout.vtag(version)}_t{job.take:02d}{job.ext}"
        paths = [f"{layout.AUDIO}/{name}"]
        if job.picked:
            paths.append(f"{layout.SELECTED}/{name}")
        return paths


def last_music_seconds(r: Resolution) -> float | None:
    """How long the music was that the film's last mix used (None: no mix yet)."""
    out = r.locks.output(FILM_LOCK, "mix")
    if out is None:
        return None
    music = out.recipe.get("inputs", {}).get("music")
    seconds = music.get("seconds") if isinstance(music, dict) else None
    return float(seconds) if isinstance(seconds, (int, float)) else None


register(Music())
