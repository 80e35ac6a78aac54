"""`vf plan` on a fresh clone says which stale takes the film's remote cache already has: they
are fetched by the build, not made nor paid, and not counted as takes to make."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import copy_film
from tests.e2e.film import make_film, vf


def test_plan_counts_the_takes_the_remote_has(tmp_path: Path) -> None:
    a = make_film(tmp_path / "a")
    vf(a, "remote", "add", "team", (tmp_path / "nas").as_uri())
    vf(a, "build", "--tier", "draft", "s010")
    vf(a, "push", "--all")

    b = copy_film(a, tmp_path / "b")
    assert not (b / ".vf").exists()
    doc = json.loads(vf(b, "plan", "--tier", "draft", "--json").stdout)
    rows = {(r["shot"], r["step"]): r for r in doc["steps"]}
    kf = rows[("s010", "keyframe")]
    assert kf["status"] == "stale" and kf["from_remote"] == 2 and kf["to_make"] == 0
    assert "2 from the remote team: no payment" in kf["reasons"]
    assert rows[("s020", "keyframe")]["from_remote"] == 0  # never pushed: made
    assert rows[("s020", "keyframe")]["to_make"] == 2
    assert doc["from_remote"] == 2
    text = vf(b, "plan", "--tier", "draft").stdout
    assert "+2 from remote" in text and "2 from the remote cache (no payment)" in text

    # The build fetches exactly those.
    run = vf(b, "build", "--tier", "draft", "s010")
    assert run.stdout.count("fetched s010 keyframe") == 2, run.stdout

    # Nothing stale is on the remote any more: a plan without it says nothing of it.
    again = vf(b, "plan", "--tier", "draft").stdout
    assert "from remote" not in again
