"""Part 2, one change among many: one shot's motion prompt changes in the N-shot film.

Each round, side by side:
- `change`: a new motion prompt for shot i, then `vf build` of the whole film;
- `no-op`: `vf build` of the whole film again (nothing changed since);
- `shot change`: another new prompt, then `vf build <shot i>` (only that shot's tasks);
- `shot no-op`: `vf build <shot i>` again.
`shot change − shot no-op` is that shot's own work (making and storing its 4 new draft takes),
so the target reads: change ≤ no-op + (shot change − shot no-op).
"""

from __future__ import annotations

import re
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.film import set_motion_prompt, shot_id, vf_argv, vf_env
from bench.noop import NOOP_BUILD, is_noop
from bench.util import REPO, Sample, Series, run_timed

MADE = re.compile(r"^\s*made (\S+) (\S+)(?: t\d+)? \(")


def made_tasks(stdout: str) -> list[tuple[str, str]]:
    """(shot, step) of every `made ...` line of a build ("edit" has no shot)."""
    out = []
    for line in stdout.splitlines():
        if line.strip().startswith("made edit"):
            out.append(("film", "edit"))
            continue
        m = MADE.match(line)
        if m:
            out.append((m.group(1), m.group(2)))
    return out


@dataclass
class ChangeResult:
    n: int
    shot: str
    series: dict[str, Series]
    takes: list[int] = field(default_factory=list)  # takes made by each timed change build
    tasks: list[set[tuple[str, str]]] = field(default_factory=list)

    @property
    def foreign(self) -> set[tuple[str, str]]:
        """Tasks that ran but belong to neither the changed shot nor the edit."""
        return {t for ts in self.tasks for t in ts if t[0] != self.shot and t != ("film", "edit")}

    def _paired(self, label: str, base: str) -> list[float]:
        a, b = self.series[label].samples, self.series[base].samples
        return [x.wall - y.wall for x, y in zip(a, b, strict=True)]

    @property
    def own_work(self) -> float:
        return statistics.median(self._paired("shot change", "shot no-op"))

    @property
    def over_noop(self) -> float:
        """The median, over rounds, of the change build less the no-op after it."""
        return statistics.median(self._paired("change", "no-op"))

    @property
    def excess(self) -> float:
        """The median, over rounds, of (change − no-op) − (shot change − shot no-op): what
        the change cost beyond its no-op and the shot's own work, each round's four builds
        taken together (a slow minute of this shared machine then moves all four alike)."""
        own = self._paired("shot change", "shot no-op")
        return statistics.median(
            c - w for c, w in zip(self._paired("change", "no-op"), own, strict=True)
        )


def run(root: Path, n: int, runs: int, *, log=print) -> ChangeResult:  # type: ignore[no-untyped-def]
    i = n // 2
    sid = shot_id(i)
    log(f"- one change among {n} shots: motion prompt of {sid}")
    labels = ("change", "no-op", "shot change", "shot no-op")
    series = {label: Series(label) for label in labels}
    result = ChangeResult(n, sid, series)
    env = vf_env()
    # A prompt no earlier run used: a recipe made before is never made again (its takes come
    # back from the store), which would time a re-materialization, not a change.
    variant = time.time_ns() // 1_000_000
    try:
        for r in range(1 + runs):
            samples: dict[str, Sample] = {}
            variant += 1
            set_motion_prompt(root, i, variant)
            samples["change"] = run_timed(vf_argv(root, "build"), cwd=REPO, env=env)
            samples["no-op"] = run_timed(vf_argv(root, "build"), cwd=REPO, env=env)
            variant += 1
            set_motion_prompt(root, i, variant)
            samples["shot change"] = run_timed(vf_argv(root, "build", sid), cwd=REPO, env=env)
            samples["shot no-op"] = run_timed(vf_argv(root, "build", sid), cwd=REPO, env=env)
            for label, s in samples.items():
                if s.rc != 0:
                    raise RuntimeError(f"{label}: vf build failed\n{s.stdout}\n{s.stderr}")
            if NOOP_BUILD not in samples["no-op"].stdout:
                raise RuntimeError(
                    f"the build after the change was not a no-op:\n{samples['no-op'].stdout}"
                )
            made = made_tasks(samples["change"].stdout)
            if not made:
                raise RuntimeError(f"the change made nothing:\n{samples['change'].stdout}")
            if r >= 1:
                for label in labels:
                    series[label].samples.append(samples[label])
                result.takes.append(len(made))
                result.tasks.append(set(made))
            log(
                f"    {'warm-up' if r == 0 else f'run {r}/{runs}'}: "
                + ", ".join(f"{k} {v.wall:.3f}s" for k, v in samples.items())
                + f"; the change made {len(made)} take(s) in {len(set(made))} task(s)"
            )
    finally:
        # Put the prompt back: the film is a no-op again (the takes of v001 are still there).
        set_motion_prompt(root, i, 0)
        back = run_timed(vf_argv(root, "build"), cwd=REPO, env=env)
        if not is_noop(back):
            log(f"    (after putting the prompt back, the build was not a no-op:\n{back.stdout})")
    return result
