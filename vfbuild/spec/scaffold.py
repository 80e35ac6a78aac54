"""`vf init`: a new film folder that loads, builds offline, and teaches the format by example."""

from __future__ import annotations

import re
from pathlib import Path

from vfbuild.errors import UsageError
from vfbuild.fsutil import atomic_write_text
from vfbuild.spec.schema import render_schema
from vfbuild.store import vfdir

SCHEMA_DIR = ".vf-schema"
MODELINE = f"# yaml-language-server: $schema={SCHEMA_DIR}/shots.schema.json"

# Build products: made by `vf build`, shared through the cache, never through git. What stays
# tracked is the film's text: shots.yaml, prompts/, references/, 04_Audio/, locks/, the ledger.
GITIGNORE = f"""\
# vfbuild build products (rebuilt from shots.yaml + locks/, shared through the cache)
{vfdir.VF}/
01_Source_Images/
03_Generations/
05_Upscaled/
06_Edit/
"""

STYLE = (
    "cinematic, natural film grain, muted winter palette, soft contrast, "
    "shallow depth of field, anamorphic lens flare\n"
)

SHOTS_YAML = """\
{modeline}
# The film, as code. `vf check` validates this file; `vf build` makes what is stale.
# Text values that start with prompts/ are read from that file; anything else is the text.

film:
  title: {title}
  fps: 24                     # 24 or 30
  aspect: "16:9"
  tiers:
    draft: 640x360            # test renders: cheap, fast
    final: 1920x1080          # final renders and keyframes
  delivery: 3840x2160         # upscale and edit
  grain: 0.3                  # film grain over the edit, 0 = none
  style: prompts/style.txt    # the mood-board lock, appended to every prompt
  negative: fast movements, disfigurements, low quality, artifacts, distortions

providers:                    # `local` renders offline previz; no keys, no cost
  keyframe: {{use: local}}
  video: {{use: local}}
  upscale: {{use: local}}
  lipsync: {{use: local}}

# characters:                 # name -> reference image; name them in keyframe.references
#   hero: {{reference: references/hero.png, description: woman in a red wool coat}}

shots:
  - id: s010
    duration: 5
    keyframe:                 # structured fields, in this order; or one `prompt:`
      shot: aerial wide shot
      subject: a lone cabin at the edge of a frozen lake
      action: smoke rising from the chimney
      setting: snow-capped peaks, sparse pines
      light: overcast, soft diffused light
      camera: Alexa Mini, 35mm
      look: Cinestill 800T
      takes: 4
      seed: 1234
    motion:
      move: drone-rising
      prompt: the camera rises slowly over the lake

  - id: s020
    duration: 4
    keyframe:
      shot: medium close-up
      subject: the cabin's frosted window, warm light inside
      light: blue hour, warm interior glow
      camera: Alexa Mini, 50mm
      look: Cinestill 800T
      takes: 4
      seed: 2024
    motion:
      move: push-in
      prompt: snowflakes drift past the window
    # dialogue: {{audio: 04_Audio/s020_line.wav, line: "Anyone home?"}}
"""


def default_title(path: Path) -> str:
    """`my-film` -> `My Film`."""
    words = re.split(r"[-_\s]+", path.name.strip())
    return " ".join(w[:1].upper() + w[1:] for w in words if w) or "Untitled"


def _yaml_text(value: str) -> str:
    # A plain scalar could be read as a number, a date or a mapping; double-quote when unsure.
    if re.fullmatch(r"[A-Za-z][A-Za-z0-9 ,.'!?()-]*", value) and not value.endswith(" "):
        return value
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def init_film(path: Path, title: str | None = None) -> None:
    """Create a new film folder at `path` (which must not exist, or be empty)."""
    if path.exists():
        if not path.is_dir():
            raise UsageError(f"{path} exists and is not a folder", hint="choose a new folder name")
        if any(path.iterdir()):
            raise UsageError(
                f"{path} already exists and is not empty",
                hint="choose a new folder name, or run `vf init` on an empty folder",
            )
    title = title if title is not None and title.strip() else default_title(path.resolve())
    files = {
        "shots.yaml": SHOTS_YAML.format(modeline=MODELINE, title=_yaml_text(title.strip())),
        f"{SCHEMA_DIR}/shots.schema.json": render_schema("shots.schema.json"),
        "prompts/style.txt": STYLE,
        "references/.gitkeep": "",
        "locks/.gitkeep": "",
        "04_Audio/.gitkeep": "",
        ".gitignore": GITIGNORE,
    }
    for name, text in files.items():
        target = path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(target, text)
