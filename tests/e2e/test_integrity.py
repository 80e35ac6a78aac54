"""A store that checks itself: a flipped byte in a picked keyframe's store object is named by
`vf verify` (exit 1), refused by `vf build --frozen` (exit 3, even after a stamped no-op), and
set aside and made again by a plain `vf build` (the local renderer gives the same bytes); a
layout file replaced with other bytes is kept aside and linked again from the store; a damaged
take a paid provider made is refused, never sent again. `vf gc` removes only what nothing uses.
A shots.yaml nested 2000 levels deep is a `file:line:col` error, not an internal error."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator
from ruamel.yaml import YAML

from tests.conftest import REPO
from tests.e2e.film import make_film, vf
from tests.e2e.remote import remote_film
from vfbuild.fsutil import sha256_file
from vfbuild.plan.stamp import RACY_SECONDS
from vfbuild.store import vfdir


def _json(command: str, out: str) -> dict[str, object]:
    doc = json.loads(out)
    schema = json.loads((REPO / "schema" / "json" / f"{command}.schema.json").read_text())
    Draft202012Validator(schema).validate(doc)
    return doc  # type: ignore[no-any-return]


def flip_byte(path: Path, at: int = 400) -> None:
    """Change one byte of `path` in place, as a disk or an editor saving over it would."""
    os.chmod(path, 0o644)
    with open(path, "r+b") as f:
        f.seek(at)
        b = f.read(1)
        f.seek(at)
        f.write(bytes([b[0] ^ 0x01]))
    os.chmod(path, 0o444)


def settle() -> None:
    """Past the stamp's racy window: the next no-op build may answer from its stamp."""
    time.sleep(RACY_SECONDS + 0.1)


def keyframe_pick(film: Path) -> dict[str, object]:
    lock = YAML(typ="safe").load((film / "locks" / "s010.yaml").read_text())
    return lock["picks"]["keyframe"]  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def picked(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """s010 built to its final with its keyframe and draft picked."""
    film = make_film(tmp_path_factory.mktemp("integrity") / "film")
    vf(film, "build", "--tier", "draft", "s010")
    vf(film, "pick", "s010", "keyframe", "1")
    vf(film, "build", "--tier", "draft", "s010")
    vf(film, "pick", "s010", "draft", "1")
    vf(film, "build", "s010")
    return film


def _copy(film: Path, dest: Path) -> Path:
    """A copy that keeps the hard links between the store and the layout (`cp -a`)."""
    subprocess.run(["cp", "-a", str(film), str(dest)], check=True)
    return dest


def test_a_flipped_byte_in_a_picked_keyframe_is_found_refused_and_repaired(
    picked: Path, tmp_path: Path
) -> None:
    film = _copy(picked, tmp_path / "film")
    vf(film, "build", "s010")
    vf(film, "build", "--frozen", "s010")
    settle()
    assert "nothing to do" in vf(film, "build", "s010").stdout
    assert "nothing to do" in vf(film, "build", "--frozen", "s010").stdout  # from its stamp
    pick = keyframe_pick(film)
    sha = str(pick["sha256"])
    obj = film / vfdir.OBJECTS / sha[:2] / sha
    flip_byte(obj)
    damaged = sha256_file(obj)
    layout_file = film / str(pick["file"])
    assert sha256_file(layout_file) == damaged  # a hard link: the layout changed with it

    # --frozen refuses it, names it, and changes nothing.
    proc = vf(film, "build", "--frozen", "s010", check=False)
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert f"s010 keyframe t01: the pinned artifact {sha[:12]}… is damaged" in proc.stderr
    assert f"now hashes to {damaged[:12]}…" in proc.stderr and "hint:" in proc.stderr
    assert "nothing to do" not in proc.stdout and "Traceback" not in proc.stderr
    assert sha256_file(obj) == damaged and not (film / vfdir.DAMAGED).exists()

    # vf verify names the object and every layout file of it, and exits 1.
    proc = vf(film, "verify", check=False)
    assert proc.returncode == 1
    assert f"damaged: {vfdir.OBJECTS}/{sha[:2]}/{sha}: pinned object" in proc.stdout
    assert f"damaged: {pick['file']}: layout file (s010 keyframe t01)" in proc.stdout
    assert "01_Source_Images/s010_keyframe_v001_t01.png: layout file" in proc.stdout
    doc = _json("verify", vf(film, "verify", "--json", check=False).stdout)
    assert doc["ok"] is False
    assert {d["actual"] for d in doc["damaged"]} == {damaged}  # type: ignore[union-attr]

    # A plain build sets the damaged bytes aside and makes the take again: the same bytes.
    proc = vf(film, "build", "s010")
    assert f"its store object {sha[:12]}… was damaged" in proc.stdout
    assert "making it again" in proc.stdout and "made s010 keyframe t01" in proc.stdout
    assert sha256_file(obj) == sha and sha256_file(layout_file) == sha
    kept = film / vfdir.DAMAGED / f"{damaged}.png"
    assert sha256_file(kept) == damaged  # nothing is lost
    assert vf(film, "verify").returncode == 0
    assert vf(film, "build", "--frozen", "s010").returncode == 0


def test_a_layout_file_changed_in_place_is_kept_aside_and_restored(
    picked: Path, tmp_path: Path
) -> None:
    film = _copy(picked, tmp_path / "film")
    vf(film, "build", "s010")
    settle()
    assert "nothing to do" in vf(film, "build", "s010").stdout
    take = film / "03_Generations" / "v1_exploration" / "s010_keyframe_v001_t02.png"
    good = sha256_file(take)
    # An editor that saves by writing a new file and renaming it over the take.
    edited = take.with_name("edited.tmp")
    edited.write_bytes(take.read_bytes()[:-10] + b"0123456789")
    os.replace(edited, take)
    mine = sha256_file(take)
    proc = vf(film, "build", "s010")  # after a stamped no-op: the stamp sees the change
    said = (
        f"s010 keyframe t02: 03_Generations/v1_exploration/s010_keyframe_v001_t02.png was "
        f"changed in place; your file is kept as {vfdir.DAMAGED}/{mine}.png"
    )
    assert said in proc.stdout
    assert sha256_file(take) == good and take.stat().st_nlink > 1  # linked again
    assert sha256_file(film / vfdir.DAMAGED / f"{mine}.png") == mine
    assert not proc.stdout.count("  made ")  # nothing made again: the store had it


def test_a_damaged_take_a_paid_provider_made_is_refused_never_sent_again(
    tmp_path: Path,
) -> None:
    with remote_film(tmp_path, "fal", slots=("keyframe",)) as film:
        film.vf("build", "--tier", "draft", "s010")
        paid = film.fake.paid_jobs
        take = film.root / "03_Generations" / "v1_exploration" / "s010_keyframe_v001_t02.png"
        sha = sha256_file(take)
        flip_byte(film.root / vfdir.OBJECTS / sha[:2] / sha)
        proc = film.vf("build", "--tier", "draft", "s010", check=False)
        assert proc.returncode == 1, proc.stdout + proc.stderr
        assert f"s010 keyframe t02: its store object {sha[:12]}… is damaged" in proc.stderr
        assert "cannot make the same bytes again for free: it is not sent again" in proc.stderr
        assert film.fake.paid_jobs == paid
        assert (film.root / vfdir.OBJECTS / sha[:2] / sha).exists()  # left where it is
        assert film.vf("verify", check=False).returncode == 1


def test_gc_removes_only_what_nothing_uses(picked: Path, tmp_path: Path) -> None:
    film = _copy(picked, tmp_path / "film")
    objects = film / vfdir.OBJECTS
    before = {p.name for p in objects.glob("??/*")}
    # An object nothing records (a build killed between storing and recording it), and a
    # thumbnail of an object that is gone.
    orphan = "ab" * 32
    (objects / "ab").mkdir(exist_ok=True)
    (objects / "ab" / orphan).write_bytes(b"x" * 5000)
    thumbs = film / vfdir.THUMBS / "cd"
    thumbs.mkdir(parents=True)
    (thumbs / f"{'cd' * 32}.jpg").write_bytes(b"j" * 300)
    kept_thumb = film / vfdir.THUMBS / next(iter(before))[:2] / f"{next(iter(before))}.jpg"
    kept_thumb.parent.mkdir(parents=True, exist_ok=True)
    kept_thumb.write_bytes(b"j")

    # A pull cut off midway left its part; another is being written by a pull now (flocked).
    partial = film / vfdir.PARTIAL
    partial.mkdir(parents=True)
    left_part, busy_part = partial / f"{'ef' * 32}.part", partial / f"{'12' * 32}.part"
    left_part.write_bytes(b"p" * 700)
    busy_part.write_bytes(b"q" * 10)
    busy = os.open(busy_part, os.O_RDWR)
    fcntl.flock(busy, fcntl.LOCK_EX)

    try:
        dry = _json("gc", vf(film, "gc", "--dry-run", "--json").stdout)
        assert dry["removed"] == [orphan] and dry["freed"] == 5000 and dry["thumbs"] == 1
        assert dry["partials"] == 1 and dry["partials_freed"] == 700
        assert (objects / "ab" / orphan).exists() and left_part.exists()
        out = vf(film, "gc").stdout
        assert "removed 1 unused store object(s), 0.0 MB freed, and 1 stale thumbnail(s)" in out
        assert "removed 1 part(s) of pulls cut off midway, 0.0 MB" in out
        assert {p.name for p in objects.glob("??/*")} == before and kept_thumb.exists()
        assert not left_part.exists() and busy_part.exists()
    finally:
        os.close(busy)

    # Without the recipe index only the pinned objects are in use: the others go, but their
    # bytes stay in the layout (hard links), so no space is freed; a pinned one never goes.
    shutil.rmtree(film / vfdir.RECIPES)
    doc = _json("gc", vf(film, "gc", "--json").stdout)
    pinned = {str(keyframe_pick(film)["sha256"])}
    left = {p.name for p in objects.glob("??/*")}
    assert pinned <= left and left < before
    assert doc["freed"] == 0 and len(doc["removed"]) == len(before - left)  # type: ignore[arg-type]


def test_a_shots_yaml_nested_2000_deep_is_a_file_line_col_error(tmp_path: Path) -> None:
    film = make_film(tmp_path / "film")
    vf(film, "build", "--tier", "draft", "s010")  # a cached film: the chunked reload path
    text = (film / "shots.yaml").read_text()
    deep = "      seed: 10\n      x: " + "[" * 2000 + "]" * 2000 + "\n"
    (film / "shots.yaml").write_text(text.replace("      seed: 10\n", deep, 1))
    for command in ("check", "plan", "build"):
        proc = vf(film, command, check=False)
        assert proc.returncode == 2, proc.stdout + proc.stderr
        assert "shots.yaml:" in proc.stderr and "nested deeper than 100 levels" in proc.stderr
        assert "internal error" not in proc.stderr and "Recursion" not in proc.stderr
