"""`upscale`: the final, once, to the film's delivery size (upscale ONCE)."""

from __future__ import annotations

from vfbuild.media.contract import Contract
from vfbuild.recipe import make_recipe
from vfbuild.spec.models import Shot
from vfbuild.steps import register
from vfbuild.steps.base import STALE, Resolution, Step, StepState
from vfbuild.store import layout


class Upscale(Step):
    name = "upscale"
    contract = Contract("video", size="at_least", length="clip")
    order = 40
    slot = "upscale"
    billed_by_seconds = True
    output_dir = layout.UPSCALED
    finished = True
    upstream = "final"

    def resolve(self, r: Resolution, shot: Shot | None) -> StepState:
        assert shot is not None
        state = StepState(shot.id, self.name, STALE)
        src = r.output_artifact(shot, self.upstream, state)
        if src is None:
            return state
        w, h = r.delivery_size()
        recipe = make_recipe(
            **r.made_by(self.name),
            tier="final",
            settings={
                "width": w,
                "height": h,
                "provider_settings": r.tier_settings(self.name, "final"),
            },
            inputs={"clip": src.sha256},
        )
        state.inputs["clip"] = r.object_path(src.sha256)
        return r.output(state, recipe)


register(Upscale())
