"""The models of issue 18 as a user meets them in `vf plan` and `vf build`: a model's own clip
length is what the plan prices and what the build holds the take to (fal's Veo 3.1 makes 4, 6
or 8 s; a 1 s shot is a 4 s clip, billed as 4 s)."""

from __future__ import annotations

from pathlib import Path

from ruamel.yaml import YAML

from tests.e2e.remote import remote_film

VEO = "fal-ai/veo3.1/image-to-video"


def test_a_veo_draft_is_priced_and_made_at_its_own_length(tmp_path: Path) -> None:
    with remote_film(tmp_path, "fal", slots=("video",)) as film:
        doc = YAML().load(film.root / "shots.yaml")
        doc["providers"]["video"] = {"use": "fal", "model": VEO, "base_url": film.fake.url}
        YAML().dump(doc, film.root / "shots.yaml")
        film.vf("build", "--tier", "draft")  # local keyframes
        film.pick_all("keyframe")
        takes, cost = film.planned("--tier", "draft")
        assert takes > 0 and round(cost, 4) == round(takes * 4 * 0.20, 4)  # 4 s at $0.20/s
        film.vf("build", "--tier", "draft")
        assert film.fake.paid_jobs == takes
        assert {j.input["duration"] for j in film.fake.jobs.values()} == {"4s"}
        assert {j.seconds for j in film.fake.jobs.values()} == {4.0}
        assert film.ledger_total() == round(cost, 4)
