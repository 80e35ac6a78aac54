"""The embedded `local` provider: free, offline, deterministic previz (not AI), and its renderer
(`previz`).

Keyframes are previz stills, draft/final are animatics performing the shot's camera move,
upscale is a real lanczos scale, lipsync muxes the dialogue onto the clip. The voice is eSpeak
NG reading the line (`speech`), the music a previz bed of chords (`bed`), the mix ffmpeg's
(`vfbuild.media.mix`).
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from vfbuild.providers.base import InputFiles, MakeContext, default_units

MODELS = {
    "keyframe": "previz-still",
    "draft": "previz-animatic",
    "final": "previz-animatic",
    "upscale": "lanczos",
    "lipsync": "previz-mux",
    "voice": "espeak-ng",
    "music": "previz-bed",
    "stems": "previz-split",
    "mix": "mix",
    "first": "ffmpeg-frame",
    "last": "ffmpeg-frame",
    "first-restyle": "previz-restyle",
    "last-restyle": "previz-restyle",
}
AUDIO_STEPS = ("voice", "music", "mix", "stems")
# Steps whose takes are stills (PNG).
STILLS = frozenset({"keyframe", "first", "last", "first-restyle", "last-restyle"})


@functools.cache
def _identity() -> dict[str, str]:
    from vfbuild.providers.local.previz import renderer_identity

    return renderer_identity()


class LocalProvider:
    name = "local"
    paid = False
    deterministic = True
    holds_slot = False
    labels = True
    ledgered = False
    declares_cost = False
    versions_early = False
    by_hand = False
    takes_last_frame = True  # the animatic crossfades toward it
    takes_reference_video = True  # shown picture-in-picture

    def model(self, step: str, configured: str | None) -> str:
        return MODELS[step]

    def engine(self, step: str) -> dict[str, Any]:
        ident = _identity()
        if step == "voice":
            from vfbuild.providers.local import speech

            return speech.identity()
        if step == "stems":
            from vfbuild.providers.local.split import SPLIT_VERSION

            return {"ffmpeg": ident["ffmpeg"], "split": str(SPLIT_VERSION)}
        if step in ("music", "mix"):
            from vfbuild.media.mix import MIX_VERSION
            from vfbuild.providers.local.bed import BED_VERSION

            own = {"bed": str(BED_VERSION)} if step == "music" else {"mix": str(MIX_VERSION)}
            return {"ffmpeg": ident["ffmpeg"], **own}
        if step in ("keyframe", "first-restyle", "last-restyle"):
            return {"pillow": ident["pillow"], "previz": ident["previz"]}
        if step in ("first", "last"):
            return {"ffmpeg": ident["ffmpeg"]}
        if step == "lipsync":
            from vfbuild.providers.local.previz import LIPSYNC_VERSION

            return {
                "ffmpeg": ident["ffmpeg"],
                "encoder": ident["encoder"],
                "previz": ident["previz"],
                "lipsync": str(LIPSYNC_VERSION),
            }
        return {"ffmpeg": ident["ffmpeg"], "encoder": ident["encoder"], "previz": ident["previz"]}

    def ext(self, step: str) -> str:
        if step in AUDIO_STEPS:
            return ".wav"
        return ".png" if step in STILLS else ".mp4"

    def units(self, step: str, seconds: float | None) -> tuple[str, float]:
        return default_units(step, seconds)

    def make(self, recipe: dict[str, Any], inputs: InputFiles, out: Path, ctx: MakeContext) -> None:
        from vfbuild.providers.local import previz

        step, s = recipe["step"], recipe["settings"]
        if step == "keyframe":
            refs = inputs.get("references", [])
            previz.render_still(
                out,
                width=s["width"],
                height=s["height"],
                shot_id=s["label"],
                title="",
                prompt=recipe["prompt"] or "",
                notes=list(s["notes"]),
                seed=recipe["seed"],
                take=recipe["take"],
                references=list(refs) if isinstance(refs, list) else [refs],
            )
        elif step in ("draft", "final"):
            previz.render_animatic(
                out,
                still=_one(inputs["keyframe"]),
                width=s["width"],
                height=s["height"],
                fps=s["fps"],
                duration=s["duration"],
                move=s["move"],
                seed=recipe["seed"],
                take=recipe["take"],
                label=f"{s['label']} · {step} t{recipe['take']} · PREVIZ ANIMATIC",
                last=_one(inputs["last"]) if "last" in inputs else None,
                reference=_one(inputs["reference"]) if "reference" in inputs else None,
            )
        elif step in ("first", "last"):
            from vfbuild.media.frames import extract_frame

            extract_frame(_one(inputs["source"]), out, s["at"])
        elif step in ("first-restyle", "last-restyle"):
            refs = inputs.get("references", [])
            previz.render_restyle(
                out,
                image=_one(inputs["image"]),
                prompt=recipe["prompt"] or "",
                strength=s["strength"],
                seed=recipe["seed"],
                references=list(refs) if isinstance(refs, list) else [refs],
                label=f"{s['label']} · {step}",
            )
        elif step == "upscale":
            previz.render_upscale(
                out, source=_one(inputs["clip"]), width=s["width"], height=s["height"]
            )
        elif step == "lipsync":
            previz.render_lipsync(
                out, clip=_one(inputs["clip"]), audio=_one(inputs["audio"]), fps=s["fps"]
            )
        elif step in AUDIO_STEPS:
            from vfbuild.providers.local.sound import make_sound

            make_sound(recipe, inputs, out)
        else:  # pragma: no cover - the planner only asks for the steps above
            raise ValueError(step)


def _one(p: Path | list[Path]) -> Path:
    return p[0] if isinstance(p, list) else p
