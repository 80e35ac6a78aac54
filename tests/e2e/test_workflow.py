"""The golden-rule workflow end to end, running `vf` as a user would on copies of a tiny film."""

from __future__ import annotations

import re
import shutil
import stat
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from tests.conftest import copy_film
from tests.e2e.film import layout_files, make_film, vf
from vfbuild.fsutil import sha256_file
from vfbuild.media.probe import probe


def made_count(stdout: str) -> int:
    m = re.search(r"made (\d+) artifact", stdout)
    return int(m.group(1)) if m else 0


@pytest.fixture(scope="module")
def complete_film(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny film taken through every pick to a finished edit."""
    film = make_film(tmp_path_factory.mktemp("complete") / "film")
    vf(film, "build", "-j", "2")
    for shot in ("s010", "s020", "s030"):
        vf(film, "pick", shot, "keyframe", "2")
    vf(film, "build", "-j", "2")
    for shot in ("s010", "s020", "s030"):
        vf(film, "pick", shot, "draft", "1")
    vf(film, "build", "-j", "2")
    return film


def clone_built(src: Path, dest: Path) -> Path:
    """A copy of a built film, store and layout included (as on the machine that built it)."""
    shutil.copytree(src, dest, symlinks=True)
    return dest


def test_first_build_makes_keyframes_and_lists_picks(tmp_path: Path) -> None:
    film = make_film(tmp_path / "film")
    out = vf(film, "build").stdout
    for shot in ("s010", "s020", "s030"):
        for t in (1, 2):
            assert (
                film / f"03_Generations/v1_exploration/{shot}_keyframe_v001_t0{t}.png"
            ).is_file()
        assert f"`vf pick {shot} keyframe N`" in out
    assert "to go on, pick:" in out
    # the film can be watched already: a rough cut of unpicked keyframes held as stills
    assert "rough cut" in out and (film / "06_Edit/Tiny_Film_v001.mp4").is_file()
    assert not list((film / "03_Generations").glob("**/*_draft_*"))
    log = (film / "prompts.txt").read_text()
    assert log.count(" keyframe v001 ") == 6 and "yellow sports car" in log


def test_complete_film_plays_with_sound_rec709_and_the_right_length(complete_film: Path) -> None:
    edits = sorted((complete_film / "06_Edit").glob("Tiny_Film_v*.mp4"))
    info = probe(edits[-1])
    assert info.has_video and info.has_audio
    assert info.fps == pytest.approx(24, abs=0.01)
    assert (info.width, info.height) == (384, 216)
    assert (info.color_primaries, info.color_trc, info.color_space) == ("bt709", "bt709", "bt709")
    assert info.duration == pytest.approx(1 + 1.5 + 1, abs=3 / 24)
    for shot in ("s010", "s020", "s030"):
        assert (complete_film / f"03_Generations/v3_final/{shot}_final_v001.mp4").is_file()
        assert (complete_film / f"05_Upscaled/{shot}_upscale_v001.mp4").is_file()
        assert (complete_film / f"03_Generations/v2_selected/{shot}_draft_v001_t01.mp4").is_file()
        assert (complete_film / f"01_Source_Images/{shot}_keyframe_v001_t02.png").is_file()
    assert (complete_film / "05_Upscaled/s030_lipsync_v001.mp4").is_file()
    assert not (complete_film / "05_Upscaled/s010_lipsync_v001.mp4").exists()
    assert probe(complete_film / "05_Upscaled/s010_upscale_v001.mp4").width == 384


def test_noop_build_makes_nothing_and_starts_no_ffmpeg(complete_film: Path, tmp_path: Path) -> None:
    film = clone_built(complete_film, tmp_path / "film")
    from vfbuild.media.ffmpeg import ffmpeg_exe

    calls = tmp_path / "ffmpeg-calls.log"
    wrapper = tmp_path / "ffmpeg"
    wrapper.write_text(f'#!/bin/sh\necho "$@" >> {calls}\nexec {ffmpeg_exe()} "$@"\n')
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IEXEC)
    env = {"VF_FFMPEG": str(wrapper)}
    vf(film, "plan", env=env)  # lets vf learn this ffmpeg's version once
    calls.unlink(missing_ok=True)
    before = layout_files(film)
    out = vf(film, "build", env=env).stdout
    assert "nothing to do" in out and made_count(out) == 0
    assert not calls.exists(), f"a no-op build started ffmpeg: {calls.read_text()}"
    assert layout_files(film) == before
    assert "nothing to build" in vf(film, "plan", env=env).stdout


def test_a_quiet_film_answers_from_the_no_op_stamp_until_anything_changes(
    complete_film: Path, tmp_path: Path
) -> None:
    from tests.plan.test_stamp import aged

    film = clone_built(complete_film, tmp_path / "film")
    vf(film, "build")  # a clone has new inodes: one full no-op first
    aged(film)  # a quiet minute later
    first = vf(film, "build").stdout  # full path again (the stamp it saw was racy), then stamps
    again = vf(film, "-v", "build")
    assert "nothing changed since the last build that made nothing" in again.stderr
    assert again.stdout == first and "nothing to do" in first
    # a deleted take comes back, from the store
    take = film / "03_Generations/v2_selected/s010_draft_v001_t01.mp4"
    kept = take.read_bytes()
    take.unlink()
    out = vf(film, "-v", "build")
    assert "nothing changed" not in out.stderr
    assert take.read_bytes() == kept
    # an edited prompt makes its new takes
    aged(film)
    vf(film, "build")
    assert "nothing changed" in vf(film, "-v", "build").stderr
    shots = film / "shots.yaml"
    shots.write_text(shots.read_text().replace("the driver speaks", "the driver whispers"))
    out = vf(film, "build").stdout
    assert made_count(out) == 2 and "s030 draft" in out


def test_vf_plan_answers_from_its_stamp_until_anything_changes(
    complete_film: Path, tmp_path: Path
) -> None:
    from tests.plan.test_stamp import aged

    film = clone_built(complete_film, tmp_path / "film")
    shots = film / "shots.yaml"
    shots.write_text(shots.read_text().replace("the driver speaks", "the driver whispers"))
    aged(film)  # a quiet minute later
    first = vf(film, "plan").stdout
    assert "s030" in first and "2 take(s) to make" in first
    again = vf(film, "-v", "plan")
    assert "nothing changed since the last plan" in again.stderr and again.stdout == first
    other = vf(film, "-v", "plan", "--tier", "draft")  # other arguments: their own answer
    assert "nothing changed" not in other.stderr
    # the build's stamp and the plan's are kept apart, and a build makes the plan stale
    vf(film, "build")
    after = vf(film, "-v", "plan")
    assert "nothing changed" not in after.stderr
    assert "nothing to build: everything is up to date" in after.stdout


def test_a_build_of_draft_takes_works_out_the_edit_once(
    complete_film: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from vfbuild import steps
    from vfbuild.plan.graph import run_build
    from vfbuild.project import Project

    film = clone_built(complete_film, tmp_path / "film")
    shots = film / "shots.yaml"
    shots.write_text(shots.read_text().replace("the driver speaks", "the driver whispers"))
    calls: list[int] = []
    edit = steps.get("edit")
    real_edit = type(edit).resolve
    monkeypatch.setattr(
        type(edit), "resolve", lambda self, r, shot: calls.append(1) or real_edit(self, r, shot)
    )
    result = run_build(Project.open(film))
    assert sorted(result.events.made) == ["s030 draft t01", "s030 draft t02"]
    assert len(calls) == 1  # after the drafts, then kept (nothing written since)
    assert result.edit is not None and result.edit.status == "done"


def test_new_motion_prompt_makes_a_new_draft_version_and_waits_for_a_pick(
    complete_film: Path, tmp_path: Path
) -> None:
    film = clone_built(complete_film, tmp_path / "film")
    before = layout_files(film)
    shots = film / "shots.yaml"
    shots.write_text(
        shots.read_text().replace(
            "slow push-in on the lights", "slow push-in as snow drifts through the beams"
        )
    )
    plan = vf(film, "plan").stdout
    assert re.search(r"^s020\s+draft\s+stale", plan, re.M)
    assert not re.search(r"^s0[13]0\s+\w+\s+stale", plan, re.M)
    out = vf(film, "build").stdout
    after = layout_files(film)
    new = sorted(set(after) - set(before))
    assert new == [
        "03_Generations/v1_exploration/s020_draft_v002_t01.mp4",
        "03_Generations/v1_exploration/s020_draft_v002_t02.mp4",
    ], out
    assert all(after[k] == v for k, v in before.items())  # nothing earlier changed
    status = vf(film, "status").stdout
    assert re.search(r"s020 +draft .*\n.*pick is out of date", status), status
    header = (film / "prompts.txt").read_text().split("snow drifts")[0].splitlines()[-2]
    assert header.split()[1:4] == ["s020", "draft", "v002"], header

    vf(film, "pick", "s020", "draft", "2")
    out = vf(film, "build").stdout
    final = layout_files(film)
    new = sorted(set(final) - set(after))
    # edit v001: unpicked keyframes, v002: picked keyframes, v003: finished, v004: this one
    assert new == [
        "03_Generations/v2_selected/s020_draft_v002_t02.mp4",
        "03_Generations/v3_final/s020_final_v002.mp4",
        "05_Upscaled/s020_upscale_v002.mp4",
        "06_Edit/Tiny_Film_v004.mp4",
        "06_Edit/Tiny_Film_v004.otio",  # its timeline
        "06_Edit/Tiny_Film_v004.srt",
        "06_Edit/Tiny_Film_v004.vtt",
        "06_Edit/segments/s020_segment_v004.mp4",
    ], out
    # final, upscale, its segment, the join and its subtitles: no keyframe, draft or other shot
    assert made_count(out) == 6
    assert all(final[k] == v for k, v in after.items())


def test_more_takes_make_only_the_new_ones_and_a_revert_makes_nothing(
    complete_film: Path, tmp_path: Path
) -> None:
    film = clone_built(complete_film, tmp_path / "film")
    shots = film / "shots.yaml"
    original = shots.read_text()
    shots.write_text(original.replace("takes: 2\n      seed: 10", "takes: 3\n      seed: 10"))
    out = vf(film, "build").stdout
    assert made_count(out) == 1, out
    assert (film / "03_Generations/v1_exploration/s010_keyframe_v001_t03.png").is_file()

    shots.write_text(original.replace("yellow car", "red car"))
    assert made_count(vf(film, "build").stdout) == 2  # two new keyframe takes, nothing else
    shots.write_text(original)  # `git checkout shots.yaml`
    out = vf(film, "build").stdout
    assert made_count(out) == 0 and "nothing to do" in out


def test_changing_grain_rebuilds_only_the_segments_and_the_edit(
    complete_film: Path, tmp_path: Path
) -> None:
    film = clone_built(complete_film, tmp_path / "film")
    shots = film / "shots.yaml"
    shots.write_text(shots.read_text().replace("grain: 0.3", "grain: 0.1"))
    plan = vf(film, "plan").stdout
    stale = re.findall(r"^(\S+)\s+(\S+)\s+stale", plan, re.M)
    assert stale == [("film", "segment")], plan
    assert re.search(r"^film\s+edit\s+waiting", plan, re.M), plan
    out = vf(film, "build").stdout
    assert made_count(out) == 6  # the three segments, the join and its subtitles


def test_frozen_build_of_a_fresh_clone_reproduces_finals_and_edit(
    complete_film: Path, tmp_path: Path
) -> None:
    film = copy_film(complete_film, tmp_path / "clone")
    out = vf(film, "build", "--frozen", "-j", "2").stdout
    locks = YAML(typ="safe")
    for shot in ("s010", "s020", "s030"):
        lock = locks.load((film / "locks" / f"{shot}.yaml").read_text())
        for step, output in lock["outputs"].items():
            assert sha256_file(film / output["file"]) == output["sha256"], (shot, step)
            assert (film / output["file"]).read_bytes() == (
                complete_film / output["file"]
            ).read_bytes()
    film_lock = locks.load((film / "locks" / "_film.yaml").read_text())
    edit = film_lock["outputs"]["edit"]
    assert sha256_file(film / edit["file"]) == edit["sha256"]
    # --frozen made only what the locks pin: the picked takes, not the other takes
    assert not (film / "03_Generations/v1_exploration/s010_keyframe_v001_t01.png").exists()
    assert (film / "03_Generations/v1_exploration/s010_keyframe_v001_t02.png").exists()
    assert "film:" in out


def test_frozen_without_picks_fails_and_names_what_is_missing(tmp_path: Path) -> None:
    film = make_film(tmp_path / "film")
    proc = vf(film, "build", "--frozen", check=False)
    assert proc.returncode == 3
    assert "s010" in proc.stderr and "keyframe pick" in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    assert not (film / "03_Generations").exists()


def test_polished_keyframe_is_pinned_and_used_downstream(
    complete_film: Path, tmp_path: Path
) -> None:
    film = clone_built(complete_film, tmp_path / "film")
    picked = film / "01_Source_Images/s010_keyframe_v001_t02.png"
    from PIL import Image

    with Image.open(picked) as im:
        im.convert("L").convert("RGB").save(
            film / "01_Source_Images/s010_keyframe_v001_t02_polished.png"
        )
    out = vf(film, "build").stdout
    assert "polished keyframe" in out
    lock = YAML(typ="safe").load((film / "locks/s010.yaml").read_text())
    assert lock["picks"]["keyframe"]["polished"]["file"].endswith("_polished.png")
    assert (film / "03_Generations/v1_exploration/s010_draft_v002_t01.mp4").is_file()


def test_pick_errors_are_clear(complete_film: Path, tmp_path: Path) -> None:
    film = clone_built(complete_film, tmp_path / "film")
    for args, words in (
        (("pick", "s999", "keyframe", "1"), "no shot named"),
        (("pick", "s010", "keyframe", "9"), "no take 9"),
    ):
        proc = vf(film, *args, check=False)
        assert proc.returncode == 2 and words in proc.stderr, proc.stderr
        assert "Traceback" not in proc.stderr


def test_check_reports_file_line_col_and_exits_2(tmp_path: Path) -> None:
    film = make_film(tmp_path / "film")
    shots = film / "shots.yaml"
    shots.write_text(shots.read_text().replace("move: push-in", "move: push_in"))
    proc = vf(film, "check", check=False)
    assert proc.returncode == 2
    assert re.search(r"shots\.yaml:\d+:\d+: .*push_in", proc.stderr), proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout == ""
    proc = vf(film, "build", check=False)
    assert proc.returncode == 2 and not (film / ".vf" / "objects").exists()


def test_check_is_silent_on_a_good_film(tmp_path: Path) -> None:
    film = make_film(tmp_path / "film")
    proc = vf(film, "check")
    assert proc.stdout == "" and proc.stderr == ""
