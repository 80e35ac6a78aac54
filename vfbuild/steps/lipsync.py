"""`lipsync`: the shot's dialogue on its upscaled clip, for shots with `dialogue:` only. Last,
because a lip-sync model re-renders the mouth of the finished clip (lip-sync LAST). The
dialogue is its `audio:` file, or the picked reading of its `line:` (the voice step)."""

from __future__ import annotations

from vfbuild.media.contract import Contract
from vfbuild.recipe import make_recipe
from vfbuild.spec.models import Film, Shot
from vfbuild.steps import register
from vfbuild.steps.base import STALE, Resolution, Step, StepState
from vfbuild.store import layout


class Lipsync(Step):
    name = "lipsync"
    contract = Contract("video", sound=True)
    order = 50
    slot = "lipsync"
    billed_by_seconds = True
    output_dir = layout.UPSCALED
    finished = True
    upstream = "upscale"
    after_previous = True  # a spoken line's voice take comes just before it

    def applies(self, film: Film, shot: Shot) -> bool:
        return shot.dialogue is not None

    def resolve(self, r: Resolution, shot: Shot | None) -> StepState:
        assert shot is not None and shot.dialogue is not None
        state = StepState(shot.id, self.name, STALE)
        src = r.output_artifact(shot, self.upstream, state)
        if src is None:
            return state
        from vfbuild.steps.voice import dialogue_sound

        sound = dialogue_sound(r, shot, state)  # the `audio:` file, or the picked reading
        if sound is None:
            return state
        audio_sha, audio_file = sound
        recipe = make_recipe(
            **r.made_by(self.name),
            tier="final",
            settings={
                "fps": r.film.film.fps,
                "provider_settings": r.tier_settings(self.name, "final"),
            },
            inputs={"clip": src.sha256, "audio": audio_sha},
        )
        state.inputs |= {"clip": r.object_path(src.sha256), "audio": audio_file}
        return r.output(state, recipe)


register(Lipsync())
