"""`mix`: the film's sound as one file the length of the cut (`04_Audio/<title>_mix_vNNN.wav`):
every shot's dialogue at its shot's start (an `audio:` file, or the chosen reading of its
`line:`), the music ducked under it, normalised to `film.loudness` and `film.true_peak`
(see `vfbuild.media.mix`). The edit plays it instead of the clips' own sound.

A film has a mix when it has music or a line to read aloud; a film of recorded `audio:`
dialogue and no music keeps the sound of its clips, as before.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from vfbuild.media.mix import SAMPLE_RATE
from vfbuild.spec.models import Film, Shot
from vfbuild.steps import register
from vfbuild.steps.base import DONE, STALE, WAITING, Job, Resolution, Step, StepState
from vfbuild.store import layout
from vfbuild.store.locks import FILM_LOCK

MIX_VERSION = 1


def has_mix(film: Film) -> bool:
    return film.music is not None or any(
        s.dialogue is not None and s.dialogue.spoken for s in film.shots
    )


class Mix(Step):
    name = "mix"
    order = 95  # after the music, before the edit that plays it
    scope = "film"
    tier = "draft"
    kind = "audio"
    edit_material = False
    output_dir = layout.AUDIO

    def in_film(self, film: Film) -> bool:
        return has_mix(film)

    def resolve(self, r: Resolution, shot: Shot | None) -> StepState:
        from vfbuild.steps.voice import dialogue_sound

        state = StepState(FILM_LOCK, self.name, STALE)
        film = r.film
        if not has_mix(film):
            return r.finish(state)
        fps = film.film.fps
        start_frames = 0
        lines: list[dict[str, Any]] = []
        files: list[Path] = []
        for s in film.shots:
            frames = round(s.duration * fps)
            if s.dialogue is not None:
                sound = dialogue_sound(r, s, state)
                if sound is None:
                    state.status = WAITING
                    state.reasons = [f"waits for {s.id}'s dialogue: {', '.join(state.reasons)}"]
                    return state
                sha, path = sound
                lines.append({"sha256": sha, "start": start_frames / fps, "length": frames / fps})
                files.append(path)
            start_frames += frames
        seconds = start_frames / fps
        music: dict[str, Any] | None = None
        spec = film.music
        if spec is not None:
            ms = r.resolve(FILM_LOCK, "music")
            picked = next((j for j in ms.jobs if j.picked), None)
            art = r.artifact(picked.key) if picked is not None else None
            if picked is None or art is None:
                state.status, state.reasons = WAITING, ["waits for music to be built"]
                return state
            music = {
                "sha256": art.sha256,
                "seconds": picked.recipe["settings"]["seconds"],
                "gain": spec.gain,
                "duck": spec.duck,
            }
            state.inputs["music"] = r.object_path(art.sha256)
        recipe_args = r.made_by(self.name)
        from vfbuild.recipe import make_recipe

        recipe = make_recipe(
            **recipe_args,
            tier="final",
            settings={
                "seconds": seconds,
                "loudness": film.film.loudness,
                "true_peak": film.film.true_peak,
                "sample_rate": SAMPLE_RATE,
                "mix": MIX_VERSION,
            },
            inputs={"dialogue": lines, "music": music},
        )
        state.inputs["dialogue"] = files
        return r.output(state, recipe)

    def targets(self, job: Job, title: str, version: int) -> list[str]:
        return [f"{layout.AUDIO}/{layout.slug(title)}_mix_{layout.vtag(version)}{job.ext}"]


def film_sound(r: Resolution, state: StepState) -> str | None | bool:
    """For the edit: the sha256 of the film's mix; None when the film has no mix, or none can
    be made yet (a line waits for its voice pick: a rough cut keeps the clips' sound); False
    when the mix is to be made first (`state` then waits for it)."""
    if not has_mix(r.film):
        return None
    mix = r.resolve(FILM_LOCK, "mix")
    if mix.status not in (DONE, STALE):
        state.rough.append(f"no mix yet ({mix.reasons[0] if mix.reasons else mix.status})")
        return None
    art = r.artifact(mix.jobs[0].key) if mix.jobs else None
    if art is None:
        state.status, state.reasons = WAITING, ["waits for the mix"]
        return False
    state.inputs["mix"] = r.object_path(art.sha256)
    return art.sha256


register(Mix())
