"""Prompt composition: exact strings, since what is sent is what is hashed."""

from __future__ import annotations

from pathlib import Path

import pytest

from vfbuild.errors import SpecError
from vfbuild.spec.load import load_film
from vfbuild.spec.models import CameraMove, Film
from vfbuild.spec.prompt import (
    MOVE_PHRASES,
    camera_notes,
    keyframe_prompt,
    motion_prompt,
    move_phrase,
    negative_prompt,
    normalize,
    read_text,
)

from . import mutate, write_film


@pytest.fixture
def base(tmp_path: Path) -> tuple[Film, Path]:
    return load_film(write_film(tmp_path)), tmp_path


def _film(**shot: object) -> Film:
    """A minimal film with one shot (no files), for edge cases of composition."""
    return Film.model_validate(
        {
            "film": {"title": "t", "style": " moody,  teal ,", "negative": "blurry, Low Quality"},
            "characters": {
                "ana": {"reference": "references/ana.png", "description": "woman in a red coat"},
                "bo": {"reference": "references/bo.png"},
            },
            "shots": [{"id": "s1", "duration": 3, **shot}],
        }
    )


def test_keyframe_prompt_structured(base: tuple[Film, Path]) -> None:
    film, root = base
    assert keyframe_prompt(film, film.shots[0], root) == (
        "aerial wide shot, yellow sports car, front view, driving up a winding snowy mountain "
        "road, snow-capped peaks, sparse pines, overcast, soft diffused light, Alexa Mini, 35mm, "
        "Cinestill 800T, a yellow sports car, cinematic, muted winter palette"
    )


def test_keyframe_prompt_from_file(base: tuple[Film, Path]) -> None:
    film, root = base
    assert keyframe_prompt(film, film.shots[1], root) == (
        "close-up of the driver, snow outside the window, a yellow sports car, "
        "cinematic, muted winter palette"
    )


def test_keyframe_prompt_field_order_and_cleanup(tmp_path: Path) -> None:
    film = _film(
        keyframe={
            "look": "Kodak 250D",
            "subject": "  a lighthouse,\n at dusk, ",
            "shot": "wide shot",
            "action": "   ",
            "references": ["bo", "ana", "references/extra.png"],
        }
    )
    # Fields in seed order whatever the YAML order; blank parts skipped; characters without a
    # description add nothing; the style's stray commas and spaces are cleaned.
    assert keyframe_prompt(film, film.shots[0], tmp_path) == (
        "wide shot, a lighthouse, at dusk, Kodak 250D, woman in a red coat, moody, teal"
    )


def test_keyframe_prompt_inline_text_and_no_style(tmp_path: Path) -> None:
    film = Film.model_validate(
        {
            "film": {"title": "t"},
            "shots": [
                {"id": "s1", "duration": 3, "keyframe": {"prompt": "A car.  On ice,, at night."}}
            ],
        }
    )
    assert keyframe_prompt(film, film.shots[0], tmp_path) == "A car. On ice, at night"


def test_motion_prompt(base: tuple[Film, Path]) -> None:
    film, root = base
    assert motion_prompt(film, film.shots[0], root) == (
        "tracking shot following the subject. the camera follows the car as its wheels throw up "
        "snow. cinematic, muted winter palette"
    )
    assert motion_prompt(film, film.shots[1], root) == (
        "slow push-in toward the subject. the driver turns and speaks. "
        "cinematic, muted winter palette"
    )


def test_motion_prompt_without_text(tmp_path: Path) -> None:
    film = _film(keyframe={"subject": "x"}, motion={"move": "static"})
    assert motion_prompt(film, film.shots[0], tmp_path) == "static tripod shot. moody, teal"


@pytest.mark.parametrize(
    ("move", "phrase"),
    [
        ("static", "static tripod shot"),
        ("push-in", "slow push-in toward the subject"),
        ("dolly-in", "slow push-in toward the subject"),
        ("pull-out", "slow pull-out away from the subject"),
        ("dolly-out", "slow pull-out away from the subject"),
        ("drone-rising", "drone rising"),
        ("pan-left", "slow pan to the left"),
    ],
)
def test_move_phrases(move: str, phrase: str) -> None:
    assert move_phrase(CameraMove(move)) == phrase


def test_every_move_has_a_phrase() -> None:
    for move in CameraMove:
        assert move.canonical in MOVE_PHRASES


def test_negative_prompt(base: tuple[Film, Path]) -> None:
    film, root = base
    assert negative_prompt(film, film.shots[0], "keyframe", root) == (
        "fast movements, low quality, artifacts"
    )


def test_negative_prompt_merges_and_dedupes(tmp_path: Path) -> None:
    film = _film(
        keyframe={"subject": "x", "negative": "low quality, text,  watermark ,"},
        motion={"negative": "morphing, BLURRY"},
    )
    shot = film.shots[0]
    assert negative_prompt(film, shot, "keyframe", tmp_path) == (
        "blurry, Low Quality, text, watermark"
    )
    assert negative_prompt(film, shot, "video", tmp_path) == "blurry, Low Quality, morphing"
    assert negative_prompt(film, shot, "draft", tmp_path) == "blurry, Low Quality, morphing"
    assert negative_prompt(film, shot, "upscale", tmp_path) == "blurry, Low Quality"
    with pytest.raises(ValueError, match="unknown step"):
        negative_prompt(film, shot, "edit", tmp_path)


def test_negative_prompt_from_file(tmp_path: Path) -> None:
    (tmp_path / "prompts").mkdir()
    (tmp_path / "prompts" / "neg.txt").write_text("extra limbs,\nlow quality\n")
    film = _film(keyframe={"subject": "x", "negative": "prompts/neg.txt"})
    assert negative_prompt(film, film.shots[0], "keyframe", tmp_path) == (
        "blurry, Low Quality, extra limbs"
    )


def test_camera_notes(base: tuple[Film, Path]) -> None:
    film, _ = base
    assert camera_notes(film.shots[0]) == [
        "shot: aerial wide shot",
        "camera: Alexa Mini, 35mm",
        "look: Cinestill 800T",
        "move: tracking",
    ]
    assert camera_notes(film.shots[1]) == ["move: push-in"]


def test_read_text(tmp_path: Path) -> None:
    (tmp_path / "prompts").mkdir()
    (tmp_path / "prompts" / "a.txt").write_text("from a file\n")
    assert read_text(tmp_path, None) is None
    assert read_text(tmp_path, "inline words") == "inline words"
    assert read_text(tmp_path, "prompts/a.txt") == "from a file\n"
    # Only a value starting with prompts/ is a file; this is text that happens to name one.
    assert read_text(tmp_path, "./prompts/a.txt") == "./prompts/a.txt"
    with pytest.raises(SpecError, match="prompt file cannot be read: No such file"):
        read_text(tmp_path, "prompts/missing.txt")
    (tmp_path / "prompts" / "bin.txt").write_bytes(b"\xff\xfe")
    with pytest.raises(SpecError, match="is not UTF-8 text"):
        read_text(tmp_path, "prompts/bin.txt")
    with pytest.raises(SpecError, match="outside the film folder"):
        read_text(tmp_path, "prompts/../../etc/passwd")


def test_normalize() -> None:
    assert normalize("  a ,, b ,\n\n c ,") == "a, b, c"
    assert normalize(None) == ""
    assert normalize(" , ") == ""


def test_prompt_changes_when_the_prompt_file_changes(tmp_path: Path) -> None:
    root = write_film(tmp_path)
    film = load_film(root)
    before = keyframe_prompt(film, film.shots[1], root)
    (root / "prompts" / "s050.txt").write_text("a different frame")
    assert keyframe_prompt(film, film.shots[1], root) != before


def test_style_inline_text(tmp_path: Path) -> None:
    root = write_film(tmp_path, mutate("style: prompts/style.txt", "style: noir, high contrast"))
    film = load_film(root)
    assert motion_prompt(film, film.shots[1], root) == (
        "slow push-in toward the subject. the driver turns and speaks. noir, high contrast"
    )
