"""A killed build loses nothing and leaves nothing half-made; a lock that lies is caught."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from ruamel.yaml import YAML

from tests.e2e.film import make_film, vf
from vfbuild.fsutil import TEMP_PREFIX, sha256_file


def _objects(film: Path) -> dict[str, Path]:
    return {p.name: p for p in (film / ".vf" / "objects").glob("*/*")}


def test_sigkilled_build_resumes_with_no_partial_or_orphan_files(tmp_path: Path) -> None:
    film = make_film(tmp_path / "film")
    vf(film, "build")
    for shot in ("s010", "s020", "s030"):
        vf(film, "pick", shot, "keyframe", "1")
    for delay in (0.6, 1.2, 2.0):
        proc = subprocess.Popen(
            [sys.executable, "-m", "vfbuild", "-C", str(film), "build"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        time.sleep(delay)
        os.killpg(proc.pid, signal.SIGKILL)  # vf and the ffmpeg it runs, mid-write
        proc.wait()
        # every object is whole: its name is its hash
        for name, path in _objects(film).items():
            assert sha256_file(path) == name
    out = vf(film, "build").stdout
    assert "draft" in out or "nothing to do" in out
    assert not list((film / ".vf" / "tmp").glob("*"))  # the crashed build's temp files are swept
    objects = _objects(film)
    layout = [
        p
        for top in ("01_Source_Images", "03_Generations", "06_Edit")
        for p in (film / top).rglob("*")
        if p.is_file()
    ]
    for p in layout:  # every layout file is a stored artifact, not a partial write
        assert sha256_file(p) in objects, p
    drafts = sorted((film / "03_Generations/v1_exploration").glob("*_draft_*"))
    assert len(drafts) == 6  # two takes of three shots, each made once
    assert "made " not in vf(film, "build").stdout  # and nothing is made twice


def test_a_killed_builds_temp_files_are_swept_wherever_it_was_writing(tmp_path: Path) -> None:
    """Where a kill falls decides where its temp file sits: each place vfbuild writes must be
    swept, including the recipe index's by-sha folder a kill once left debris in."""
    film = make_film(tmp_path / "film")
    vf(film, "build", "--tier", "draft")
    places = [
        ".",
        "locks",
        ".vf",
        ".vf/journal",
        ".vf/recipes/by-sha",
        "03_Generations/v1_exploration",
    ]
    places += [str(next((film / ".vf" / "recipes").glob("??")).relative_to(film))]
    for i, place in enumerate(places):
        (film / place).mkdir(parents=True, exist_ok=True)  # a local film has no journal
        (film / place / f"{TEMP_PREFIX}{i}").write_text("half a file")
    (film / ".vf" / "build.running").touch()  # the mark a killed build leaves
    vf(film, "build", "--tier", "draft")
    assert list(film.rglob(f"{TEMP_PREFIX}*")) == []
    assert not (film / ".vf" / "build.running").exists()


def test_a_lock_pinning_other_bytes_is_a_clear_frozen_error(tmp_path: Path) -> None:
    film = make_film(tmp_path / "film")
    vf(film, "build", "--tier", "draft")
    vf(film, "pick", "s010", "keyframe", "1")
    lock = film / "locks" / "s010.yaml"
    text = lock.read_text()
    # the keyframe pick's sha256 (the lock also pins the rough cut's segment)
    sha = YAML(typ="safe").load(text)["picks"]["keyframe"]["sha256"]
    lock.write_text(text.replace(sha, "ab" * 32))
    clone = tmp_path / "clone"
    clone.mkdir()
    for name in ("shots.yaml", "prompts", "references", "04_Audio", "locks"):
        src = film / name
        subprocess.run(["cp", "-r", str(src), str(clone / name)], check=True)
    proc = vf(clone, "build", "--frozen", "s010", "--tier", "draft", check=False)
    assert proc.returncode == 3, proc.stderr
    assert "s010 keyframe t01" in proc.stderr and "differ" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (clone / "03_Generations/v1_exploration/s010_keyframe_v001_t01.png").exists()
