"""A tiny film for end-to-end tests: the example's shape at thumbnail sizes, so a whole
build takes seconds. Tests run `vf` on it as a user would, in a subprocess."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from ruamel.yaml import YAML

from tests.conftest import EXAMPLE

SHOTS_YAML = """\
# yaml-language-server: $schema=../schema/shots.schema.json
film:
  title: Tiny Film
  fps: 24
  tiers: {draft: 128x72, final: 256x144}
  delivery: 384x216
  grain: 0.3
  style: prompts/style.txt
  negative: low quality
characters:
  car: {reference: references/car.png, description: yellow sports car}
shots:
  - id: s010
    duration: 1
    keyframe:
      shot: aerial wide shot
      subject: yellow car
      action: climbing a snowy road
      references: [car]
      takes: 2
      seed: 10
    motion: {move: tracking, prompt: the camera follows the car, takes: 2}
  - id: s020
    duration: 1.5
    keyframe: {shot: close-up, subject: tail lights, takes: 2, seed: 20}
    motion: {move: push-in, prompt: slow push-in on the lights, takes: 2}
  - id: s030
    duration: 1
    keyframe: {prompt: prompts/s030.txt, takes: 2, seed: 30}
    motion: {move: static, prompt: the driver speaks, takes: 2}
    dialogue: {audio: 04_Audio/line.wav, line: hello}
"""


def make_film(dest: Path) -> Path:
    dest.mkdir(parents=True)
    (dest / "shots.yaml").write_text(SHOTS_YAML)
    for sub in ("prompts", "references", "04_Audio", "locks"):
        (dest / sub).mkdir()
    (dest / "prompts" / "style.txt").write_text("cinematic, film grain\n")
    (dest / "prompts" / "s030.txt").write_text("medium close-up of the driver, spring street\n")
    shutil.copy(EXAMPLE / "references" / "su7_yellow.png", dest / "references" / "car.png")
    from vfbuild.media.ffmpeg import ffmpeg_exe

    subprocess.run(
        [
            ffmpeg_exe(),
            "-v",
            "error",
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:duration=0.8:sample_rate=48000",
            "-bitexact",
            str(dest / "04_Audio" / "line.wav"),
        ],
        check=True,
    )
    return dest


def vf(
    film: Path, *args: str, env: dict[str, str] | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run `vf -C film ARGS` the way a user would."""
    full_env = {**os.environ, **(env or {})}
    proc = subprocess.run(
        [sys.executable, "-m", "vfbuild", "-C", str(film), *args],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=600,
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"vf {' '.join(args)} exited {proc.returncode}\n"
            f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
        )
    return proc


def layout_files(film: Path) -> dict[str, bytes]:
    """Every file in the versioned layout, with its bytes."""
    out = {}
    for top in ("01_Source_Images", "03_Generations", "05_Upscaled", "06_Edit"):
        for p in sorted((film / top).rglob("*")):
            if p.is_file():
                out[p.relative_to(film).as_posix()] = p.read_bytes()
    return out


def share_s010s_keyframe(film: Path) -> None:
    """Write s020's keyframe (and length) as s010's: its takes become s010's recipes."""
    yaml = YAML()
    doc = yaml.load(film / "shots.yaml")
    s010, s020 = doc["shots"][0], doc["shots"][1]
    s020["keyframe"], s020["duration"] = dict(s010["keyframe"]), s010["duration"]
    yaml.dump(doc, film / "shots.yaml")
