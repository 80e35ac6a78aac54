"""Fallback against fal's fake: a take the first model refuses for good (a 422) is made by the
next provider of `fallback:`, paid once; a fault (a 5xx) is retried on the same provider."""

from __future__ import annotations

from pathlib import Path

from ruamel.yaml import YAML

from tests.e2e.remote import RemoteFilm, remote_film
from vfbuild.store.ledger import Ledger

SEEDANCE = "fal-ai/bytedance/seedance/v1/pro/image-to-video"
KLING = "fal-ai/kling-video/v2.1/standard/image-to-video"


def _with_fallback(film: RemoteFilm) -> None:
    yaml = YAML()
    doc = yaml.load(film.root / "shots.yaml")
    url = film.fake.url
    doc["providers"]["video"] = {
        "use": "fal",
        "base_url": url,
        "model": SEEDANCE,
        "timeout": 5.0,
        "fallback": [{"use": "fal", "base_url": url, "model": KLING, "timeout": 5.0}],
    }
    yaml.dump(doc, film.root / "shots.yaml")
    film.vf("build", "s010", "--tier", "draft")
    film.vf("pick", "s010", "keyframe", "1")


def test_a_refused_take_falls_back_to_the_next_provider_and_is_paid_once(tmp_path: Path) -> None:
    with remote_film(tmp_path, "fal", slots=("video",)) as film:
        _with_fallback(film)
        film.fake.refuse_models.add(SEEDANCE)  # type: ignore[attr-defined]
        out = film.vf("build", "s010", "--tier", "draft").stdout
        assert "refused it for good" in out and f"fal {KLING} makes it (fallback)" in out
        takes = 2
        assert film.fake.refused == takes  # type: ignore[attr-defined]
        assert film.fake.paid_jobs == takes  # the fallback's jobs only
        rows = Ledger(film.root).rows()
        assert len(rows) == takes and {r.model for r in rows} == {KLING}
        # priced as the fallback model (2 x 5 s billed x $0.05), not the refused one ($0.10/s)
        assert round(sum(float(r.cost or 0) for r in rows), 4) == 0.5
        # Built again: the takes are made; nothing is sent to either model.
        film.vf("build", "s010", "--tier", "draft")
        assert film.fake.refused == takes and film.fake.paid_jobs == takes  # type: ignore[attr-defined]
        assert len(Ledger(film.root).rows()) == takes
        # The lock says who made the picked take, and its final goes the same way.
        film.vf("pick", "s010", "draft", "1")
        lock = YAML(typ="safe").load((film.root / "locks/s010.yaml").read_text())
        assert lock["picks"]["draft"]["made_by"] == f"fal {KLING}"
        assert lock["picks"]["draft"]["recipe"]["model"] == SEEDANCE  # the spec's recipe


def test_a_fault_is_retried_on_the_same_provider_never_fallen_back(tmp_path: Path) -> None:
    with remote_film(tmp_path, "fal", slots=("video",)) as film:
        _with_fallback(film)
        film.fake.faults.force("create", "503", "503")
        out = film.vf("build", "s010", "--tier", "draft").stdout
        assert "fallback" not in out
        assert ("create", "503") in film.fake.faults.injected
        assert film.fake.refused == 0  # type: ignore[attr-defined]
        assert film.fake.paid_jobs == 2
        rows = Ledger(film.root).rows()
        assert len(rows) == 2 and {r.model for r in rows} == {SEEDANCE}
