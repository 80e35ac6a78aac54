"""Small films for the finishing tests, built through the library as a script would."""

from __future__ import annotations

from pathlib import Path

import vfbuild


def build_to_final(film: Path) -> vfbuild.Film:
    """Build `film` as a user does: a rough cut, pick the keyframes (take 1), draft takes, pick
    the drafts (take 2 where there is one), a rough cut of them, then the finals and the
    finished edit. Every step of the way must build cleanly."""
    f = vfbuild.open(film)
    shots = [s.id for s in f.project.film.shots]
    for tier, step in (("draft", "keyframe"), ("draft", "draft")):
        report = f.build(tier=tier)
        assert report.ok, [e.render() for e in report.errors]
        f = vfbuild.open(film)
        for shot in shots:
            takes = f.project.film.shot(shot)
            n = takes.keyframe.takes if step == "keyframe" else takes.motion.takes
            f.pick(shot, step, 1 if step == "keyframe" else min(2, n))
        f = vfbuild.open(film)
    for tier in ("draft", "final"):
        report = f.build(tier=tier)
        assert report.ok, [e.render() for e in report.errors]
        f = vfbuild.open(film)
    assert report.ok, [e.render() for e in report.errors]
    return vfbuild.open(film)
