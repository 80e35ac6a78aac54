"""Files other than shots.yaml are input too: a lock that names a file outside the film, or a
link out of it, is refused before any provider reads (or uploads) the file."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.e2e.film import make_film, vf
from vfbuild.fsutil import sha256_file


@pytest.fixture(scope="module")
def picked_film(tmp_path_factory: pytest.TempPathFactory) -> Path:
    film = make_film(tmp_path_factory.mktemp("inputs") / "film")
    vf(film, "build", "--tier", "draft", "s010")
    vf(film, "pick", "s010", "keyframe", "1")
    return film


def _copy(film: Path, dest: Path) -> Path:
    shutil.copytree(film, dest, symlinks=True)
    return dest


def _outside_png(tmp_path: Path, film: Path) -> Path:
    secret = tmp_path / "secret.png"
    shutil.copy(film / "references" / "car.png", secret)
    return secret


def test_a_lock_naming_a_polished_file_outside_the_film_stops_the_build(
    picked_film: Path, tmp_path: Path
) -> None:
    film = _copy(picked_film, tmp_path / "film")
    secret = _outside_png(tmp_path, film)
    lock = film / "locks" / "s010.yaml"
    text = lock.read_text()
    polished = f"    polished: {{file: {secret}, sha256: {sha256_file(secret)}}}\n"
    lock.write_text(text.replace("    recipe:\n", polished + "    recipe:\n", 1))
    proc = vf(film, "build", "--tier", "draft", "s010", check=False)
    assert proc.returncode == 2, proc.stderr
    assert "locks/s010.yaml:" in proc.stderr and "is an absolute path" in proc.stderr
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr
    assert not list(film.glob("03_Generations/v1_exploration/s010_draft_*"))


def test_a_polished_keyframe_linked_from_outside_the_film_is_not_used(
    picked_film: Path, tmp_path: Path
) -> None:
    film = _copy(picked_film, tmp_path / "film")
    secret = _outside_png(tmp_path, film)
    (film / "01_Source_Images").mkdir(exist_ok=True)
    os.symlink(secret, film / "01_Source_Images" / "s010_keyframe_v001_t01_polished.png")
    proc = vf(film, "build", "--tier", "draft", "s010", check=False)
    assert proc.returncode != 0
    assert "outside the film folder" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr
    assert not list(film.glob("03_Generations/v1_exploration/s010_draft_*"))
