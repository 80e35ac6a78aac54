"""Issue 20's targets: the paths that miss the no-op stamp, at N shots (`bench/run perf`).

Each round runs, side by side with the stamped no-op `vf build` of the same film (the
farm-bench pairing: a slow minute of this shared machine moves all of a round alike):

- `vf status` warm (its stamp from the round before);
- `touched`: shots.yaml's mtime moved, its bytes the same, then `vf build`;
- `full check`: the no-op stamp removed, then `vf build` (every step checked);
- `cold cache`: all of `.vf/cache` removed, then `vf build`;
- `one change`: a new motion prompt for the middle shot, then `vf build` (it makes that
  shot's takes and the edit); the prompt is put back and built again after the round.

Each is checked for what it must do (a no-op says so; the change made takes); medians of the
kept rounds, and their ratio to the paired stamped build.
"""

from __future__ import annotations

import functools
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench.film import set_motion_prompt, vf_argv, vf_env
from bench.noop import NOOP_BUILD, film, is_noop
from bench.util import REPO, Sample, Series, run_timed, secs

# label → (target in seconds, sizes it is a target at)
TARGETS: dict[str, tuple[float, tuple[int, ...]]] = {
    "vf status": (0.2, (1000,)),
    "touched": (0.2, (1000,)),
    "cold cache": (1.2, (1000,)),
    "one change": (1.5, (5000,)),
}
STATUS_5000 = 0.3  # `vf status` at 5000 shots
SECTION = "## Issue 20 targets (`bench/run perf`)"


@dataclass
class PerfResult:
    n: int
    series: dict[str, Series]


def _touch(root: Path) -> None:
    path = root / "shots.yaml"
    now = time.time_ns()
    os.utime(path, ns=(now, now))


def _drop(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def run(sizes: list[int], runs: int, *, fresh: bool, log=print) -> list[PerfResult]:  # type: ignore[no-untyped-def]
    env = vf_env()
    results = []
    for n in sizes:
        log(f"- issue 20 paths, {n} shots")
        root, _ = film(n, fresh=fresh, log=log)
        mid = n // 2
        variant = time.time_ns() // 1_000_000  # prompts no earlier run used
        build = vf_argv(root, "build")

        def change(root: Path = root, mid: int = mid) -> None:
            nonlocal variant
            variant += 1
            set_motion_prompt(root, mid, variant)

        status = vf_argv(root, "status")

        def warm_status(status: list[str] = status) -> None:
            run_timed(status, cwd=REPO, env=env)  # its stamp, in the world of the next run

        steps: dict[str, tuple[Callable[[], None] | None, list[str]]] = {
            "vf build": (None, build),
            "vf status": (warm_status, status),
            "touched": (functools.partial(_touch, root), build),
            "full check": (functools.partial(_drop, root / ".vf/cache/noop-stamp.json"), build),
            "cold cache": (functools.partial(_drop, root / ".vf/cache"), build),
            "one change": (change, build),
        }
        series = {label: Series(label) for label in steps}
        try:
            for r in range(1 + runs):
                for label, (prep, argv) in steps.items():
                    _settle(root, build, env)  # each starts from a stamped no-op film
                    if prep is not None:
                        prep()
                    s = run_timed(argv, cwd=REPO, env=env)
                    _check(label, s, n)
                    if label == "one change":
                        set_motion_prompt(root, mid, 0)
                    if r >= 1:
                        series[label].samples.append(s)
                kept = "warm-up" if r == 0 else f"run {r}/{runs}"
                log(
                    f"    {kept}: "
                    + ", ".join(
                        f"{k} {v.samples[-1].wall:.3f}s" if r else k for k, v in series.items()
                    )
                )
        finally:
            set_motion_prompt(root, mid, 0)
            back = run_timed(build, cwd=REPO, env=env)
            run_timed(build, cwd=REPO, env=env)  # the stamp again, for the next part
            if back.rc != 0:
                log(f"    (the film did not build again after the rounds:\n{back.stderr})")
        results.append(PerfResult(n, series))
    return results


def _settle(root: Path, build: list[str], env: dict[str, str]) -> None:
    """Build until the film is a no-op with its stamp (a stamp is written only when nothing
    changed in the last two seconds: `vfbuild.plan.stamp.RACY_SECONDS`)."""
    for _ in range(4):
        s = run_timed(build, cwd=REPO, env=env)
        if s.rc != 0:
            raise RuntimeError(f"vf build failed:\n{s.stderr[-2000:]}")
        if is_noop(s) and (root / ".vf/cache/noop-stamp.json").exists():
            return
        time.sleep(2.1)
    raise RuntimeError("the film does not keep its no-op stamp")


def _check(label: str, s: Sample, n: int) -> None:
    if s.rc != 0:
        raise RuntimeError(f"{label} at {n} shots failed:\n{s.stdout[-1500:]}\n{s.stderr[-1500:]}")
    if label == "one change":
        if "made " not in s.stdout:
            raise RuntimeError(f"the change made nothing:\n{s.stdout[-1500:]}")
    elif label == "vf status":
        if len(s.stdout.splitlines()) < n:
            raise RuntimeError(f"vf status printed too little:\n{s.stdout[-1500:]}")
    elif not is_noop(s):
        raise RuntimeError(f"{label} at {n} shots was not a no-op:\n{s.stdout[-1500:]}")
    elif NOOP_BUILD not in s.stdout:
        raise RuntimeError(f"{label}: no no-op line:\n{s.stdout[-1500:]}")


def markdown(results: list[PerfResult], *, command: str, load: str, runs: int) -> str:
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    out = [
        SECTION,
        "",
        f"`{command}`, {when}, {runs} kept rounds after a warm-up, load average {load} on "
        "2 cores (shared: read the ratios to the paired stamped build as much as the times).",
        "",
        "| shots | path | median wall | min–max | CPU | ÷ stamped build | target | met |",
        "| ---: | --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for res in results:
        base = res.series["vf build"]
        for label, s in res.series.items():
            target: float | None = None
            want, at = TARGETS.get(label, (None, ()))
            if res.n in at:
                target = want
            if label == "vf status" and res.n == 5000:
                target = STATUS_5000
            met = "" if target is None else ("yes" if s.wall <= target else "**no**")
            tgt = "" if target is None else f"≤ {secs(target)}"
            ratio = "1×" if s is base else f"{s.wall / base.wall:.1f}×"
            out.append(
                f"| {res.n} | {label} | {secs(s.wall)} | {s.spread} s | {secs(s.cpu)} | {ratio} "
                f"| {tgt} | {met} |"
            )
    return "\n".join(out) + "\n"


def write_section(path: Path, text: str) -> None:
    """Put `text` in `path` in place of an earlier section of this part, else at the end."""
    old = path.read_text() if path.exists() else ""
    if SECTION in old:
        head, _, rest = old.partition(SECTION)
        nxt = rest.find("\n## ")
        tail = rest[nxt + 1 :] if nxt >= 0 else ""
        new = head + text + ("\n" + tail if tail else "")
    else:
        new = old.rstrip("\n") + "\n\n" + text
    path.write_text(new)
