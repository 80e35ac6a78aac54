"""`final`: the picked draft's recipe at the final tier (same prompt, seed and keyframe), made
once: generate at full quality only what was tested and picked at the low tier."""

from __future__ import annotations

from vfbuild.errors import FrozenError
from vfbuild.media.contract import Contract
from vfbuild.spec.models import Shot
from vfbuild.steps import register
from vfbuild.steps.base import STALE, WAITING, Resolution, Step, StepState
from vfbuild.steps.draft import keyframe_file, pinned_inputs
from vfbuild.store import layout


class Final(Step):
    name = "final"
    contract = Contract("video", size="aspect", length="asked")
    order = 30
    slot = "video"
    billed_by_seconds = True
    output_dir = layout.FINAL
    upstream = "draft"

    def resolve(self, r: Resolution, shot: Shot | None) -> StepState:
        assert shot is not None
        state = StepState(shot.id, self.name, STALE)
        pick = r.locks.pick(shot.id, self.upstream)
        if pick is None:
            if r.frozen:
                raise FrozenError(f"{shot.id}: no {self.upstream} pick in locks/{shot.id}.yaml")
            if shot.motion.first is not None:  # continuity: its draft may wait for a frame
                if r.resolve(shot.id, self.upstream).status == WAITING:
                    state.status, state.reasons = WAITING, [f"waits for {self.upstream}"]
                    return state
            elif r.locks.pick(shot.id, "keyframe") is None:
                state.status, state.reasons = WAITING, ["waits for the keyframe pick"]
                return state
            return r.needs_pick(shot, self.upstream, state)
        drafted = r.pinned_recipe(shot.id, self.upstream, pick.recipe)
        w, h = r.tier_size("final")
        settings = drafted.settings | {
            "width": w,
            "height": h,
            "provider_settings": r.tier_settings(self.name, "final"),
        }
        recipe = drafted.replace(tier="final", settings=settings, **r.made_by(self.name, "final"))
        state.inputs["keyframe"] = keyframe_file(r, shot, pick.recipe["inputs"]["keyframe"])
        pinned_inputs(r, shot, pick.recipe["inputs"], state)
        return r.output(state, recipe)


register(Final())
