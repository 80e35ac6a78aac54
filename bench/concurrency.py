"""Part 3, concurrency: 40 draft takes against fal's fake with a fixed job latency, at
`-j 1, 4, 8, 16`, against the ideal ceil(40 / j) × latency.

The film has 10 shots of 4 draft takes; keyframes come from the instant provider and are
picked once. Each round gives every shot a new motion prompt (so all 40 takes are new) and
runs `vf build --tier draft <the 10 shots> -j J` for each J, side by side. The fake runs in
this process (a threaded HTTP server on 127.0.0.1) with one shared result per size, so its
ffmpeg does not compete with the build for the 2 cores.

Reported: the whole process's wall time, and the build's own time (wall minus the median of the
same command when nothing is left to make: start-up, loading and resolving), against the ideal.
Beside it, in the same rounds, the floor: the same takes sent by a bare httpx client with no
bookkeeping (`bench/bare_client.py`), timed from before it imports httpx.
"""

from __future__ import annotations

import math
import re
import shutil
import statistics
import sys
from dataclasses import dataclass, field
from pathlib import Path

from bench.film import _pick_all, vf_argv, vf_env
from bench.util import REPO, WORK, Sample, run_timed, secs, table

LATENCY = 0.5
JOBS = (1, 4, 8, 16)
TAKE_TIME = re.compile(r" made \S+ draft t\d+ \(fal, ([0-9.]+)s")

SHOT = """\
  - id: c{i:02d}
    duration: 1
    keyframe: {{subject: car number {i}, takes: 1, seed: {i}}}
    motion: {{move: push-in, prompt: {prompt}, takes: {takes}}}
"""


def _film(root: Path, shots: int, takes: int, variant: int) -> None:
    head = (
        "film:\n  title: Concurrency\n  tiers: {draft: 32x18, final: 32x18}\n"
        "  delivery: 32x18\nproviders:\n  keyframe: {use: instant}\n  video: {use: fal}\nshots:\n"
    )
    body = "".join(
        SHOT.format(i=i, takes=takes, prompt=f"the car drives on in variant {variant}")
        for i in range(1, shots + 1)
    )
    (root / "shots.yaml").write_text(head + body)


@dataclass
class ConcurrencyResult:
    takes: int
    latency: float
    walls: dict[int, list[float]] = field(default_factory=dict)
    noop: dict[int, list[float]] = field(default_factory=dict)
    paid: int = 0
    take_times: dict[int, list[float]] = field(default_factory=dict)  # vf's "made" seconds
    # The bare httpx client's (jobs only, whole run from before importing httpx) per round.
    bare: dict[int, list[tuple[float, float]]] = field(default_factory=dict)

    def ideal(self, j: int) -> float:
        return math.ceil(self.takes / j) * self.latency

    def wall(self, j: int) -> float:
        return statistics.median(self.walls[j])

    def build(self, j: int) -> float:
        return self.wall(j) - statistics.median(self.noop[j])

    def targets(self) -> list[tuple[str, str, str]]:
        rows = []
        for j in (8, 16):
            if j in self.walls:
                eff = self.ideal(j) / self.build(j)
                raw = self.ideal(j) / self.wall(j)
                rows.append(
                    (
                        f"concurrency at -j {j} ≥ 0.9 of the ideal",
                        f"{eff:.2f} of the build's own time ({raw:.2f} of the whole process)",
                        "met" if eff >= 0.9 else "**missed**",
                    )
                )
        return rows

    def section(self) -> str:
        rows = []
        for j in sorted(self.walls):
            rows.append(
                (
                    f"-j {j}",
                    secs(self.ideal(j)),
                    secs(self.wall(j)),
                    secs(statistics.median(self.noop[j])),
                    secs(self.build(j)),
                    f"{self.ideal(j) / self.build(j):.2f}",
                    f"{self.ideal(j) / self.wall(j):.2f}",
                    f"{statistics.median(self.take_times[j]):.2f} s",
                )
            )
        return "\n".join(
            [
                f"## 3. Concurrency: {self.takes} takes, {self.latency} s each",
                "",
                __doc__.split("\n\n", 1)[1].strip(),
                "",
                table(
                    (
                        "jobs",
                        "ideal",
                        "wall (median)",
                        "same, nothing to make",
                        "build's own time",
                        "ideal ÷ own time",
                        "ideal ÷ wall",
                        "one take, in its slot",
                    ),
                    rows,
                ),  # fmt: skip
                "",
                '"One take, in its slot" is the median time vf reports for a take (`made ... '
                "(fal, N s)`, 0.1 s steps): from taking one of the -j slots to the stored object, "
                f"against the fake's {self.latency} s. "
                f"Paid jobs the fake accepted: {self.paid} = {self.takes} takes × "
                f"{len(self.walls)} job counts × rounds (warm-up included): none was submitted "
                "twice.",
                *self._floor(),
            ]
        )

    def _floor(self) -> list[str]:
        bare = getattr(self, "bare", None)  # absent from reports pickled before it was measured
        if not bare:
            return []
        rows = []
        for j in sorted(bare):
            jobs = statistics.median(x[0] for x in bare[j])
            whole = statistics.median(x[1] for x in bare[j])
            rows.append(
                (
                    f"-j {j}",
                    secs(self.ideal(j)),
                    f"{secs(self.build(j))} ({self.ideal(j) / self.build(j):.2f})",
                    f"{secs(whole)} ({self.ideal(j) / whole:.2f})",
                    f"{secs(jobs)} ({self.ideal(j) / jobs:.2f})",
                )
            )
        return [
            "",
            "**The floor.** In the same rounds, the same takes sent by a bare httpx client "
            "(`bench/bare_client.py`): a thread per take under a semaphore of -j, the four "
            "requests vf makes to fal (a submit on a new connection, the status stream, the "
            "result, the download to a file) and nothing else: no journal, store, probe, "
            "ledger or lock. Its whole run is timed from before it imports httpx (the CA "
            "bundle loads in a thread meanwhile, as in vf): what a client built as vf is "
            "(threads and httpx) pays here at the least; vf's own time is its wall less its "
            "no-op's. In brackets: the ideal divided by the time.",
            "",
            table(
                ("jobs", "ideal", "vf's own time", "bare client, whole", "bare, jobs only"), rows
            ),
        ]


def run(runs: int, *, quick: bool, log=print) -> ConcurrencyResult:  # type: ignore[no-untyped-def]
    try:
        from tests.fakes.base import Faults
        from tests.fakes.fal import KEYS, FalFake
    except ImportError as e:
        raise RuntimeError(
            "tests/fakes/fal.py (the fal fake) is not there yet: this part cannot run"
        ) from e
    shots, takes = (4, 4) if quick else (10, 4)
    log(f"- concurrency: {shots * takes} draft takes on fal's fake, latency {LATENCY}s")
    root = WORK / "concurrency"
    if root.exists():
        shutil.rmtree(root)
    (root / "locks").mkdir(parents=True)
    fake = FalFake(latency=LATENCY, faults=Faults())
    fake.unique_media = False
    fake.start()
    result = ConcurrencyResult(shots * takes, LATENCY)
    try:
        env = vf_env() | {"VF_FAL_BASE_URL": fake.url, "FAL_KEY": KEYS["FAL_KEY"]}
        variant = 0
        _film(root, shots, takes, variant)
        ids = [f"c{i:02d}" for i in range(1, shots + 1)]
        s = run_timed(vf_argv(root, "build", *ids), cwd=REPO, env=env)
        if s.rc != 0:
            raise RuntimeError(f"the keyframes did not build:\n{s.stdout}\n{s.stderr}")
        _pick_all(root, "keyframe")
        image = str(min((root / "01_Source_Images").rglob("*.png")))
        for r in range(1 + runs):
            line = []
            for j in JOBS:
                variant += 1
                _film(root, shots, takes, variant)
                argv = vf_argv(root, "build", "--tier", "draft", "-j", str(j), *ids)
                s = run_timed(argv, cwd=REPO, env=env)
                made = s.stdout.count(" made ")
                if s.rc != 0 or made != shots * takes:
                    raise RuntimeError(
                        f"-j {j}: made {made} of {shots * takes} takes\n{s.stdout}\n{s.stderr}"
                    )
                again: Sample = run_timed(argv, cwd=REPO, env=env)
                model = next(iter(fake.jobs.values())).extra["model"]
                floor = _bare(fake.url, j, image, model, shots * takes, env)
                if r >= 1:
                    result.walls.setdefault(j, []).append(s.wall)
                    result.noop.setdefault(j, []).append(again.wall)
                    result.take_times.setdefault(j, []).extend(
                        float(t) for t in TAKE_TIME.findall(s.stdout)
                    )
                    result.bare.setdefault(j, []).append(floor)
                line.append(f"-j {j} {s.wall:.2f}s (no-op {again.wall:.2f}s, bare {floor[1]:.2f}s)")
            log(f"    {'warm-up' if r == 0 else f'run {r}/{runs}'}: " + ", ".join(line))
        result.paid = fake.paid_jobs
    finally:
        fake.stop()
    return result


def _bare(
    url: str, j: int, image: str, model: str, takes: int, env: dict[str, str]
) -> tuple[float, float]:
    """One run of the bare client: (its jobs alone, its whole run), in seconds."""
    argv = [sys.executable, "-P", "-m", "bench.bare_client", url, str(j), image, model, str(takes)]
    s = run_timed(argv, cwd=REPO, env=env)
    if s.rc != 0:
        raise RuntimeError(f"the bare client failed at -j {j}:\n{s.stdout}\n{s.stderr}")
    jobs, whole = (float(x) for x in s.stdout.split())
    return jobs, whole
