"""`edit`: the film, joined from its shots' segments (`segment`) without re-encoding the
picture, with its sound mixed and encoded once over the whole timeline (each shot's dialogue
at the shot's start): `06_Edit/<title>_vNNN.mp4`. Before every shot is finished it is a rough
cut, at the `rough:` size, and says which shots are rough.

Its recipe holds the segments' sha256 in shot order and each sound's sha256 and place, so
reordering shots makes a new edit from the same segments, and a new pick makes one segment.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from vfbuild.media.encode import AUDIO, identity, mezzanine_ext
from vfbuild.providers.finishing import FinishingProvider
from vfbuild.recipe import make_recipe
from vfbuild.spec.models import Film, Shot
from vfbuild.steps import register
from vfbuild.steps.base import STALE, WAITING, Job, Resolution, Step, StepState
from vfbuild.store import layout
from vfbuild.store.locks import FILM_LOCK


@dataclass(frozen=True)
class Place:
    """A shot's place in the edit, in frames."""

    shot: Shot
    start: int
    frames: int


def timeline(film: Film) -> list[Place]:
    """Every shot's place in the edit, in shot order."""
    fps = film.film.fps
    places: list[Place] = []
    at = 0
    for s in film.shots:
        frames = max(1, round(s.duration * fps))
        places.append(Place(s, at, frames))
        at += frames
    return places


class Edit(Step):
    name = "edit"
    order = 100
    scope = "film"
    tier = "draft"  # a draft build ends in a rough cut too
    output_dir = layout.EDIT
    cut = True

    def maker(self) -> FinishingProvider:
        return FinishingProvider(self.name)

    def resolve(self, r: Resolution, shot: Shot | None) -> StepState:
        state = StepState(FILM_LOCK, self.name, STALE)
        segments = r.resolve(FILM_LOCK, "segment")
        state.rough = segments.rough
        arts = [r.artifact(j.key) for j in segments.jobs]
        if segments.status == WAITING or not arts:
            state.status, state.reasons = WAITING, segments.reasons or ["waits for the segments"]
            return state
        if any(a is None for a in arts):
            state.status, state.reasons = WAITING, ["waits for its segments to be made"]
            return state
        from vfbuild.steps.mix import film_sound  # sound (issue 17): the mix, if any

        mix = film_sound(r, state)
        if mix is False:
            return state
        film = r.film.film
        places = timeline(r.film)
        sounds: list[dict[str, object]] = []
        files: list[Path] = []
        if isinstance(mix, str):
            # The mix is the film's whole sound: dialogue, music ducked under it, loudness.
            total = sum(p.frames for p in places)
            sounds.append({"sha256": mix, "start": 0, "length": total})
            files.append(r.object_path(mix))
        for p in places if mix is None else []:
            if p.shot.dialogue is not None and p.shot.dialogue.audio is not None:
                audio = p.shot.dialogue.audio
                sounds.append(
                    {
                        "sha256": r.input_sha(audio),
                        "start": p.start,
                        "length": p.frames,
                    }
                )
                files.append(r.root / audio)
        first = segments.jobs[0].recipe["settings"]
        width, height, codec = first["width"], first["height"], first["codec"]
        recipe = make_recipe(
            **r.made_by(self.name),
            tier="final",
            settings={
                "width": width,
                "height": height,
                "fps": film.fps,
                "codec": codec,
                "audio": identity(AUDIO),
                # Each edit version has its subtitles (`subtitles`): its lines are its own.
                "lines": [p.shot.dialogue.line for p in places if p.shot.dialogue is not None],
            },
            inputs={
                "segments": [
                    {"sha256": a.sha256, "frames": p.frames}
                    for a, p in zip(arts, places, strict=True)
                    if a is not None
                ],
                "sounds": sounds,
            },
        )
        state.inputs["segments"] = [r.object_path(a.sha256) for a in arts if a is not None]
        state.inputs["sounds"] = files
        state.inputs.pop("mix", None)  # the mix is one of the sounds
        return r.output(state, recipe)

    def targets(self, job: Job, title: str, version: int) -> list[str]:
        ext = mezzanine_ext(job.recipe["settings"]["codec"])
        return [layout.edit_path(title, version)[: -len(".mp4")] + ext]


register(Edit())
