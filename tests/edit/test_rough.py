"""A rough cut is made at the draft tier's size unless asked otherwise: `vf build --tier final`
(or `rough:` in the film) makes it at the final tier's, as a user runs it."""

from __future__ import annotations

import json
from pathlib import Path

import av

from tests.e2e.film import vf

FILM = """\
film:
  title: Rough Test
  fps: 24
  tiers: {draft: 64x36, final: 160x90}
  delivery: 192x108
  grain: 0.3
shots:
  - id: s010
    duration: 0.5
    keyframe: {shot: wide shot, subject: a lake, takes: 1, seed: 1}
    motion: {move: push-in, prompt: it moves, takes: 1}
  - id: s020
    duration: 0.5
    keyframe: {shot: close-up, subject: a boat, takes: 1, seed: 2}
    motion: {move: push-in, prompt: it moves, takes: 1}
"""


def _size(path: Path) -> tuple[int, int]:
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        return v.width, v.height


def _build(film: Path, *args: str) -> dict[str, object]:
    out: dict[str, object] = json.loads(vf(film, "build", "--json", *args).stdout)
    assert out["ok"] and out["rough"] and out["film"], out
    return out


def test_tier_final_makes_the_rough_cut_at_the_final_size(tmp_path: Path) -> None:
    film = tmp_path / "film"
    film.mkdir()
    (film / "shots.yaml").write_text(FILM)
    plain = _build(film)  # nothing picked: a rough cut of the keyframes, quick
    assert _size(film / str(plain["film"])) == (64, 36)

    plan = json.loads(vf(film, "plan", "--json", "--tier", "final").stdout)
    film_steps = {r["step"]: r["status"] for r in plan["steps"] if r["shot"] is None}
    assert film_steps["segment"] == "stale"  # asked for: a larger cut to make
    assert film_steps["edit"] == "waiting"  # for those segments

    final = _build(film, "--tier", "final")
    assert final["film"] != plain["film"]  # a new version, the draft-size one kept
    assert _size(film / str(final["film"])) == (160, 90)
    assert _size(film / str(plain["film"])) == (64, 36)
    assert {m for m in final["made"] if "keyframe" in str(m)} == set()  # only the cut

    again = _build(film, "--tier", "final")  # nothing changed: nothing made
    assert again["made"] == [] and again["film"] == final["film"]
    # Unasked again, the draft-size cut is the one the build has: it is made no second time.
    back = _build(film)
    assert back["film"] == plain["film"] and not any("segment" in str(m) for m in back["made"])

    (film / "shots.yaml").write_text(
        FILM.replace("  grain: 0.3\n", "  grain: 0.3\n  rough: final\n")
    )
    by_setting = _build(film)
    assert _size(film / str(by_setting["film"])) == (160, 90)
