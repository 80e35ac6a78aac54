"""`voice`: a shot's dialogue `line:` read aloud, for shots whose dialogue gives no `audio:`
file. `takes` readings in the speaker's voice (a character's `voice:`), one of which feeds the
lip-sync and the mix: the one `vf pick SHOT voice N` pins, else the dialogue's `pick:`, else
the only take. A given `audio:` file is used as it is and this step does not exist."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from vfbuild.spec.models import CharacterVoice, Film, Shot
from vfbuild.steps import register
from vfbuild.steps.base import NEEDS_PICK, STALE, WAITING, Job, Resolution, Step, StepState
from vfbuild.store import layout


def speaker(film: Film, shot: Shot) -> CharacterVoice | None:
    """The voice that speaks a shot's line (None: the provider's default voice)."""
    d = shot.dialogue
    if d is None or d.voice is None or d.voice not in film.characters:
        return None
    return film.characters[d.voice].voice


class Voice(Step):
    name = "voice"
    order = 45  # after the picture's steps, before the lip-sync that reads it
    slot = "voice"
    tier = "draft"  # the rough cut speaks too
    picked = True
    kind = "audio"
    edit_material = False  # a sound, not a shot's picture

    def applies(self, film: Film, shot: Shot) -> bool:
        return shot.dialogue is not None and shot.dialogue.spoken

    def takes(self, shot: Shot) -> int:
        return shot.dialogue.takes if shot.dialogue is not None else 1

    def resolve(self, r: Resolution, shot: Shot | None) -> StepState:
        from vfbuild.spec.prompt import read_text

        assert shot is not None and shot.dialogue is not None
        d = shot.dialogue
        state = StepState(shot.id, self.name, STALE)
        voice = speaker(r.film, shot)
        inputs: dict[str, Any] = {}
        if voice is not None and voice.sample is not None:
            inputs["sample"] = r.input_sha(voice.sample)
            state.inputs["sample"] = r.root / voice.sample
            if r.provider(self.name).name == "local":
                state.notes.append(
                    f"eSpeak NG cannot clone {voice.sample}: the line is read in "
                    f"{voice.id or 'its default voice'}"
                )
        if r.frozen:
            return r.frozen_pick(shot, self.name, state)
        base = dict(
            **r.made_by(self.name, "final"),
            tier="final",
            settings={
                "voice": voice.id if voice is not None else None,
                "voice_settings": dict(voice.settings) if voice is not None else {},
                "provider_settings": r.tier_settings(self.name, "final"),
            },
            inputs=inputs,
            prompt=read_text(r.root, d.line),
        )
        jobs = r.take_jobs(shot.id, self.name, base, d.seed, d.takes)
        state.jobs = r.pick_jobs(shot, self.name, jobs, state)
        return r.finish(state)

    def targets(self, job: Job, title: str, version: int) -> list[str]:
        # Takes where every step's are (`vf pick` names them there), and beside the film's
        # other sound in 04_Audio (the seeds' layout).
        name = layout.take_name(job.name, job.step, version, job.take, job.ext)
        return [*super().targets(job, title, version), f"{layout.AUDIO}/{name}"]


def chosen_take(r: Resolution, shot: Shot, state: StepState) -> Job | None:
    """The reading of a shot's line that lip-sync and the mix use: the lock's pick, else the
    dialogue's `pick:`, else the only take. None (and `state` says why) when there is none
    yet."""
    assert shot.dialogue is not None
    voice = r.resolve(shot.id, "voice")
    picked = [j for j in voice.jobs if j.picked]
    if picked:
        return picked[0]
    if voice.status == WAITING:
        state.status, state.reasons = WAITING, ["waits for voice"]
        return None
    d = shot.dialogue
    take = d.pick if d.pick is not None else (1 if d.takes == 1 else None)
    if take is None:
        state.status = NEEDS_PICK
        state.reasons = [
            f"pick a voice take first: `vf pick {shot.id} voice N` (N in 1..{d.takes}), "
            "or give the dialogue a `pick:`"
        ]
        return None
    return next((j for j in voice.jobs if j.take == take and j.from_spec), None)


def dialogue_sound(r: Resolution, shot: Shot, state: StepState) -> tuple[str, Path] | None:
    """A shot's dialogue as (sha256, file): its `audio:` file, or its chosen voice take once
    made. None when it is not made yet (`state` says why)."""
    assert shot.dialogue is not None
    if shot.dialogue.audio is not None:
        audio = shot.dialogue.audio
        return r.input_sha(audio), r.root / audio
    job = chosen_take(r, shot, state)
    if job is None:
        return None
    art = r.artifact(job.key)
    if art is None and job.pinned_sha256 is not None and r.object_path(job.pinned_sha256).exists():
        return job.pinned_sha256, r.object_path(job.pinned_sha256)
    if art is None:
        state.status, state.reasons = WAITING, ["waits for voice to be built"]
        return None
    return art.sha256, r.object_path(art.sha256)


register(Voice())
