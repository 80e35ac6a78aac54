"""The committed JSON Schema is the one generated from the models, and it is a valid schema."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from vfbuild.spec.load import load_film
from vfbuild.spec.schema import (
    REGENERATE,
    REPO_SCHEMA_DIR,
    SCHEMAS,
    build_schema,
    main,
    render_schema,
    validator,
    write_schemas,
)

from . import write_film

# The film sketched in ARCHITECTURE.md, as a user would write it.
ARCHITECTURE_EXAMPLE = """\
# yaml-language-server: $schema=../schema/shots.schema.json
film:
  title: Winter to Spring
  fps: 24
  aspect: "16:9"
  tiers: {draft: 640x360, final: 1920x1080}
  delivery: 3840x2160
  grain: 0.30
  style: prompts/style.txt          # the mood-board lock: appended to every prompt
  negative: fast movements, disfigurements, low quality, artifacts, distortions
providers:
  keyframe: {use: local}            # or {use: fal, model: fal-ai/flux-pro}
  video: {use: local}
  upscale: {use: local}
  lipsync: {use: local}
characters:
  car: {reference: references/su7_yellow.png}
shots:
  - id: s010
    duration: 5
    keyframe:
      shot: aerial wide shot
      subject: yellow sports car, front view, headlights and grille visible
      action: driving up a winding snowy mountain road
      setting: snow-capped peaks, sparse pines
      light: overcast, soft diffused light
      camera: Alexa Mini, 35mm
      look: Cinestill 800T
      references: [car]
      takes: 4
      seed: 1234
    motion:
      move: tracking
      prompt: the camera follows the car as its wheels throw up snow
  - id: s050
    duration: 4
    keyframe: {prompt: prompts/s050.txt, references: [car], takes: 4}
    motion: {move: push-in, prompt: the driver turns and speaks}
    dialogue: {audio: 04_Audio/s050_line.wav}
"""


def test_committed_schemas_are_up_to_date() -> None:
    for name in SCHEMAS:
        committed = REPO_SCHEMA_DIR / name
        assert committed.is_file(), f"schema/{name} is missing; run `{REGENERATE}`"
        assert committed.read_text(encoding="utf-8") == render_schema(name), (
            f"schema/{name} differs from the models; run `{REGENERATE}` and commit the result"
        )


def test_schema_passes_draft_2020_12_meta_validation() -> None:
    for name in SCHEMAS:
        schema = json.loads(render_schema(name))
        Draft202012Validator.check_schema(schema)
        assert list(schema)[:2] == ["$schema", "$id"]
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        assert schema["$id"] == f"https://vfbuild.dev/schema/{name}"


def test_render_is_stable_two_space_json() -> None:
    text = render_schema("shots.schema.json")
    assert text.endswith("}\n") and not text.endswith("\n\n")
    assert text.splitlines()[1].startswith('  "$schema"')
    assert json.dumps(json.loads(text), indent=2, ensure_ascii=False) + "\n" == text


def test_build_schema_returns_a_copy() -> None:
    build_schema("shots.schema.json")["$id"] = "changed"
    assert build_schema("shots.schema.json")["$id"].endswith("shots.schema.json")


def test_write_schemas_and_main(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    written = write_schemas(tmp_path / "a")
    assert [p.name for p in written] == list(SCHEMAS)
    assert written[0].read_text() == render_schema("shots.schema.json")
    assert main([str(tmp_path / "b")]) == 0
    assert (tmp_path / "b" / "shots.schema.json").read_text() == written[0].read_text()
    assert capsys.readouterr().out.split() == [str(tmp_path / "b" / n) for n in SCHEMAS]


def test_architecture_example_validates(tmp_path: Path) -> None:
    from ruamel.yaml import YAML

    data = YAML(typ="safe").load(ARCHITECTURE_EXAMPLE)
    assert list(validator().iter_errors(data)) == []
    files = {
        "prompts/style.txt": "cinematic",
        "prompts/s050.txt": "close-up of the driver",
        "references/su7_yellow.png": "png",
        "04_Audio/s050_line.wav": "wav",
    }
    film = load_film(write_film(tmp_path, ARCHITECTURE_EXAMPLE, files))
    assert [s.id for s in film.shots] == ["s010", "s050"]


def test_schema_rejects_what_editors_should_flag() -> None:
    data = {"film": {"title": "x", "grain": 2}, "shots": [], "extra": 1}
    kinds = sorted(e.validator for e in validator().iter_errors(data))
    assert kinds == ["additionalProperties", "maximum", "minItems"]
