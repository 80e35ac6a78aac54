"""The edit is a build too: each shot's segment is its own job; the film is joined from them
without re-encoding, its sound encoded once over the whole timeline."""

from __future__ import annotations

import shutil
from pathlib import Path

import av
import pytest

import vfbuild
from tests.edit.cut import IDS, framemd5, make_cut_film, shots_yaml

# A new edit version has subtitles of its own (s050 has a line).
SUBS = {"_subtitles-srt subtitles", "_subtitles-vtt subtitles"}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_cut_film(tmp_path_factory.mktemp("cut") / "film")


def _film(root: Path) -> Path:
    report = vfbuild.open(root).build()
    assert report.ok and report.film is not None
    return root / report.film


def test_a_new_pick_makes_that_shots_segment_and_the_join_only(built: Path, tmp_path: Path) -> None:
    film = tmp_path / "film"
    shutil.copytree(built, film)
    vfbuild.open(film).pick("s030", "draft", 2)
    report = vfbuild.open(film).build()
    assert report.ok, report.errors
    # The shot's own steps after its pick, its segment and the join: no other segment.
    assert set(report.made) == {"s030 final", "s030 upscale", "s030 segment", "edit"} | SUBS
    assert report.film is not None
    incremental = framemd5(film / report.film)

    fresh = _film(make_cut_film(tmp_path / "fresh", draft_take=2))
    assert incremental == framemd5(fresh)
    assert incremental != framemd5(_film(built))  # the pick did change the picture


def test_reordering_shots_joins_again_and_cuts_no_segment(built: Path, tmp_path: Path) -> None:
    film = tmp_path / "film"
    shutil.copytree(built, film)
    before = framemd5(_film(film))
    order = ["s040", "s010", "s020", "s030", "s060", "s050"]
    (film / "shots.yaml").write_text(shots_yaml(order))
    report = vfbuild.open(film).build()
    assert report.ok and set(report.made) == {"edit"} | SUBS  # the lines moved too
    after = framemd5(film / str(report.film))
    assert sorted(after) == sorted(before) and after != before


def test_picture_and_sound_last_the_film_within_a_frame_after_six_cuts(built: Path) -> None:
    path = _film(built)
    with av.open(str(path)) as c:
        v, a = c.streams.video[0], c.streams.audio[0]
        assert v.duration is not None and a.duration is not None
        video = float(v.duration * v.time_base)
        audio = float(a.duration * a.time_base)
        rates = {v.average_rate}
        frames = sum(1 for _ in c.demux(v) if _.size)
    assert frames == round(sum([0.5, 0.75, 0.5, 1.0, 0.5, 0.625]) * 24)
    assert video == pytest.approx(frames / 24, abs=1e-6)
    assert abs(audio - video) < 1 / 24
    assert rates == {24}


def test_segments_have_no_sound_and_grain_of_their_own(built: Path) -> None:
    segments = sorted((built / "06_Edit/segments").glob("*_v001.mp4"))
    assert [p.name.split("_")[0] for p in segments] == IDS
    seeds = set()
    for p in segments:
        with av.open(str(p)) as c:
            assert not c.streams.audio
    lock = (built / "locks" / "s010.yaml").read_text()
    assert "segment:" in lock
    for sid in IDS:
        out = vfbuild.open(built).project.locks.output(sid, "segment")
        assert out is not None
        seeds.add(out.recipe["seed"])
    assert len(seeds) == len(IDS)


def test_a_rough_cut_is_at_the_draft_size_unless_the_film_asks(tmp_path: Path) -> None:
    from tests.edit.cut import HEAD

    film = tmp_path / "film"
    film.mkdir()
    text = shots_yaml()[len(HEAD) :]
    (film / "shots.yaml").write_text(
        HEAD
        + text.replace("    dialogue: {audio: 04_Audio/line.wav, line: Spring is coming.}\n", "")
    )
    report = vfbuild.open(film).build(tier="draft")
    assert report.ok and report.rough and report.film is not None
    with av.open(str(film / report.film)) as c:
        assert (c.streams.video[0].width, c.streams.video[0].height) == (64, 36)
    (film / "shots.yaml").write_text(
        HEAD
        + "  rough: delivery\n"
        + text.replace("    dialogue: {audio: 04_Audio/line.wav, line: Spring is coming.}\n", "")
    )
    report = vfbuild.open(film).build(tier="draft")
    assert report.ok and report.film is not None
    with av.open(str(film / report.film)) as c:
        assert (c.streams.video[0].width, c.streams.video[0].height) == (128, 72)
