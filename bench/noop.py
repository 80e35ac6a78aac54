"""Part 1, no-op at scale: `vf build` and `vf plan` of an N-shot film where nothing changed,
side by side with `make -r` and `dvc status` (and `dvc repro`) on the equivalent pipeline."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench import equiv
from bench.film import build_all, make_film, vf_argv, vf_env
from bench.util import BENCH, MAKE, REPO, WORK, Sample, Series, dvc_env, rounds

NOOP_BUILD = "nothing to do: everything is up to date"
NOOP_PLAN = "nothing to build: everything is up to date"


def _digest(*files: Path, extra: str = "") -> str:
    h = hashlib.sha256(extra.encode())
    for f in files:
        h.update(f.read_bytes())
    return h.hexdigest()[:16]


def film_stamp(n: int) -> str:
    """What the kept film must have been made from: the same shots.yaml, the same provider."""
    from bench.film import shots_yaml
    from bench.instant import VERSION

    return hashlib.sha256(f"{shots_yaml(n)}\0instant {VERSION}\0instant-edit".encode()).hexdigest()[
        :16
    ]


def is_noop(sample: Sample) -> bool:
    return sample.rc == 0 and NOOP_BUILD in sample.stdout and "note:" not in sample.stdout


def film(n: int, *, fresh: bool, log=print) -> tuple[Path, dict[str, float] | None]:  # type: ignore[no-untyped-def]
    """The built N-shot film, kept in bench/out/work between runs of the benchmark (a 5000-shot
    setup takes many minutes). Reused only if it was made by the same generator and a build
    of it makes nothing; else made again. Returns (folder, setup times if it was made now)."""
    from bench.util import run_timed

    root = WORK / f"film-{n}"
    stamp = root / ".bench-stamp"
    if os.environ.get("BENCH_VF_TREE"):
        return _tree_copy(root, n, log=log), None
    if not fresh and stamp.exists() and stamp.read_text() == film_stamp(n):
        check = run_timed(vf_argv(root, "build"), cwd=REPO, env=vf_env())
        if is_noop(check):
            log(f"  film-{n}: reusing the film built by an earlier run (a build of it is a no-op)")
            return root, None
        log(f"  film-{n}: the kept film is not a no-op any more; making it again")
    log(f"  film-{n}: generating {n} shots and building them with the instant provider ...")
    start = time.perf_counter()
    make_film(root, n)
    times = build_all(root, log=log)
    times["total"] = time.perf_counter() - start
    stamp.write_text(film_stamp(n))
    return root, times


def _tree_copy(root: Path, n: int, *, log=print) -> Path:  # type: ignore[no-untyped-def]
    """For --vf-tree (another vfbuild, e.g. before a fix): a copy of the kept film without
    this checkout's caches, whose formats the other tree may not read."""
    if not (root / ".bench-stamp").exists():
        raise RuntimeError(f"--vf-tree needs film-{n} built by this checkout first")
    copy = WORK / f"film-{n}-tree"
    if copy.exists():
        shutil.rmtree(copy)
    log(f"  film-{n}: copying it for {os.environ['BENCH_VF_TREE']} (hard links kept)")
    subprocess.run(["cp", "-a", str(root), str(copy)], check=True)
    shutil.rmtree(copy / ".vf" / "cache", ignore_errors=True)
    (copy / ".vf" / "recipes" / "index.log").unlink(missing_ok=True)
    return copy


def dvc_project(n: int, dvc: str, dvc_version: str, *, fresh: bool, log=print) -> Path:  # type: ignore[no-untyped-def]
    from bench.util import run_timed

    root = WORK / f"dvc-{n}"
    stamp = root / ".bench-stamp"
    want = _digest(BENCH / "equiv.py", BENCH / "film.py", extra=f"n={n} {dvc_version}")
    if not fresh and stamp.exists() and stamp.read_text() == want:
        check = run_timed([dvc, "status"], cwd=root, env=dvc_env())
        if check.rc == 0 and "up to date" in check.stdout:
            log(f"  dvc-{n}: reusing the DVC project of an earlier run")
            return root
    if root.exists():
        shutil.rmtree(root)
    log(f"  dvc-{n}: generating {equiv.count(n)[0]} stages and committing them (dvc commit) ...")
    start = time.perf_counter()
    equiv.dvc_pipeline(root, n, dvc, dvc_env())
    log(f"  dvc-{n}: ready in {time.perf_counter() - start:.0f}s")
    stamp.write_text(want)
    return root


@dataclass
class NoopResult:
    n: int
    tasks: int
    files: int
    series: dict[str, Series]
    setup: dict[str, float] | None
    missing: dict[str, str] = field(default_factory=dict)  # label → why it was not run


def run(
    sizes: list[int],
    runs: int,
    *,
    dvc: str | None,
    dvc_version: str,
    dvc_max: int,
    repro_max: int,
    fresh: bool,
    log=print,  # type: ignore[no-untyped-def]
) -> list[NoopResult]:
    results = []
    for n in sizes:
        log(f"- no-op, {n} shots")
        root, setup = film(n, fresh=fresh, log=log)
        mk = WORK / f"make-{n}"
        if mk.exists():
            shutil.rmtree(mk)
        equiv.make_pipeline(mk, n, MAKE)
        commands = {
            "vf build": (vf_argv(root, "build"), REPO, vf_env()),
            "vf plan": (vf_argv(root, "plan"), REPO, vf_env()),
            "make -r": ([MAKE, "-r"], mk, None),
        }
        missing = {}
        if dvc is None:
            missing["dvc status"] = "DVC is not installed (and could not be installed)"
        elif n > dvc_max:
            missing["dvc status"] = (
                f"not run at {n} shots (over --dvc-max {dvc_max}: DVC needs minutes per call "
                "here; pass --dvc-max to include it)"
            )
        else:
            dv = dvc_project(n, dvc, dvc_version, fresh=fresh, log=log)
            commands["dvc status"] = ([dvc, "status"], dv, dvc_env())
            if n <= repro_max:
                commands["dvc repro"] = ([dvc, "repro"], dv, dvc_env())
            else:
                missing["dvc repro"] = f"not run at {n} shots (over --repro-max {repro_max})"

        def check(label: str, s: Sample, n: int = n) -> None:
            ok = {
                "vf build": is_noop(s),
                "vf plan": s.rc == 0 and NOOP_PLAN in s.stdout,
                "make -r": s.rc == 0 and "Nothing to be done" in s.stdout,
                "dvc status": s.rc == 0 and "up to date" in s.stdout,
                "dvc repro": s.rc == 0 and "up to date" in s.stdout,
            }[label]
            if not ok:
                raise RuntimeError(
                    f"{label} on the {n}-shot pipeline was not a no-op:\n"
                    f"{s.stdout[-1500:]}\n{s.stderr[-1500:]}"
                )

        series = rounds(commands, runs, check=check, log=log)
        tasks, files = equiv.count(n)
        results.append(NoopResult(n, tasks, files, series, setup, missing))
    return results
