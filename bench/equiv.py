"""The same pipeline as the N-shot film, for GNU make and for DVC.

One task per shot and step, as vfbuild has: keyframe (4 files), draft (4 files, from the picked
keyframe take 1), final, upscale, lipsync for one shot in five, and the edit from every shot's
last file. Each shot's spec is a small text file both tools depend on, as vf depends on
shots.yaml. So both pipelines have vf's number of tasks (4N + N/5 + 1) and of output files
(10N + N/5 + 1).
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from bench.film import SHOTS_PER_DIALOGUE, TAKES, shot_id


def _tasks(n: int) -> list[tuple[str, list[str], list[str]]]:
    """(name, deps, outs) per task, in build order; paths relative to the pipeline folder."""
    tasks: list[tuple[str, list[str], list[str]]] = []
    lasts = []
    for i in range(1, n + 1):
        sid = shot_id(i)
        spec, d = f"specs/{sid}.txt", f"out/{sid}"
        kf = [f"{d}/keyframe_t{t}" for t in range(1, TAKES + 1)]
        dr = [f"{d}/draft_t{t}" for t in range(1, TAKES + 1)]
        tasks.append((f"{sid}_keyframe", [spec], kf))
        tasks.append((f"{sid}_draft", [spec, kf[0]], dr))
        tasks.append((f"{sid}_final", [dr[0]], [f"{d}/final"]))
        tasks.append((f"{sid}_upscale", [f"{d}/final"], [f"{d}/upscale"]))
        last = f"{d}/upscale"
        if i % SHOTS_PER_DIALOGUE == 0:
            tasks.append((f"{sid}_lipsync", [last, "audio/line.wav"], [f"{d}/lipsync"]))
            last = f"{d}/lipsync"
        lasts.append(last)
    tasks.append(("edit", lasts, ["out/edit.mp4"]))
    return tasks


def _write_sources(root: Path, n: int) -> None:
    (root / "specs").mkdir(parents=True)
    (root / "audio").mkdir()
    (root / "audio" / "line.wav").write_bytes(b"RIFF fake audio\n")
    for i in range(1, n + 1):
        (root / "specs" / f"{shot_id(i)}.txt").write_text(f"shot {i}: the camera follows\n")


def _write_outputs(root: Path, tasks: list[tuple[str, list[str], list[str]]]) -> None:
    """What a first build writes, in build order (so every target is newer than its inputs)."""
    for name, _, outs in tasks:
        for out in outs:
            p = root / out
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(f"{name} {out}\n")


def count(n: int) -> tuple[int, int]:
    tasks = _tasks(n)
    return len(tasks), sum(len(o) for _, _, o in tasks)


# --------------------------------------------------------------------------- make


def make_pipeline(root: Path, n: int, make: str = "make") -> Path:
    """A Makefile with one rule per task (grouped targets for the takes), already built."""
    tasks = _tasks(n)
    _write_sources(root, n)
    lines = [".PHONY: all", f"all: {tasks[-1][2][0]}", ""]
    for name, deps, outs in tasks:
        lines.append(f"{' '.join(outs)} &: {' '.join(deps)}")
        lines.append(f"\t@mkdir -p $(dir {outs[0]}) && for f in {' '.join(outs)}; do "
                     f"echo {name} > $$f; done")  # fmt: skip
    (root / "Makefile").write_text("\n".join(lines) + "\n")
    _write_outputs(root, tasks)
    q = subprocess.run([make, "-r", "-q"], cwd=root, capture_output=True)
    if q.returncode != 0:  # equal timestamps on a coarse filesystem: let make build it
        subprocess.run([make, "-r", "-j2", "-s"], cwd=root, check=True, capture_output=True)
    return root


# --------------------------------------------------------------------------- DVC


def dvc_pipeline(root: Path, n: int, dvc: str, env: dict[str, str]) -> Path:
    """A DVC project (no git) with one stage per task, committed (dvc.lock written)."""
    tasks = _tasks(n)
    _write_sources(root, n)
    subprocess.run([dvc, "init", "--no-scm", "-q"], cwd=root, check=True, env=env)
    subprocess.run([dvc, "config", "core.analytics", "false"], cwd=root, check=True, env=env)
    stages = {}
    for name, deps, outs in tasks:
        cmd = f"mkdir -p {os.path.dirname(outs[0])} && " + " && ".join(
            f"echo {name} > {o}" for o in outs
        )
        stages[name] = {"cmd": cmd, "deps": deps, "outs": outs}
    # JSON is YAML: writing it is instant, and DVC reads it like any dvc.yaml.
    (root / "dvc.yaml").write_text(json.dumps({"stages": stages}, indent=1) + "\n")
    _write_outputs(root, tasks)
    # `dvc commit` hashes every dep and out and writes dvc.lock, as a first `dvc repro` would,
    # without starting a shell per stage.
    subprocess.run([dvc, "commit", "-f", "-q"], cwd=root, check=True, env=env, capture_output=True)
    return root
