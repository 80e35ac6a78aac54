"""`first-restyle` and `last-restyle`: image to image. The frame a shot takes from another
shot, made into another look with a prompt and references (the winter frame made spring:
`motion.first: {frame: s030.last, restyle: {prompt: …}}`). Made once (it is an input, not a
take to pick), by the provider of `providers.restyle`; `local` draws a previz of it."""

from __future__ import annotations

from typing import Any

from vfbuild.media.contract import Contract
from vfbuild.recipe import make_recipe
from vfbuild.spec.models import Film, Restyle, Shot
from vfbuild.steps import register
from vfbuild.steps.base import STALE, Resolution, Step, StepState
from vfbuild.store import layout


def restyle_of(shot: Shot, role: str) -> Restyle | None:
    link = shot.motion.link(role)
    return None if link is None else link.restyle


class RestyleStep(Step):
    slot = "restyle"
    tier = "draft"
    kind = "image"
    contract = Contract("image")
    output_dir = layout.SOURCE_IMAGES
    edit_material = False

    def __init__(self, role: str, order: int) -> None:
        self.role = role
        self.name = f"{role}-restyle"  # type: ignore[misc]
        self.order = order  # type: ignore[misc]
        self.upstream = role  # type: ignore[misc]

    def applies(self, film: Film, shot: Shot) -> bool:
        return restyle_of(shot, self.role) is not None

    def resolve(self, r: Resolution, shot: Shot | None) -> StepState:
        from vfbuild.spec.prompt import keyframe_prompt, normalize, read_text

        assert shot is not None
        spec = restyle_of(shot, self.role)
        assert spec is not None
        state = StepState(shot.id, self.name, STALE)
        src = r.output_artifact(shot, self.role, state)
        if src is None:
            return state
        # A character without a reference image shows nothing (vf check says so).
        named = [
            r.film.characters[c].reference if c in r.film.characters else c for c in spec.references
        ]
        refs = [f for f in named if f is not None]
        prompt = normalize(read_text(r.root, spec.prompt)) or keyframe_prompt(r.film, shot, r.root)
        settings: dict[str, Any] = {
            "strength": spec.strength,
            "provider_settings": r.tier_settings(self.name, "draft"),
        }
        if r.provider(self.name).labels:
            settings["label"] = shot.id
        recipe = make_recipe(
            **r.made_by(self.name, "draft"),
            tier="draft",
            settings=settings,
            inputs={"image": src.sha256, "references": [r.input_sha(f) for f in refs]},
            prompt=prompt,
            seed=spec.seed if spec.seed is not None else shot.keyframe.seed,
        )
        state.inputs = {
            "image": r.object_path(src.sha256),
            "references": [r.root / f for f in refs],
        }
        return r.output(state, recipe)


register(RestyleStep("first", 13))
register(RestyleStep("last", 15))
