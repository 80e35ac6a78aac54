"""Loading a valid film, the files it names, and the validated-film cache."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from vfbuild.errors import SpecError
from vfbuild.spec import load as load_module
from vfbuild.spec.load import (
    CACHE_FILE,
    load_film,
    load_film_cached,
    referenced_files,
    shot_files,
)
from vfbuild.spec.models import CameraMove

from . import mutate, write_film


def test_base_film_loads(tmp_path: Path) -> None:
    film = load_film(write_film(tmp_path))
    assert film.film.title == "Winter to Spring"
    assert [s.id for s in film.shots] == ["s010", "s050"]
    assert film.shots[1].motion.move == CameraMove.push_in
    assert film.shots[1].dialogue is not None
    assert film.characters["car"].description == "a yellow sports car"


def test_referenced_files(tmp_path: Path) -> None:
    root = write_film(tmp_path)
    film = load_film(root)
    assert referenced_files(film, root) == [
        root / "prompts/style.txt",
        root / "references/car.png",
        root / "prompts/s050.txt",
        root / "04_Audio/s050_line.wav",
    ]
    assert shot_files(film, film.shots[0], root) == [
        root / "prompts/style.txt",
        root / "references/car.png",
    ]
    assert shot_files(film, film.shots[1], root) == [
        root / "prompts/style.txt",
        root / "prompts/s050.txt",
        root / "references/car.png",
        root / "04_Audio/s050_line.wav",
    ]


def test_reference_by_file(tmp_path: Path) -> None:
    text = mutate("      references: [car]", "      references: [car, references/./extra.png]")
    root = write_film(tmp_path, text)
    (root / "references" / "extra.png").write_text("png")
    film = load_film(root)
    assert root / "references/extra.png" in referenced_files(film, root)


def test_symlink_inside_the_film_is_fine(tmp_path: Path) -> None:
    root = write_film(tmp_path)
    (root / "references" / "car.png").rename(root / "references" / "real.png")
    os.symlink("real.png", root / "references" / "car.png")
    load_film(root)


def test_cache_hit_skips_parsing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = write_film(tmp_path)
    first = load_film_cached(root)
    assert (root / CACHE_FILE).is_file()

    def no_parse(*args: object) -> None:
        raise AssertionError("parsed on a cache hit")

    monkeypatch.setattr(load_module, "_load", no_parse)
    assert load_film_cached(root) == first


def test_cache_invalidated_by_edit(tmp_path: Path) -> None:
    root = write_film(tmp_path)
    load_film_cached(root)
    (root / "shots.yaml").write_text(mutate("title: Winter to Spring", "title: Spring"))
    assert load_film_cached(root).film.title == "Spring"
    (root / "shots.yaml").write_text(mutate("fps: 24", "fps: 25"))
    with pytest.raises(SpecError):
        load_film_cached(root)


def test_cache_hit_still_reports_deleted_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    root = write_film(tmp_path / "film")
    load_film_cached(root)
    (root / "prompts" / "s050.txt").unlink()
    with pytest.raises(SpecError) as info:
        load_film_cached(root)
    assert [p.render() for p in info.value.problems] == [
        "film/shots.yaml:37:24: prompt file 'prompts/s050.txt' does not exist (hint: create it, "
        "or write the text inline: a value not starting with prompts/ is the text)"
    ]


def test_cache_hit_reports_symlink_escape(tmp_path: Path) -> None:
    root = write_film(tmp_path / "film")
    load_film_cached(root)
    (tmp_path / "outside.png").write_text("x")
    (root / "references" / "car.png").unlink()
    os.symlink(tmp_path / "outside.png", root / "references" / "car.png")
    with pytest.raises(SpecError, match="symlink to a file outside"):
        load_film_cached(root)


def test_a_changed_film_does_not_unpickle_the_cached_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only the cached digests of the shots that passed are needed then (unpickling a
    1000-shot film is ~19 ms)."""
    root = write_film(tmp_path)
    load_film_cached(root)
    (root / "shots.yaml").write_text(mutate("title: Winter to Spring", "title: Spring"))

    def no_unpickle(blob: bytes) -> None:
        raise AssertionError("the cached film was unpickled")

    monkeypatch.setattr(load_module, "_film_of", no_unpickle)
    assert load_film_cached(root).film.title == "Spring"


def test_a_cache_whose_film_is_corrupt_is_rewritten(tmp_path: Path) -> None:
    from vfbuild.store import sealed

    root = write_film(tmp_path)
    film = load_film_cached(root)
    cache = root / CACHE_FILE
    payload = sealed.loads(cache.read_bytes(), CACHE_FILE.name)
    assert isinstance(payload, load_module.FilmCache)
    broken = payload._replace(film=b"not a pickle")
    cache.write_bytes(sealed.dumps(broken, CACHE_FILE.name) or b"")
    assert load_film_cached(root) == film
    payload = sealed.loads(cache.read_bytes(), CACHE_FILE.name)
    assert isinstance(payload, load_module.FilmCache) and payload.film != b"not a pickle"


@pytest.mark.parametrize("garbage", [b"", b"not a pickle", b"\x80\x05K\x01."])
def test_corrupt_cache_is_rewritten(tmp_path: Path, garbage: bytes) -> None:
    root = write_film(tmp_path)
    cache = root / CACHE_FILE
    cache.parent.mkdir(parents=True)
    cache.write_bytes(garbage)
    film = load_film_cached(root)
    assert cache.read_bytes() != garbage
    assert load_film_cached(root) == film


def test_cached_path_does_not_import_validators(tmp_path: Path) -> None:
    root = write_film(tmp_path)
    code = (
        "import sys; from pathlib import Path; from vfbuild.spec.load import load_film_cached; "
        f"load_film_cached(Path({str(root)!r})); "
        "print(sorted(m for m in ('jsonschema', 'ruamel.yaml') if m in sys.modules))"
    )
    repo = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(repo)}
    # The cache is written by a fresh process too: this worker's own state (a step another
    # test registered, say) is part of the code it fingerprints, and is not the CLI's.
    run = [sys.executable, "-c", code]
    subprocess.run(run, capture_output=True, text=True, env=env, check=True)
    out = subprocess.run(run, capture_output=True, text=True, env=env, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize(
    ("change", "imported"), [("takes: 4", "[]"), ("takes: '4'", "['jsonschema']")]
)
def test_a_changed_film_needs_jsonschema_only_when_it_is_wrong(
    tmp_path: Path, change: str, imported: str
) -> None:
    """A film that passes the strict models is not checked again by jsonschema (its import
    is 0.1 s); a film they refuse is, and its problem gets its position."""
    root = write_film(tmp_path)
    load_film_cached(root)
    shots = root / "shots.yaml"
    shots.write_text(shots.read_text().replace("takes: 4\n      seed", f"{change}\n      seed"))
    code = (
        "import sys; from pathlib import Path; from vfbuild.spec.load import load_film_cached\n"
        f"try: load_film_cached(Path({str(root)!r}))\n"
        "except Exception as e: print(e)\n"
        "print(sorted(m for m in ('jsonschema',) if m in sys.modules))"
    )
    repo = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(repo)}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    assert out.stdout.strip().splitlines()[-1] == imported
    if imported != "[]":
        assert "shots.yaml:30:14" in out.stdout and "whole number" in out.stdout, out.stdout


def test_check_answers_from_its_stamp_without_the_models(tmp_path: Path) -> None:
    """A film that passed `vf check` passes again from its stamp, without importing pydantic;
    a change to shots.yaml or a file it names is checked again."""
    import subprocess
    import sys

    import vfbuild
    from tests.plan.test_stamp import aged
    from vfbuild.errors import SpecError

    root = write_film(tmp_path)
    shots = root / "shots.yaml"
    aged(root)
    code = (
        "import sys, vfbuild; from pathlib import Path; "
        f"vfbuild.open(Path({str(root)!r})).check(); "
        "print(sorted(m for m in ('pydantic', 'ruamel.yaml') if m in sys.modules))"
    )
    repo = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(repo)}
    # The stamp is written by a fresh process too: this worker's sys.path is not the CLI's.
    first = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert first.returncode == 0, first.stderr
    assert "pydantic" in first.stdout  # checked for real
    assert (root / ".vf/cache/check-stamp.json").exists()
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
    shots.write_text(shots.read_text().replace("takes: ", "takes: -", 1))
    with pytest.raises(SpecError):
        vfbuild.open(root).check()
