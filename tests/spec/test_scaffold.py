"""`vf init`: the scaffold is a valid film with the right files and ignores."""

from __future__ import annotations

from pathlib import Path

import pytest

from vfbuild.errors import UsageError
from vfbuild.spec.load import load_film
from vfbuild.spec.models import CameraMove
from vfbuild.spec.scaffold import MODELINE, default_title, init_film
from vfbuild.spec.schema import render_schema


def test_scaffold_loads(tmp_path: Path) -> None:
    root = tmp_path / "my-film"
    init_film(root)
    film = load_film(root)
    assert film.film.title == "My Film"
    assert (film.film.tiers.draft, film.film.tiers.final) == ("640x360", "1920x1080")
    assert film.film.delivery == "3840x2160"
    assert film.film.grain == 0.3
    assert film.film.style == "prompts/style.txt"
    assert {
        p.use
        for p in (
            film.providers.keyframe,
            film.providers.video,
            film.providers.upscale,
            film.providers.lipsync,
        )
    } == {"local"}
    assert [s.id for s in film.shots] == ["s010", "s020"]
    assert all(s.keyframe.prompt is None and s.keyframe.subject for s in film.shots)
    assert film.shots[1].motion.move == CameraMove.push_in


def test_scaffold_files(tmp_path: Path) -> None:
    root = tmp_path / "film"
    init_film(root, title="Winter: to Spring")
    shots = (root / "shots.yaml").read_text()
    assert shots.splitlines()[0] == MODELINE
    assert MODELINE == "# yaml-language-server: $schema=.vf-schema/shots.schema.json"
    assert (root / ".vf-schema" / "shots.schema.json").read_text() == render_schema(
        "shots.schema.json"
    )
    assert (root / "prompts" / "style.txt").read_text().strip()
    for keep in ("references", "locks", "04_Audio"):
        assert (root / keep / ".gitkeep").is_file()
    assert load_film(root).film.title == "Winter: to Spring"


def test_gitignore_ignores_products_only(tmp_path: Path) -> None:
    init_film(tmp_path / "f")
    lines = {
        line.strip()
        for line in (tmp_path / "f" / ".gitignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert lines == {".vf/", "01_Source_Images/", "03_Generations/", "05_Upscaled/", "06_Edit/"}


def test_init_into_empty_folder(tmp_path: Path) -> None:
    init_film(tmp_path)
    assert (tmp_path / "shots.yaml").is_file()


def test_init_refuses_non_empty_folder(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(UsageError, match="not empty"):
        init_film(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_init_refuses_a_file(tmp_path: Path) -> None:
    (tmp_path / "film").write_text("x")
    with pytest.raises(UsageError, match="not a folder"):
        init_film(tmp_path / "film")


@pytest.mark.parametrize(
    ("name", "title"),
    [("my-film", "My Film"), ("winter_to_spring", "Winter To Spring"), ("s", "S")],
)
def test_default_title(name: str, title: str) -> None:
    assert default_title(Path(name)) == title


@pytest.mark.parametrize("title", ["2024", "yes", "a: b", "# hash", 'say "hi"', "ünïcode film"])
def test_awkward_titles_stay_text(tmp_path: Path, title: str) -> None:
    init_film(tmp_path / "f", title=title)
    assert load_film(tmp_path / "f").film.title == title
