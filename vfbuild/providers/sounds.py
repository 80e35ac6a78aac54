"""How each voice and music model on fal and Replicate is asked for a take: its field names.

As with the video models (`clips.py`), the hosted sound models do not agree on names: MiniMax
on fal takes `text` and a nested `voice_setting: {voice_id}`, on Replicate a flat `voice_id`;
Stable Audio on fal takes `seconds_total`, CassetteAI `duration` (10 to 180 s), Stable Audio
2.5 on Replicate `duration`, MusicGen `duration` (at most 30 s), Lyria 2 no length at all (a
30 s clip). One row per model says what its request uses and how it is billed, read from the
model pages (fal.ai/models/<id>/llms.txt and /api, replicate.com/<id>/api) on 2026-12-03:

fal (text or prompt, voice, length, billed by):
  fal-ai/minimax/speech-02-turbo      text, voice_setting.voice_id, —, character ($0.06/1000)
  fal-ai/minimax/speech-02-hd         text, voice_setting.voice_id, —, character ($0.10/1000)
  fal-ai/elevenlabs/tts/multilingual-v2 text, voice, —, character ($0.10/1000)  [unconfirmed]
  fal-ai/stable-audio                 prompt, —, seconds_total 1…47, take
  fal-ai/stable-audio-25/text-to-audio prompt, —, seconds_total 1…190, take ($0.20 an audio)
  cassetteai/music-generator          prompt, —, duration 10…180, second ($0.02 a minute)
Replicate:
  minimax/speech-02-turbo, -02-hd     text, voice_id, —, character
  stability-ai/stable-audio-2.5       prompt, —, duration 1…190, take
  meta/musicgen                       prompt, —, duration 1…30, second (pin `:version`)
  google/lyria-2                      prompt, —, none (30 s), take

A model in no row is refused for the voice and music steps before anything is sent: a sound
model's fields cannot be guessed the way an image-to-video model's could. The voice takes are
asked for as mp3 where the model lets us choose, the music as wav (`ext`); a model that sends
another container is still probed by its content.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from vfbuild.errors import ProviderError

VOICE: Final = "voice"
MUSIC: Final = "music"
SOUND_STEPS = (VOICE, MUSIC)
EXT = {VOICE: ".mp3", MUSIC: ".wav"}


@dataclass(frozen=True)
class Sound:
    """The request fields of one voice or music model."""

    step: Literal["voice", "music"]
    text: str = "prompt"  # the field of the line (voice) or the prompt (music)
    voice: tuple[str, ...] = ()  # where the voice id goes: ("voice_setting", "voice_id")
    default_voice: str | None = None
    length: str | None = None  # the music's length field, in whole seconds; None: fixed
    lengths: tuple[int, int] = (1, 30)  # the shortest and longest it makes
    fixed: float | None = None  # the length of every piece a model without `length` makes
    seed: str | None = None
    negative: str | None = None
    bills: Literal["character", "second", "take"] = "take"
    const: dict[str, Any] = field(default_factory=dict)  # fields every request carries

    def seconds(self, asked: float) -> float:
        """How long a piece the model makes for `asked` seconds of cut."""
        if self.fixed is not None:
            return self.fixed
        lo, hi = self.lengths
        return float(min(hi, max(lo, math.ceil(asked - 1e-6))))

    def body(self, recipe: dict[str, Any], voice: str | None) -> dict[str, Any]:
        """The model input for a take (the tier's provider settings go over it)."""
        settings = recipe.get("settings") or {}
        body: dict[str, Any] = {self.text: recipe.get("prompt") or "", **copy.deepcopy(self.const)}
        if self.step == VOICE and self.voice:
            _put(body, self.voice, voice or self.default_voice)
            for k, v in dict(settings.get("voice_settings") or {}).items():
                _put(body, (*self.voice[:-1], k), v)  # beside the id (MiniMax: voice_setting)
        if self.step == MUSIC and self.length is not None:
            body[self.length] = int(self.seconds(float(settings.get("seconds") or 0)))
        if self.seed is not None and recipe.get("seed") is not None:
            body[self.seed] = int(recipe["seed"]) % 2**31
        if self.negative is not None and recipe.get("negative"):
            body[self.negative] = recipe["negative"]
        return body

    def units(self, recipe: dict[str, Any]) -> tuple[str, float]:
        if self.bills == "character":
            return ("character", float(len(recipe.get("prompt") or "")))
        if self.bills == "second":
            return (
                "second",
                self.seconds(float((recipe.get("settings") or {}).get("seconds") or 0)),
            )
        return ("take", 1.0)


def _put(body: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    at = body
    for key in path[:-1]:
        at = at.setdefault(key, {})
    at[path[-1]] = value


MINIMAX_FAL = Sound(
    VOICE,
    text="text",
    voice=("voice_setting", "voice_id"),
    default_voice="Wise_Woman",
    bills="character",
    # The audio as a URL on fal's CDN (the default, "hex", puts it in the JSON), as mp3.
    const={"output_format": "url", "audio_setting": {"format": "mp3"}},
)
MINIMAX_REPLICATE = Sound(
    VOICE,
    text="text",
    voice=("voice_id",),
    default_voice="Wise_Woman",
    bills="character",
    const={"audio_format": "mp3"},
)

FAL: dict[str, Sound] = {
    "fal-ai/minimax/speech-02-turbo": MINIMAX_FAL,
    "fal-ai/minimax/speech-02-hd": MINIMAX_FAL,
    "fal-ai/elevenlabs/tts/multilingual-v2": Sound(
        VOICE, text="text", voice=("voice",), default_voice="Rachel", bills="character"
    ),
    "fal-ai/stable-audio": Sound(MUSIC, length="seconds_total", lengths=(1, 47)),
    "fal-ai/stable-audio-25/text-to-audio": Sound(
        MUSIC, length="seconds_total", lengths=(1, 190), seed="seed"
    ),
    "cassetteai/music-generator": Sound(
        MUSIC, length="duration", lengths=(10, 180), bills="second"
    ),
}

REPLICATE: dict[str, Sound] = {
    "minimax/speech-02-turbo": MINIMAX_REPLICATE,
    "minimax/speech-02-hd": MINIMAX_REPLICATE,
    "stability-ai/stable-audio-2.5": Sound(MUSIC, length="duration", lengths=(1, 190), seed="seed"),
    "meta/musicgen": Sound(
        MUSIC,
        length="duration",
        lengths=(1, 30),
        seed="seed",
        bills="second",
        const={"output_format": "wav"},
    ),
    "google/lyria-2": Sound(MUSIC, fixed=30.0, seed="seed", negative="negative_prompt"),
}


def sound_of(table: dict[str, Sound], provider: str, step: str, model: str, label: str) -> Sound:
    """The row of `model` for `step`, or a ProviderError naming the models that have one."""
    row = table.get(model)
    if row is None or row.step != step:
        known = ", ".join(m for m, s in table.items() if s.step == step)
        raise ProviderError(
            f"{label}: vfbuild does not know how to ask {provider}'s {model} for a {step} take",
            hint=f"use one of {known} (the README's `Remote providers` table)",
        )
    return row


def no_sample(label: str, provider: str, inputs: Any) -> None:
    """A voice to clone from a sample is made through ElevenLabs only: never dropped silently."""
    if "sample" in inputs:
        raise ProviderError(
            f"{label}: {provider} cannot clone a voice from a sample",
            hint="give the character's `voice:` an `id:` of the model's voices, or make the "
            "voice with `use: elevenlabs`, which clones the sample",
        )
