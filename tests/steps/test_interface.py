"""The step interface, held to its word: a step written here, with nothing but the public
interface (`vfbuild.steps`), plans, builds, versions, no-ops and shows in `vf status`, with no
other file of vfbuild changed. It makes a contact sheet of a shot's keyframe takes."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

import vfbuild
from vfbuild import steps
from vfbuild.cli import main
from vfbuild.providers.base import InputFiles, MakeContext
from vfbuild.recipe import make_recipe
from vfbuild.spec.models import Shot
from vfbuild.steps import STALE, WAITING, Resolution, Step, StepState

THUMB = 64


class ContactSheetMaker:
    """Makes a contact sheet with Pillow: free, offline and the same bytes every time."""

    name = "contact-sheet"
    paid = False
    deterministic = True
    holds_slot = False
    labels = False
    ledgered = False
    declares_cost = False
    versions_early = False
    by_hand = False

    def model(self, step: str, configured: str | None) -> str:
        return "grid"

    def engine(self, step: str) -> dict[str, Any]:
        return {"pillow": Image.__version__}

    def ext(self, step: str) -> str:
        return ".png"

    def units(self, step: str, seconds: float | None) -> tuple[str, float]:
        return ("image", 1.0)

    def make(self, recipe: dict[str, Any], inputs: InputFiles, out: Path, ctx: MakeContext) -> None:
        takes = inputs["takes"]
        assert isinstance(takes, list)
        sheet = Image.new("RGB", (THUMB * len(takes), THUMB), "black")
        for i, path in enumerate(takes):
            with Image.open(path) as im:
                sheet.paste(im.convert("RGB").resize((THUMB, THUMB)), (i * THUMB, 0))
        sheet.save(out, format="PNG")


class Contact(Step):
    name = "contact"
    order = 15  # after the keyframe takes, before the draft
    kind = "image"
    tier = "draft"
    upstream = "keyframe"
    output_dir = "03_Generations/contact"
    edit_material = False  # not a shot's picture in the edit

    def maker(self) -> ContactSheetMaker:
        return ContactSheetMaker()

    def resolve(self, r: Resolution, shot: Shot | None) -> StepState:
        assert shot is not None
        state = StepState(shot.id, self.name, STALE)
        keyframes = r.resolve(shot.id, "keyframe")
        arts = [r.artifact(j.key) for j in keyframes.jobs if j.from_spec]
        if not arts or any(a is None for a in arts):
            state.status, state.reasons = WAITING, ["waits for every keyframe take"]
            return state
        shas = [a.sha256 for a in arts if a is not None]
        recipe = make_recipe(
            **r.made_by(self.name),
            tier="final",
            settings={"thumb": THUMB},
            inputs={"takes": shas},
        )
        state.inputs["takes"] = [r.object_path(s) for s in shas]
        return r.output(state, recipe)


@pytest.fixture
def contact_step() -> Iterator[Step]:
    step = steps.register(Contact())
    yield step
    steps.unregister(step.name)


def _vf(film: Path, *args: str, capsys: pytest.CaptureFixture[str]) -> str:
    code = main(["-C", str(film), *args])
    out = capsys.readouterr()
    assert code == 0, out.err
    return out.out


def test_a_step_added_by_a_module_plans_builds_versions_and_no_ops(
    contact_step: Step, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.e2e.film import make_film

    film = make_film(tmp_path / "film")
    plan = _vf(film, "plan", "--tier", "draft", capsys=capsys)
    assert re.search(r"^s010\s+contact\s+waiting", plan, re.M), plan

    report = vfbuild.open(film).build(tier="draft")
    assert report.ok, report.errors
    assert {"s010 contact", "s020 contact", "s030 contact"} <= set(report.made)
    sheet = film / "03_Generations/contact/s010_contact_v001.png"
    with Image.open(sheet) as im:
        assert im.size == (2 * THUMB, THUMB)  # s010 has two keyframe takes
    lock = (film / "locks" / "s010.yaml").read_text()
    assert "contact:" in lock  # the lock records its output, as any step's

    again = vfbuild.open(film).build(tier="draft")
    assert again.made == () and again.ok
    status = _vf(film, "status", capsys=capsys)
    assert re.search(r"^s010\s+contact\s+done\s+v001", status, re.M), status

    # One more keyframe take: a new contact sheet, a new version; the old one is kept.
    shots = film / "shots.yaml"
    shots.write_text(shots.read_text().replace("takes: 2, seed: 20", "takes: 3, seed: 20"))
    report = vfbuild.open(film).build(tier="draft")
    assert "s020 contact" in report.made and "s010 contact" not in report.made
    assert (film / "03_Generations/contact/s020_contact_v001.png").exists()
    with Image.open(film / "03_Generations/contact/s020_contact_v002.png") as im:
        assert im.size == (3 * THUMB, THUMB)


def test_the_registry_is_in_golden_rule_order() -> None:
    names = [s.name for s in steps.registered()]
    # continuity's steps (a frame of another shot, restyled) come before the draft reads them
    assert names == [
        "keyframe", "first", "first-restyle", "last", "last-restyle",
        "draft", "final", "upscale", "voice", "lipsync", "music", "segment", "mix", "edit",
        "subtitles", "delivery", "cover",
    ]  # fmt: skip
    assert steps.picked_names() == ("keyframe", "draft", "voice", "music")
    assert [s.name for s in steps.film_steps()][:4] == ["music", "segment", "mix", "edit"]
