"""A small film for the edit's tests: six shots at thumbnail sizes, every shot picked, so a
whole build takes seconds; s030 has two draft takes to change its pick between."""

from __future__ import annotations

import subprocess
from pathlib import Path

import vfbuild
from vfbuild.media.ffmpeg import ffmpeg_exe

HEAD = """\
film:
  title: Cut Test
  fps: 24
  tiers: {draft: 64x36, final: 96x54}
  delivery: 128x72
  grain: 0.3
"""

SHOT = """\
  - id: {id}
    duration: {duration}
    keyframe: {{shot: wide shot, subject: shot {id}, takes: 1, seed: {seed}}}
    motion: {{move: push-in, prompt: it moves, takes: {takes}}}
"""

IDS = ["s010", "s020", "s030", "s040", "s050", "s060"]
DURATIONS = [0.5, 0.75, 0.5, 1.0, 0.5, 0.625]


def shots_yaml(order: list[str] | None = None, extra: str = "") -> str:
    text = HEAD + extra + "shots:\n"
    for sid in order or IDS:
        i = IDS.index(sid)
        text += SHOT.format(
            id=sid, duration=DURATIONS[i], seed=10 * (i + 1), takes=2 if sid == "s030" else 1
        )
        if sid == "s050":
            text += "    dialogue: {audio: 04_Audio/line.wav, line: Spring is coming.}\n"
    return text


def make_cut_film(dest: Path, *, draft_take: int = 1, extra: str = "") -> Path:
    """The film, built and picked to the end (s030's draft pick: `draft_take`)."""
    dest.mkdir(parents=True)
    (dest / "shots.yaml").write_text(shots_yaml(extra=extra))
    (dest / "04_Audio").mkdir()
    subprocess.run(
        [ffmpeg_exe(), "-v", "error", "-f", "lavfi", "-i",
         "sine=frequency=440:duration=0.4:sample_rate=48000", "-bitexact",
         str(dest / "04_Audio" / "line.wav")],
        check=True,
    )  # fmt: skip
    film = vfbuild.open(dest)
    assert film.build(tier="draft").ok
    for sid in IDS:
        film.pick(sid, "keyframe", 1)
    assert vfbuild.open(dest).build(tier="draft").ok
    for sid in IDS:
        vfbuild.open(dest).pick(sid, "draft", draft_take if sid == "s030" else 1)
    report = vfbuild.open(dest).build()
    assert report.ok, [e.render() for e in report.errors]
    return dest


def framemd5(path: Path) -> list[str]:
    """The md5 of every decoded picture frame, in order."""
    out = subprocess.run(
        [ffmpeg_exe(), "-v", "error", "-i", str(path), "-map", "0:v", "-f", "framemd5", "-"],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    return [ln.rsplit(",", 1)[1].strip() for ln in out.splitlines() if not ln.startswith("#")]
