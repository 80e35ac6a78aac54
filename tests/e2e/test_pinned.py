"""A pinned pick is remade by the recipe that made it, not by the slot's provider of today.

A fresh clone of a film (its locks pin takes `local` made, no store) whose keyframe and video
slots moved to fal: the pinned keyframes and drafts are remade locally (free, the same bytes),
fal makes the new takes and the finals, the build goes to the end, and `vf plan`'s estimate is
what the ledger records. A pick fal made cannot be remade (paid, other bytes): the plan says
so, and the build sends nothing for it and names no flag the user did not give."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from ruamel.yaml import YAML

from tests.conftest import copy_film
from tests.e2e.film import make_film, vf
from tests.e2e.remote import planned
from tests.fakes.base import Faults
from tests.fakes.fal import KEYS, FalFake
from vfbuild.store.ledger import Ledger

SHOTS = ("s010", "s020", "s030")


def _set_slots(root: Path, providers: dict[str, dict[str, object]]) -> None:
    yaml = YAML()
    doc = yaml.load(root / "shots.yaml")
    doc["providers"] = providers
    yaml.dump(doc, root / "shots.yaml")


def _pick_all(root: Path, step: str, take: int, env: dict[str, str] | None = None) -> None:
    for sid in SHOTS:
        vf(root, "pick", sid, step, str(take), env=env)


@contextlib.contextmanager
def _fal() -> Iterator[tuple[FalFake, dict[str, str]]]:
    with FalFake(latency=0.05, faults=Faults(retry_after="0")) as fake:
        yield fake, {**KEYS, "VF_FAL_BASE_URL": fake.url}


def _ledger_total(root: Path) -> float:
    return round(sum(float(r.cost or 0) for r in Ledger(root).rows()), 4)


def test_a_fresh_clone_whose_slots_moved_to_fal_remakes_its_local_picks_locally(
    tmp_path: Path,
) -> None:
    made = make_film(tmp_path / "made")
    vf(made, "build", "--tier", "draft")
    _pick_all(made, "keyframe", 2)
    vf(made, "build", "--tier", "draft")
    _pick_all(made, "draft", 1)
    vf(made, "build")  # the locks now pin local takes, as the example's do
    clone = copy_film(made, tmp_path / "clone")
    with _fal() as (fake, env):
        _set_slots(clone, {"keyframe": {"use": "fal"}, "video": {"use": "fal"}})
        plan = vf(clone, "plan", env=env).stdout
        _, estimate = planned(plan)
        assert "pinned s010 keyframe t02 is remade by local, which made it" in plan, plan
        assert "pinned s010 draft t01 is remade by local, which made it" in plan, plan
        # fal: two new keyframe takes, two new drafts and the final, per shot.
        assert estimate == round(3 * (2 * 0.04 + 2 * 0.25 + 0.45), 2), plan
        run = vf(clone, "build", "-j", "4", env=env)
        assert "error" not in run.stderr and "--frozen" not in run.stdout + run.stderr
        assert fake.paid_jobs == 15, run.stdout
        assert _ledger_total(clone) == estimate, run.stdout
        # The pinned takes came back with their pinned bytes, in the layout, made by local.
        for sid in SHOTS:
            for step in ("keyframe", "draft"):
                want = next((made / "03_Generations").rglob(f"{sid}_{step}_v001_t0*"))
                name = want.relative_to(made)
                if (made / "03_Generations/v2_selected" / want.name).exists():
                    assert (clone / name).read_bytes() == want.read_bytes()
        assert list((clone / "06_Edit").glob("*.mp4"))
        again = vf(clone, "build", env=env)
        assert "nothing to do" in again.stdout and fake.paid_jobs == 15


def test_a_pick_a_paid_provider_made_cannot_be_remade_and_the_plan_says_so(
    tmp_path: Path,
) -> None:
    made = make_film(tmp_path / "made")
    with _fal() as (fake, env):
        _set_slots(made, {"keyframe": {"use": "fal"}})
        vf(made, "build", "--tier", "draft", env=env)
        _pick_all(made, "keyframe", 1, env)
        paid = fake.paid_jobs
        clone = copy_film(made, tmp_path / "clone")
        _set_slots(clone, {"keyframe": {"use": "local"}})
        plan = vf(clone, "plan", "--tier", "draft", env=env).stdout
        assert (
            "blocked: pinned s010 keyframe t01 is not in the store and cannot be remade: fal, "
            "which made it, is paid and does not make the same bytes twice (sending it again "
            "would cost $0.04, for other bytes than the pin)" in plan
        ), plan
        takes, estimate = planned(plan)
        assert takes == {"local": 6} and estimate == 0, plan  # the new local takes only
        run = vf(clone, "build", "--tier", "draft", env=env, check=False)
        assert run.returncode == 1 and "Traceback" not in run.stderr, run.stderr
        assert "--frozen" not in run.stdout + run.stderr
        errors = [ln for ln in run.stderr.splitlines() if ln.startswith("error:")]
        assert len(errors) == 3, run.stderr
        assert all("cannot be made again" in e and "nothing was sent" in e for e in errors)
        assert "vf pick s010 keyframe N" in run.stderr
        assert fake.paid_jobs == paid and len(Ledger(clone).rows()) == paid  # the made clone's rows
        # The new local takes were made all the same.
        assert len(list((clone / "03_Generations").rglob("*_keyframe_v002_t0*.png"))) == 6
