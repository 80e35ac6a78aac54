"""The local provider's sound steps: a voice reads the line, a previz bed, the mix."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from vfbuild.providers.base import InputFiles


def _files(value: Path | list[Path] | None) -> list[Path]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def make_sound(recipe: dict[str, Any], inputs: InputFiles, out: Path) -> None:
    step, s = recipe["step"], recipe["settings"]
    if step == "voice":
        from vfbuild.providers.local import speech

        rate, pitch = speech.take_params(s.get("voice_settings") or {}, recipe["take"])
        speech.speak(
            out, recipe["prompt"] or "", voice=s.get("voice") or speech.DEFAULT_VOICE,
            rate=rate, pitch=pitch,
        )  # fmt: skip
    elif step == "music":
        from vfbuild.providers.local.bed import render_bed

        render_bed(out, seconds=float(s["seconds"]), seed=recipe["seed"], prompt=recipe["prompt"])
    elif step == "mix":
        from vfbuild.media import mix

        lines = recipe["inputs"]["dialogue"]
        placed = [
            mix.Placed(float(d["start"]), f, float(d["length"]))
            for d, f in zip(lines, _files(inputs.get("dialogue")), strict=True)
        ]
        m = recipe["inputs"]["music"]
        music = None
        if m is not None:
            music = mix.Music(_files(inputs["music"])[0], float(m["gain"]), float(m["duck"]))
        mix.render_mix(
            out,
            dialogue=placed,
            music=music,
            seconds=float(s["seconds"]),
            loudness=float(s["loudness"]),
            true_peak=float(s["true_peak"]),
        )
    else:  # pragma: no cover - the local provider routes only these here
        raise ValueError(step)
