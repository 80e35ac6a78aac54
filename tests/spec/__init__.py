"""Tests of vfbuild.spec, and a valid base film that the broken-film cases mutate."""

from __future__ import annotations

from pathlib import Path

# Line numbers matter: test_broken asserts exact positions in this text.
BASE_FILM = """\
# yaml-language-server: $schema=../schema/shots.schema.json
film:
  title: Winter to Spring
  fps: 24
  aspect: "16:9"
  tiers: {draft: 640x360, final: 1920x1080}
  delivery: 3840x2160
  grain: 0.30
  style: prompts/style.txt
  negative: fast movements, low quality, artifacts
providers:
  keyframe: {use: local}
  video: {use: local}
  upscale: {use: local}
  lipsync: {use: local}
characters:
  car: {reference: references/car.png, description: a yellow sports car}
shots:
  - id: s010
    duration: 5
    keyframe:
      shot: aerial wide shot
      subject: yellow sports car, front view
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

BASE_FILES = {
    "prompts/style.txt": "cinematic, muted winter palette\n",
    "prompts/s050.txt": "close-up of the driver,\n  snow outside the window\n",
    "references/car.png": "not really a png",
    "04_Audio/s050_line.wav": "not really a wav",
}


def write_film(root: Path, text: str = BASE_FILM, files: dict[str, str] | None = None) -> Path:
    """Write a film folder: shots.yaml plus the files it names."""
    root.mkdir(parents=True, exist_ok=True)
    for name, content in (BASE_FILES if files is None else files).items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    (root / "shots.yaml").write_text(text)
    return root


def mutate(old: str, new: str, text: str = BASE_FILM) -> str:
    """Replace one unique piece of the base film, so each case breaks exactly one thing."""
    assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times"
    return text.replace(old, new)
