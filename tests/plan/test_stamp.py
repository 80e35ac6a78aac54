"""The no-op stamp: what it sees change, what it ignores, and when it refuses to be written."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from vfbuild.plan import stamp

ARGS = stamp.args_key("final", False, None)


def aged(root: Path, seconds: float = 60) -> None:
    """Every file and folder of the film made `seconds` ago (as after a quiet minute)."""
    then = time.time() - seconds
    for dirpath, dirs, files in os.walk(root):
        for name in [*files, *dirs]:
            os.utime(Path(dirpath) / name, (then, then))
    os.utime(root, (then, then))


@pytest.fixture
def film(tmp_path: Path) -> Path:
    root = tmp_path / "film"
    for rel, text in {
        "shots.yaml": "film: {title: T}\n",
        "prompts/s010.txt": "a car\n",
        "references/car.png": "png",
        "locks/s010.yaml": "schema: 1\n",
        "04_Audio/line.wav": "wav",
        "01_Source_Images/s010_keyframe_v001_t01.png": "kf",
        "03_Generations/v1_exploration/s010_draft_v001_t01.mp4": "clip",
        "06_Edit/T_v001.mp4": "edit",
        ".vf/objects/ab/abcd": "obj",
        ".vf/recipes/index.log": "k abcd .png 3\n",
        ".vf/journal/.keep": "",
        "prompts.txt": "log\n",
        "ledger.csv": "time,cost\n",
    }.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    aged(root)
    return root


def digest(root: Path, args: tuple = ARGS, *, contents: bool = True) -> str:
    return stamp.World(root, args, contents=contents).digest


CHANGES = {
    "a prompt edited (same size)": lambda r: (r / "prompts/s010.txt").write_text("a cat\n"),
    "shots.yaml touched": lambda r: os.utime(r / "shots.yaml"),
    "a reference added": lambda r: (r / "references/road.png").write_text("png"),
    "a lock edited": lambda r: (r / "locks/s010.yaml").write_text("schema: 1\n# picked\n"),
    "dialogue replaced": lambda r: (r / "04_Audio/line.wav").write_text("WAV"),
    "a layout file deleted": lambda r: (
        r / "03_Generations/v1_exploration/s010_draft_v001_t01.mp4"
    ).unlink(),
    "a keyframe deleted": lambda r: (r / "01_Source_Images/s010_keyframe_v001_t01.png").unlink(),
    "a polished keyframe dropped in": lambda r: (
        r / "01_Source_Images/s010_keyframe_v001_t01_polished.png"
    ).write_text("p"),
    "an object deleted": lambda r: (r / ".vf/objects/ab/abcd").unlink(),
    "the recipe index grew": lambda r: (r / ".vf/recipes/index.log").write_text("k a .png 3\nj"),
    "a job journalled": lambda r: (r / ".vf/journal/k.json").write_text("{}"),
    "a build running (or killed)": lambda r: (r / ".vf/build.running").touch(),
    "a file in the inbox": lambda r: (
        (r / "inbox/s010").mkdir(parents=True),
        (r / "inbox/s010/t1.png").write_text("x"),
    ),
}


@pytest.mark.parametrize("contents", [True, False], ids=["build", "status"])
@pytest.mark.parametrize("change", sorted(CHANGES))
def test_what_a_no_op_depends_on_changes_the_world(film: Path, change: str, contents: bool) -> None:
    before = digest(film, contents=contents)
    assert digest(film, contents=contents) == before  # stable
    CHANGES[change](film)
    assert digest(film, contents=contents) != before


@pytest.mark.parametrize("contents", [True, False], ids=["build", "status"])
def test_a_polished_keyframe_edited_in_place_changes_the_world(film: Path, contents: bool) -> None:
    polished = film / "01_Source_Images/s010_keyframe_v001_t01_polished.png"
    polished.write_text("p1")
    aged(film)
    before = digest(film, contents=contents)
    polished.write_text("p2")
    assert digest(film, contents=contents) != before


def test_a_take_changed_in_place_changes_only_the_world_of_the_answers_that_read_it(
    film: Path,
) -> None:
    """A build checks its takes' bytes (`plan.integrity`); status, plan and check read only
    which takes are there, and keep their stamps."""
    take = film / "03_Generations/v1_exploration/s010_draft_v001_t01.mp4"
    build, names = digest(film), digest(film, contents=False)
    assert names != build  # two worlds: a stamp of one is never replayed as the other
    take.write_text("CLIP, edited in place")
    assert digest(film) != build
    assert digest(film, contents=False) == names


def test_the_environment_and_the_arguments_are_part_of_the_world(
    film: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = digest(film)
    assert digest(film, stamp.args_key("draft", False, None)) != before
    assert digest(film, stamp.args_key("final", True, None)) != before
    assert digest(film, stamp.args_key("final", False, ["s010"])) != before
    monkeypatch.setenv("VF_FFMPEG", "/usr/bin/ffmpeg")
    assert digest(film) != before
    monkeypatch.delenv("VF_FFMPEG")
    monkeypatch.setenv("HOME_OF_SOMETHING_ELSE", "x")  # not read by vfbuild
    assert digest(film) == before


def test_what_builds_append_or_cache_is_not_part_of_it(film: Path) -> None:
    before = digest(film)
    with open(film / "prompts.txt", "a") as f:
        f.write("more\n")
    with open(film / "ledger.csv", "a") as f:
        f.write("row\n")
    (film / ".vf/cache").mkdir()
    (film / ".vf/cache/states.pickle").write_bytes(b"x")
    (film / ".vf/doit-state.json").write_text("{}")
    assert digest(film) == before
    # An output file rewritten in place is seen (its stat): the build checks it (integrity).
    (film / "06_Edit/T_v001.mp4").write_text("edit")
    assert digest(film) != before


def test_replay_needs_the_same_world_and_record_refuses_a_moving_or_racy_one(film: Path) -> None:
    world = stamp.World(film, ARGS)
    assert stamp.replay(film, world) is None  # no stamp yet
    stamp.record(film, world, stamp.World(film, ARGS), ["vf build: T, 1 shot(s), tier final", "x"])
    assert stamp.replay(film, stamp.World(film, ARGS)) == [
        "vf build: T, 1 shot(s), tier final",
        "x",
    ]
    (film / "prompts/s010.txt").write_text("a cat\n")
    moved = stamp.World(film, ARGS)
    assert stamp.replay(film, moved) is None
    # the world changed during the build: no stamp (and the old one is gone)
    stamp.record(film, world, moved, ["y"])
    assert not (film / stamp.STAMP).exists()
    # a file changed a moment ago could change again within the same mtime tick: no stamp
    now = stamp.World(film, ARGS)
    stamp.record(film, now, stamp.World(film, ARGS), ["z"])
    assert not (film / stamp.STAMP).exists()
    aged(film)
    quiet = stamp.World(film, ARGS)
    stamp.record(film, quiet, stamp.World(film, ARGS), ["z"])
    assert stamp.replay(film, stamp.World(film, ARGS)) == ["z"]


def test_a_broken_stamp_is_only_a_missing_one(film: Path) -> None:
    (film / stamp.STAMP).parent.mkdir(parents=True, exist_ok=True)
    bad_lines = json.dumps({"world": digest(film), "lines": [1]})
    for text in ("{", "[]", '{"world": 1}', bad_lines):
        (film / stamp.STAMP).write_text(text)
        assert stamp.replay(film, stamp.World(film, ARGS)) is None
