"""Generate an N-shot film for the instant provider, and bring it to "everything built".

Every shot has 4 keyframe takes, 4 draft takes, a final and an upscale; one shot in five has
dialogue (lipsync). All keyframes and drafts are picked (take 1) through the library, as `vf
pick` would. `python3 -m bench.film DIR N` makes and builds one from the command line.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from bench.instant import MEDIA_DIR

SHOTS_PER_DIALOGUE = 5  # one shot in five speaks
TAKES = 4

MOVES = ("static", "push-in", "pull-out", "pan-left", "pan-right", "tracking", "drone-rising")
SUBJECTS = ("yellow sports car", "the driver", "a snowy pass", "a blossoming avenue", "a bridge")
SETTINGS = ("mountain road in snow", "spring city at dusk", "river promenade", "valley road")
LIGHTS = ("overcast, soft light", "golden hour", "blue hour, street lights", "noon sun")

HEADER = """\
film:
  title: Bench Film {n}
  fps: 24
  aspect: "16:9"
  tiers: {{draft: 32x18, final: 32x18}}
  delivery: 32x18
  grain: 0.3
  style: prompts/style.txt
  negative: fast movements, disfigurements, low quality, artifacts

providers:
  keyframe: {{use: instant}}
  video: {{use: instant}}
  upscale: {{use: instant}}
  lipsync: {{use: instant}}

shots:
"""

SHOT = """\
  - id: {id}
    duration: {duration}
    keyframe:
      shot: {framing}
      subject: {subject}
      action: driving past shot {id}
      setting: {setting}
      light: {light}
      camera: Alexa Mini, 35mm
      look: Cinestill 800T
      takes: {takes}
      seed: {seed}
    motion:
      move: {move}
      prompt: {motion}
      takes: {takes}
"""

DIALOGUE = """\
    dialogue:
      audio: 04_Audio/line.wav
      line: Line number {i}.
"""


def shot_id(i: int) -> str:
    return f"s{i:05d}"


def motion_prompt(i: int, variant: int = 0) -> str:
    base = f"the camera follows the car through shot {i}"
    return base if variant == 0 else f"{base}, variant {variant}"


def shots_yaml(n: int) -> str:
    parts = [HEADER.format(n=n)]
    for i in range(1, n + 1):
        parts.append(
            SHOT.format(
                id=shot_id(i),
                duration=0.5,
                framing=("aerial wide shot", "close-up", "tracking side shot")[i % 3],
                subject=SUBJECTS[i % len(SUBJECTS)],
                setting=SETTINGS[i % len(SETTINGS)],
                light=LIGHTS[i % len(LIGHTS)],
                takes=TAKES,
                seed=1000 + i * 10,
                move=MOVES[i % len(MOVES)],
                motion=motion_prompt(i),
            )
        )
        if i % SHOTS_PER_DIALOGUE == 0:
            parts.append(DIALOGUE.format(i=i))
    return "".join(parts)


def _line_wav() -> Path:
    path = MEDIA_DIR / "line.wav"
    if not path.exists():
        from vfbuild.media.ffmpeg import ffmpeg_exe

        MEDIA_DIR.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.wav")
        subprocess.run(
            [ffmpeg_exe(), "-v", "error", "-y", "-f", "lavfi", "-i",
             "sine=frequency=440:duration=0.5:sample_rate=48000", "-bitexact", str(tmp)],
            check=True,
        )  # fmt: skip
        tmp.replace(path)
    return path


def make_film(dest: Path, n: int) -> Path:
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    (dest / "shots.yaml").write_text(shots_yaml(n))
    for sub in ("prompts", "references", "04_Audio", "locks"):
        (dest / sub).mkdir()
    (dest / "prompts" / "style.txt").write_text("cinematic, film grain, anamorphic\n")
    shutil.copy(_line_wav(), dest / "04_Audio" / "line.wav")
    return dest


def set_motion_prompt(film: Path, i: int, variant: int) -> None:
    """Change shot i's motion prompt in place (one line of shots.yaml)."""
    path = film / "shots.yaml"
    text = path.read_text()
    lines = text.split("\n")
    start = lines.index(f"  - id: {shot_id(i)}")
    for j in range(start + 1, len(lines)):
        if lines[j].startswith("      prompt: "):
            lines[j] = f"      prompt: {motion_prompt(i, variant)}"
            break
    else:
        raise ValueError(f"no motion prompt for {shot_id(i)}")
    path.write_text("\n".join(lines))


def _pick_all(film: Path, step: str) -> None:
    """Pick take 1 of `step` for every shot, in this process, as `vf pick` does."""
    from bench.instant import register
    from vfbuild.plan.pick import pick_take

    register()
    from vfbuild.project import Project

    project = Project.open(film)
    for sid in project.shot_ids:
        if project.locks.pick(sid, step) is None:
            pick_take(project, sid, step, 1)


REPO = Path(__file__).resolve().parent.parent


def vf_argv(film: Path, *args: str) -> list[str]:
    """`vf -C film ARGS` with the instant provider registered."""
    # -P: nothing from the working folder on sys.path, so BENCH_VF_TREE's vfbuild is used
    return [sys.executable, "-P", "-m", "bench.vf_instant", "-C", str(film), *args]


def vf_env(instant_edit: bool = True) -> dict[str, str]:
    """The environment of a timed vf: bench importable; with BENCH_VF_TREE=DIR (bench/run
    --vf-tree), the vfbuild package from DIR instead of this checkout's."""
    env = dict(os.environ)
    tree = env.get("BENCH_VF_TREE")
    path = [tree] if tree else []
    env["PYTHONPATH"] = os.pathsep.join([*path, str(REPO), env.get("PYTHONPATH", "")])
    if instant_edit:
        env["VF_BENCH_EDIT"] = "instant"
    else:
        env.pop("VF_BENCH_EDIT", None)
    return env


def _build(film: Path, shots: list[str] | None = None, instant_edit: bool = True) -> int:
    """One `vf build -j 2` through the CLI (a subprocess); returns how many artifacts it made.
    With `shots`, only those shots' steps are built (no rough-cut edit)."""
    proc = subprocess.run(
        vf_argv(film, "build", "-j", "2", *(shots or [])),
        capture_output=True,
        text=True,
        cwd=REPO,
        env=vf_env(instant_edit),
    )
    if proc.returncode != 0:
        raise RuntimeError(f"vf build failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return sum(1 for line in proc.stdout.splitlines() if line.startswith("  made "))


def build_all(film: Path, *, instant_edit: bool = True, log=print) -> dict[str, float]:  # type: ignore[no-untyped-def]
    """keyframes → pick → drafts → pick → final, upscale, lipsync and the edit."""
    from bench.instant import register

    register()
    # The first two builds name every shot, so no rough cut is rendered on the way.
    shots = [line.split()[-1] for line in (film / "shots.yaml").read_text().splitlines()
             if line.startswith("  - id: ")]  # fmt: skip
    times: dict[str, float] = {}
    for phase, what in (
        ("keyframes", lambda: _build(film, shots)),
        ("keyframe picks", lambda: _pick_all(film, "keyframe")),
        ("drafts", lambda: _build(film, shots)),
        ("draft picks", lambda: _pick_all(film, "draft")),
        ("finals, upscales, lipsyncs and the edit", lambda: _build(film, None, instant_edit)),
    ):
        t0 = time.perf_counter()
        made = what()
        times[phase] = time.perf_counter() - t0
        extra = f", made {made}" if isinstance(made, int) else ""
        log(f"    setup {phase}: {times[phase]:.1f}s{extra}")
    return times


if __name__ == "__main__":
    dest, n = Path(sys.argv[1]), int(sys.argv[2])
    make_film(dest, n)
    build_all(dest)
