"""A tiny film whose s010 has four keyframe takes, built once per module (keyframes of s010
only: `vf build --tier draft s010`), copied for each test; and the review server on it."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.film import make_film, vf
from vfbuild.review.server import ReviewServer

TAKES = 4


def four_take_film(dest: Path) -> Path:
    make_film(dest)
    shots = dest / "shots.yaml"
    text = shots.read_text()
    assert "takes: 2\n      seed: 10" in text
    shots.write_text(text.replace("takes: 2\n      seed: 10", f"takes: {TAKES}\n      seed: 10"))
    return dest


@pytest.fixture(scope="module")
def built_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    film = four_take_film(tmp_path_factory.mktemp("review") / "film")
    vf(film, "build", "--tier", "draft", "s010")
    return film


@pytest.fixture
def film(built_template: Path, tmp_path: Path) -> Path:
    dest = tmp_path / "film"
    shutil.copytree(built_template, dest, symlinks=True)
    return dest


@pytest.fixture
def server(film: Path) -> Iterator[ReviewServer]:
    srv = ReviewServer(film, 0)
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield srv
    finally:
        srv.shutdown()
        srv.server_close()
        thread.join(timeout=10)


def take_file(film: Path, take: int, version: int = 1) -> Path:
    return film / f"03_Generations/v1_exploration/s010_keyframe_v{version:03d}_t{take:02d}.png"
