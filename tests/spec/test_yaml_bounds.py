"""YAML bombs, recursive aliases and deep nesting get a `file:line:col` answer at once, in
shots.yaml and in every other YAML file of the film; anchors a real film uses still load."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from vfbuild.errors import SpecError
from vfbuild.providers.pricing import load_prices
from vfbuild.spec.load import load_film, load_film_cached

from . import BASE_FILM, write_film


def alias_bomb(levels: int = 9) -> str:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    for i in range(1, levels):
        lines.append(f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]")
    return "\n".join(lines) + "\n"


def _problem(root: Path) -> str:
    with pytest.raises(SpecError) as info:
        load_film(root)
    (problem,) = info.value.problems
    return problem.render()


def test_an_alias_bomb_is_answered_at_once(tmp_path: Path) -> None:
    bomb = alias_bomb()
    assert len(bomb) < 1024
    root = write_film(tmp_path, BASE_FILM + bomb)
    start = time.monotonic()
    said = _problem(root)
    assert time.monotonic() - start < 1.0
    assert "shots.yaml:48:10:" in said  # the alias that stands for the most values
    assert "alias bomb" in said and "hint:" in said


@pytest.mark.parametrize(
    ("tail", "where"),
    [
        ("x: &a [1, *a]\n", ":40:11:"),
        ("x: &a\n  y: {z: [*a]}\n", ":41:11:"),
    ],
    ids=["list", "mapping"],
)
def test_a_recursive_alias_is_refused(tmp_path: Path, tail: str, where: str) -> None:
    said = _problem(write_film(tmp_path, BASE_FILM + tail))
    assert where in said and "recursive alias" in said


@pytest.mark.parametrize(
    ("tail", "where"),
    [
        ("deep: " + "[" * 1000 + "]" * 1000 + "\n", "40:106"),
        ("deep: " + "[" * 5000 + "]" * 5000 + "\n", "40:106"),
        ("deep: " + "{a: " * 1200 + "1" + "}" * 1200 + "\n", "40:403"),
        ("deep:\n" + "".join("  " * i + "k:\n" for i in range(1, 1200)), "140:201"),
        ("deep:\n" + "- " * 3000 + "x\n", "41:199"),
        ("deep: " + "[" * 200_000 + "\n", "40:106"),  # a C parser would overflow its stack
    ],
    ids=["flow-1000", "flow-5000", "map-1200", "block-1200", "dashes-3000", "flow-200000"],
)
def test_deep_nesting_is_a_clear_error_not_recursion_error(
    tmp_path: Path, tail: str, where: str
) -> None:
    root = write_film(tmp_path, BASE_FILM + tail)
    for load in (load_film, load_film_cached):
        with pytest.raises(SpecError) as info:
            load(root)
        said = info.value.render()
        assert f"shots.yaml:{where}: YAML nested deeper than 100 levels" in said, said


def test_anchors_a_film_uses_still_load(tmp_path: Path) -> None:
    text = BASE_FILM.replace("    keyframe:\n      shot:", "    keyframe: &kf\n      shot:", 1)
    text = text.replace(
        "    keyframe: {prompt: prompts/s050.txt, references: [car], takes: 4}",
        "    keyframe: *kf",
    )
    film = load_film(write_film(tmp_path, text))
    assert film.shots[1].keyframe == film.shots[0].keyframe


def test_a_films_prices_yaml_is_bounded_too(tmp_path: Path) -> None:
    (tmp_path / "prices.yaml").write_text("fal:\n  m: {image: 0.1}\n" + alias_bomb())
    start = time.monotonic()
    with pytest.raises(SpecError) as info:
        load_prices(tmp_path)
    assert time.monotonic() - start < 1.0
    assert "prices.yaml:" in info.value.render() and "alias bomb" in info.value.render()


def test_a_price_that_is_not_a_number_is_refused(tmp_path: Path) -> None:
    (tmp_path / "prices.yaml").write_text("fal:\n  m: {image: cheap}\n")
    with pytest.raises(SpecError, match=r"fal\.m\.image: 'cheap' is not a price"):
        load_prices(tmp_path)


def test_the_bounds_hold_on_the_first_line_and_spare_deeply_indented_text() -> None:
    from vfbuild import safeyaml

    first = safeyaml.problem("- " * 3000 + "x\n", "f.yaml")
    assert first is not None and "f.yaml:1:" in first.render()
    # Text indented far (a block scalar) or brackets in prose only look deep: they are scanned
    # and pass.
    prose = "note: |\n" + " " * 120 + "far in\nnote2: " + "'" + "[" * 300 + "'\n"
    assert safeyaml.problem(prose, "f.yaml") is None
