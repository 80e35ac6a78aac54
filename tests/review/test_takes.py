"""`Film.takes()` and the sheet: current and earlier versions, picks in force and out of date."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.film import vf
from tests.review.conftest import take_file
from vfbuild import api
from vfbuild.fsutil import sha256_file
from vfbuild.review.sheet import sheet


def test_earlier_versions_and_an_out_of_date_pick(film: Path) -> None:
    api.open(film).pick("s010", "keyframe", 2)
    shots = film / "shots.yaml"
    shots.write_text(shots.read_text().replace("subject: yellow car", "subject: red car"))
    vf(film, "build", "--tier", "draft", "s010")

    rows = [r for r in api.open(film).takes(["s010"]) if r.step == "keyframe"]
    current = [r for r in rows if r.current]
    earlier = [r for r in rows if not r.current]
    assert [(r.version, r.take) for r in current] == [(2, t) for t in (1, 2, 3, 4)]
    assert [(r.version, r.take) for r in earlier] == [(1, t) for t in (1, 2, 3, 4)]
    assert all("red car" in (r.prompt or "") for r in current)
    # An earlier take is traced to its recipe through the store: its seed, prompt, maker.
    for r in earlier:
        assert r.file == take_file(film, r.take).relative_to(film).as_posix()
        assert r.sha256 == sha256_file(take_file(film, r.take))
        assert r.seed == 9 + r.take and "yellow car" in (r.prompt or "")
        assert r.provider == "local" and r.key is not None
    assert [(r.version, r.take) for r in rows if r.picked] == [(1, 2)]

    data = sheet(api.open(film))
    keyframe = data["shots"][0]["steps"][0]
    assert keyframe["pick"] == {"take": 2, "version": 1, "out_of_date": True}
    assert [g["version"] for g in keyframe["earlier"]] == [1]
    assert data["counts"]["out_of_date"] == 1
    # The draft was made from the pick in force: the shot now waits for a draft pick.
    assert data["shots"][0]["waits_for"] == {
        "step": "draft",
        "who": "you",
        "text": "pick a draft take",
    }

    # Picking an earlier version's take is `vf pick --version`, through the same call.
    api.open(film).pick("s010", "keyframe", 3, version=1)
    again = sheet(api.open(film))["shots"][0]["steps"][0]
    assert again["pick"] == {"take": 3, "version": 1, "out_of_date": True}
    assert [t["take"] for g in again["earlier"] for t in g["takes"] if t["picked"]] == [3]


def test_a_take_not_made_has_no_file(film: Path) -> None:
    rows = [r for r in api.open(film).takes() if r.name == "s020"]
    assert rows and all(r.file is None and r.sha256 is None for r in rows)
    assert {r.step for r in rows} == {"keyframe"}
