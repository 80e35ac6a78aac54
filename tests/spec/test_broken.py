"""Broken films: each case breaks one thing in the valid base film and expects exactly one
problem, at the exact `file:line:col`, with a message and a hint."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from vfbuild.errors import FilmNotFound, Problem, SpecError
from vfbuild.spec.load import load_film

from . import BASE_FILM, mutate, write_film


@dataclass
class Case:
    text: str
    line: int
    col: int
    message: str
    hint: str | None
    # Changes the film folder after it is written (delete a file, add a symlink, …).
    setup: Callable[[Path], None] | None = field(default=None)


def _remove(name: str) -> Callable[[Path], None]:
    return lambda root: (root / name).unlink()


def _add(name: str, content: str = "x") -> Callable[[Path], None]:
    def setup(root: Path) -> None:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(content)

    return setup


def _symlink_out(name: str) -> Callable[[Path], None]:
    def setup(root: Path) -> None:
        outside = root.parent / "outside.png"
        outside.write_text("secret")
        (root / name).unlink()
        os.symlink(outside, root / name)

    return setup


_SHOTS_TAIL = BASE_FILM[BASE_FILM.index("shots:\n") :]

# One case per block reads better than one argument per line.
# fmt: off
CASES: dict[str, Case] = {
    "yaml_syntax": Case(
        mutate("final: 1920x1080}", "final: 1920x1080"),
        7, 11, "invalid YAML: expected ',' or '}'", "indentation",
    ),
    "tab_indentation": Case(
        mutate("    keyframe:\n      shot:", "\tkeyframe:\n      shot:"),
        21, 1, "tab character", "spaces, not tabs",
    ),
    "duplicate_key": Case(
        mutate("  grain: 0.30\n", "  grain: 0.30\n  fps: 30\n"),
        9, 3, "duplicate key 'fps' (first at line 4)", "only once",
    ),
    "second_document": Case(
        BASE_FILM + "---\nshots: []\n",
        40, 1, "a second YAML document ('---')", "one document",
    ),
    "empty_value": Case(
        mutate("    duration: 5\n", "    duration:\n"),
        20, 5, "shots[0].duration: expected a number, got nothing", "digits",
    ),
    "missing_title": Case(
        mutate("  title: Winter to Spring\n", ""),
        2, 1, "film is missing the required key 'title'", "add `title:`",
    ),
    "empty_file": Case("", 1, 1, "shots.yaml is empty", "vf init"),
    "only_comments": Case("# nothing yet\n", 1, 1, "shots.yaml is empty", "vf init"),
    "top_level_list": Case(
        "- id: s010\n  duration: 5\n", 1, 1,
        "the top level of shots.yaml must be a mapping, not a list", "film:",
    ),
    "unknown_top_level_key": Case(
        mutate("characters:\n", "caracters:\n"),
        16, 1, "unknown key 'caracters' at the top level", "did you mean 'characters'?",
    ),
    "unknown_key_in_shot": Case(
        mutate("      subject: yellow", "      subjct: yellow"),
        23, 7, "unknown key 'subjct' in shots[0].keyframe", "did you mean 'subject'?",
    ),
    "unknown_key_without_near_match": Case(
        mutate("    duration: 5\n", "    duration: 5\n    colour: red\n"),
        21, 5, "unknown key 'colour' in shots[0]", "allowed keys: id, duration, keyframe",
    ),
    "unknown_key_in_optional_dialogue": Case(
        mutate("s050_line.wav}", "s050_line.wav, lien: hello}"),
        39, 47, "unknown key 'lien' in shots[1].dialogue", "did you mean 'line'?",
    ),
    "misspelt_required_key": Case(
        mutate("    duration: 4\n", "    duraton: 4\n"),
        36, 5, "unknown key 'duraton' in shots[1]", "did you mean 'duration'?",
    ),
    "missing_required_key": Case(
        mutate("    duration: 4\n", ""),
        35, 5, "shots[1] is missing the required key 'duration'", "Seconds on screen",
    ),
    "wrong_type_number": Case(
        mutate("    duration: 5\n", "    duration: five\n"),
        20, 15, "shots[0].duration: expected a number, got 'five'", "digits",
    ),
    "wrong_type_optional_text": Case(
        mutate("  style: prompts/style.txt", "  style: 5"),
        9, 10, "film.style: expected text, got 5", "quotes",
    ),
    "wrong_type_mapping": Case(
        mutate("    motion: {move: push-in, prompt: the driver turns and speaks}",
               "    motion: push-in"),
        38, 13, "shots[1].motion: expected a mapping, got 'push-in'", "key: value",
    ),
    "duration_zero": Case(
        mutate("    duration: 5\n", "    duration: 0\n"),
        20, 15, "shots[0].duration must be greater than 0, got 0", "positive",
    ),
    "grain_out_of_range": Case(
        mutate("grain: 0.30", "grain: 1.5"),
        8, 10, "film.grain must be at most 1, got 1.5", "0 = none to 1",
    ),
    "takes_zero": Case(
        mutate("      takes: 4", "      takes: 0"),
        30, 14, "shots[0].keyframe.takes must be at least 1, got 0", "1 to 64",
    ),
    "fps_25": Case(
        mutate("fps: 24", "fps: 25"),
        4, 8, "film.fps must be 24 or 30, got 25", "24 or 30 frames",
    ),
    "bad_resolution": Case(
        mutate("final: 1920x1080}", "final: 1920x108O}"),
        6, 34, "film.tiers.final: resolution must be WIDTHxHEIGHT like 1920x1080, got '1920x108O'",
        "lowercase x",
    ),
    "odd_resolution": Case(
        mutate("draft: 640x360", "draft: 641x360"),
        6, 18, "film.tiers.draft: 641x360 has an odd side", "use 640x360",
    ),
    "bad_aspect": Case(
        mutate('aspect: "16:9"', 'aspect: "16/9"'),
        5, 11, "film.aspect: aspect must be W:H like 16:9, got '16/9'", "16:9",
    ),
    "unknown_camera_move": Case(
        mutate("{move: push-in", "{move: push_in"),
        38, 20, "shots[1].motion.move: unknown camera move 'push_in'", "did you mean 'push-in'?",
    ),
    "duplicate_shot_id": Case(
        mutate("  - id: s050", "  - id: s010"),
        35, 9, "duplicate shot id 's010' (first used at line 19)", "never reuse",
    ),
    "bad_shot_id": Case(
        mutate("  - id: s050", "  - id: Shot 50"),
        35, 9, "shots[1].id: shot id 'Shot 50' may only use lowercase letters", "'shot-50'",
    ),
    "bad_character_name": Case(
        mutate("  car: {reference", "  my car: {reference"),
        17, 3, "character name 'my car' may only use letters, digits", "'my-car'",
    ),
    "missing_prompt_file": Case(
        BASE_FILM, 37, 24, "prompt file 'prompts/s050.txt' does not exist", "write the text inline",
        setup=_remove("prompts/s050.txt"),
    ),
    "missing_prompt_file_near_name": Case(
        mutate("prompts/s050.txt", "prompts/s05.txt"),
        37, 24, "prompt file 'prompts/s05.txt' does not exist",
        "did you mean 'prompts/s050.txt'?",
    ),
    "missing_style_file": Case(
        BASE_FILM, 9, 10, "prompt file 'prompts/style.txt' does not exist", "inline",
        setup=_remove("prompts/style.txt"),
    ),
    "missing_reference_image": Case(
        BASE_FILM, 17, 20, "reference image 'references/car.png' does not exist",
        "put the file at references/car.png", setup=_remove("references/car.png"),
    ),
    "unknown_character": Case(
        mutate("      references: [car]", "      references: [cat]"),
        29, 20, "unknown character 'cat'", "did you mean 'car'?",
    ),
    "reference_file_not_under_references": Case(
        mutate("      references: [car]", "      references: [prompts/style.txt]"),
        29, 20, "reference image 'prompts/style.txt' must be under references/",
        "references/style.txt",
    ),
    "dialogue_audio_missing": Case(
        BASE_FILM, 39, 23, "dialogue audio '04_Audio/s050_line.wav' does not exist",
        "put the file", setup=_remove("04_Audio/s050_line.wav"),
    ),
    "audio_outside_04_audio": Case(
        mutate("04_Audio/s050_line.wav", "references/s050_line.wav"),
        39, 23, "dialogue audio 'references/s050_line.wav' must be under 04_Audio/",
        "04_Audio/s050_line.wav", setup=_add("references/s050_line.wav"),
    ),
    "audio_not_audio": Case(
        mutate("04_Audio/s050_line.wav", "04_Audio/s050_line.txt"),
        39, 23, "dialogue audio '04_Audio/s050_line.txt' is not an audio file", ".wav, .mp3",
        setup=_add("04_Audio/s050_line.txt"),
    ),
    "dotdot_escape": Case(
        mutate("style: prompts/style.txt", "style: prompts/../../style.txt"),
        9, 10, "prompt file 'prompts/../../style.txt' points outside the film folder",
        "copy the file into the film",
        setup=lambda root: (root.parent / "style.txt").write_text("x"),
    ),
    "dotdot_escape_audio": Case(
        mutate("04_Audio/s050_line.wav", "../s050_line.wav"),
        39, 23, "dialogue audio '../s050_line.wav' points outside the film folder",
        "04_Audio/s050_line.wav",
    ),
    "absolute_path": Case(
        mutate("reference: references/car.png", "reference: /tmp/car.png"),
        17, 20, "reference image '/tmp/car.png' is an absolute path",
        "write references/car.png",
    ),
    "symlink_outside": Case(
        BASE_FILM, 17, 20, "reference image 'references/car.png' is a symlink to a file outside",
        "instead of linking", setup=_symlink_out("references/car.png"),
    ),
    "prompt_and_structured_fields": Case(
        mutate("{prompt: prompts/s050.txt,", "{prompt: prompts/s050.txt, subject: a car,"),
        37, 16, "shots[1].keyframe has both `prompt` and structured fields", "not both",
    ),
    "empty_keyframe": Case(
        mutate("keyframe: {prompt: prompts/s050.txt, references: [car], takes: 4}",
               "keyframe: {references: [car], takes: 4}"),
        37, 5, "shots[1].keyframe is empty: it needs a `prompt`", "subject:",
    ),
    "unknown_provider": Case(
        mutate("video: {use: local}", "video: {use: klingg}"),
        13, 16, "providers.video.use: unknown provider 'klingg'", "did you mean 'kling'",
    ),
    "workflow_missing": Case(
        mutate("video: {use: local}", "video: {use: comfyui, workflow: workflows/i2v.json}"),
        13, 35, "ComfyUI workflow 'workflows/i2v.json' does not exist",
        "put the file at workflows/i2v.json",
    ),
    "provider_cannot_serve_slot": Case(
        mutate("video: {use: local}", "video: {use: luma}").replace(
            "upscale: {use: local}", "upscale: {use: luma}"
        ),
        14, 12, "providers.upscale: provider 'luma' cannot make upscale takes", "these can:",
    ),
    "shots_empty": Case(
        BASE_FILM.replace(_SHOTS_TAIL, "shots: []\n"),
        18, 8, "shots must list at least one shot", "add a shot",
    ),
    "duration_over_max": Case(
        mutate("    duration: 5\n", "    duration: 12\n"),
        20, 15, "shots[0].duration 12 s is longer than film.max_shot_duration (10 s)",
        "raise film.max_shot_duration",
    ),
}
# fmt: on


def _problems(root: Path, case: Case) -> list[Problem]:
    write_film(root, case.text)
    if case.setup:
        case.setup(root)
    with pytest.raises(SpecError) as info:
        load_film(root)
    return info.value.problems


@pytest.mark.parametrize("name", list(CASES))
def test_broken_film(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    case = CASES[name]
    root = tmp_path / "film"
    monkeypatch.chdir(tmp_path)
    problems = _problems(root, case)
    rendered = "\n".join(p.render() for p in problems)
    assert len(problems) == 1, rendered
    (problem,) = problems
    assert str(problem.location.path) == os.path.join("film", "shots.yaml")
    assert (problem.location.line, problem.location.col) == (case.line, case.col), rendered
    assert case.message in problem.message, rendered
    if case.hint is None:
        assert problem.hint is None
    else:
        assert problem.hint is not None and case.hint in problem.hint, rendered


def test_cases_cover_the_brief() -> None:
    assert len(CASES) >= 20


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    text = mutate("      subject: yellow", "      subjct: yellow")
    text = mutate("    duration: 4\n", "    duration: five\n", text)
    text = mutate("grain: 0.30", "grain: 2", text)
    with pytest.raises(SpecError) as info:
        load_film(write_film(tmp_path, text))
    found = [(p.location.line, p.location.col) for p in info.value.problems]
    assert found == [(8, 10), (23, 7), (36, 15)]  # sorted by position
    assert info.value.exit_code == 2


def test_error_path_is_absolute_outside_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = write_film(tmp_path / "film", mutate("fps: 24", "fps: 25"))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    with pytest.raises(SpecError) as info:
        load_film(root)
    assert str(info.value.problems[0].location) == f"{root / 'shots.yaml'}:4:8"


def test_render_is_file_line_col(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    write_film(tmp_path, mutate("{move: push-in", "{move: push_in"))
    with pytest.raises(SpecError) as info:
        load_film(Path("."))
    assert info.value.render() == (
        "shots.yaml:38:20: shots[1].motion.move: unknown camera move 'push_in' "
        "(hint: did you mean 'push-in'?)"
    )


def test_missing_film_file(tmp_path: Path) -> None:
    with pytest.raises(FilmNotFound, match="no shots.yaml"):
        load_film(tmp_path)


def test_not_utf8(tmp_path: Path) -> None:
    root = write_film(tmp_path)
    (root / "shots.yaml").write_bytes(b"film:\n  title: caf\xe9\n")
    with pytest.raises(SpecError) as info:
        load_film(root)
    (problem,) = info.value.problems
    assert (problem.location.line, problem.location.col) == (2, 13)
    assert "UTF-8" in problem.message


def test_date_like_title_is_text(tmp_path: Path) -> None:
    film = load_film(write_film(tmp_path, mutate("title: Winter to Spring", "title: 2024-05-01")))
    assert film.film.title == "2024-05-01"


def test_problems_only_the_models_see_come_with_the_schemas_in_one_pass(tmp_path: Path) -> None:
    """`fps: 25` (the models' check) and `subjct:` (the schema's) in one film: both at once,
    not the second only after the first is fixed."""
    text = mutate("fps: 24", "fps: 25")
    text = mutate("      subject: yellow", "      subjct: yellow", text)
    text = mutate("draft: 640x360", "draft: 641x360", text)
    with pytest.raises(SpecError) as info:
        load_film(write_film(tmp_path, text))
    said = [(p.location.line, p.location.col, p.message) for p in info.value.problems]
    assert [s[:2] for s in said] == [(4, 8), (6, 18), (23, 7)], said
    assert "fps must be 24 or 30" in said[0][2] and "odd side" in said[1][2]
    assert "unknown key 'subjct'" in said[2][2]
