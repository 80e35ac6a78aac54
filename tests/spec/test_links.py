"""Continuity links in shots.yaml: parsed, ordered, and refused at file:line:col when they go
round in a circle, name no shot, or ask a provider for an input it cannot take."""

from __future__ import annotations

from pathlib import Path

import pytest

from vfbuild.errors import SpecError
from vfbuild.spec.links import FrameSource, find_cycle, parse
from vfbuild.spec.load import load_film

from . import BASE_FILM, write_film

# s010 reads s050's last frame and s050 reads s010's: a circle.
CIRCLE = BASE_FILM.replace(
    "      prompt: the camera follows the car as its wheels throw up snow\n",
    "      prompt: the camera follows the car as its wheels throw up snow\n"
    "      first: s050.last\n",
).replace(
    "    motion: {move: push-in, prompt: the driver turns and speaks}\n",
    "    motion: {move: push-in, prompt: the driver turns and speaks, last: s010.upscale.1.5}\n",
)


def _problems(root: Path) -> list[str]:
    with pytest.raises(SpecError) as info:
        load_film(root)
    return [p.render() for p in info.value.problems]


def test_frame_references_parse() -> None:
    assert parse("s010.last") == FrameSource("s010", "final", "last")
    assert parse("s010.keyframe") == FrameSource("s010", "keyframe", "")
    assert parse("s010.upscale.2.5s") == FrameSource("s010", "upscale", "2.5")
    assert parse("s-1_x.final.first").step == "final"
    assert parse("s010.2").seconds == 2.0


def test_a_circle_is_an_error_at_its_place_naming_the_shots(tmp_path: Path) -> None:
    root = write_film(tmp_path / "film", CIRCLE)
    problems = _problems(root)
    circle = [p for p in problems if "circle" in p]
    assert len(circle) == 1, problems
    line = CIRCLE.splitlines().index("      first: s050.last") + 1
    assert f"shots.yaml:{line}:14: " in circle[0], circle
    assert "s010 → s050 → s010" in circle[0]


def test_a_link_to_no_shot_and_a_self_link_are_errors(tmp_path: Path) -> None:
    text = CIRCLE.replace("first: s050.last", "first: s099.last")
    problems = _problems(write_film(tmp_path / "a", text))
    assert any("no shot 's099'" in p for p in problems), problems
    text = BASE_FILM.replace(
        "    motion: {move: push-in, prompt: the driver turns and speaks}\n",
        "    motion: {move: push-in, prompt: the driver turns and speaks, first: s050.last}\n",
    )
    problems = _problems(write_film(tmp_path / "b", text))
    assert any("s050 → s050" in p for p in problems), problems


def test_a_last_frame_for_a_provider_that_cannot_take_one_is_a_plan_time_error(
    tmp_path: Path,
) -> None:
    text = CIRCLE.replace("first: s050.last", "prompt2: x").replace("      prompt2: x\n", "")
    text = text.replace("  video: {use: local}", "  video: {use: runway}")
    problems = _problems(write_film(tmp_path / "film", text))
    assert any("'runway' cannot take a last frame" in p for p in problems), problems


def test_shots_are_ordered_after_the_shots_they_read() -> None:
    assert find_cycle({"a": ["b"], "b": []}) is None
    assert find_cycle({"a": ["b"], "b": ["a"]}) == ["a", "b", "a"]
