"""bench/RESULTS.md from the parts' results."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from bench.util import BENCH, ratio, secs, table

TARGET_NOOP = 0.5  # s, no-op vf build of the 1000-shot film
TARGET_DVC = 12.0  # × faster than dvc status
TARGET_CONCURRENCY = 0.9  # of the ideal at -j 8 and -j 16
TARGET_EDIT = 1.15  # × the hand-written ffmpeg command
TARGET_RSS = 150.0  # MiB


def verdict(ok: bool | None) -> str:
    return "—" if ok is None else ("met" if ok else "**missed**")


@dataclass
class Report:
    machine: dict[str, str]
    versions: dict[str, str]
    quick: bool
    runs: int
    command: str
    noop: list[Any] | None = None
    change: Any = None
    concurrency: Any = None
    edit: Any = None
    memory: Any = None
    review: Any = None
    remote: Any = None
    failures: dict[str, str] = field(default_factory=dict)
    durations: dict[str, float] = field(default_factory=dict)
    total: float = 0.0
    when: str = field(default_factory=lambda: time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()))

    # ---------------------------------------------------------------------------------------

    def targets(self) -> list[tuple[str, str, str]]:
        rows: list[tuple[str, str, str]] = []
        by_n = {r.n: r for r in self.noop or []}
        if 1000 in by_n:
            r = by_n[1000]
            vf = r.series["vf build"].wall
            rows.append(
                (
                    f"no-op `vf build`, 1000 shots < {TARGET_NOOP} s",
                    secs(vf),
                    verdict(vf < TARGET_NOOP),
                )
            )
            if "dvc status" in r.series:
                x = r.series["dvc status"].wall / vf
                rows.append(
                    (
                        f"≥ {TARGET_DVC:.0f}× faster than `dvc status`",
                        f"{x:.1f}×",
                        verdict(x >= TARGET_DVC),
                    )
                )
            else:
                rows.append((f"≥ {TARGET_DVC:.0f}× faster than `dvc status`", "not measured: "
                             + r.missing.get("dvc status", "?"), "—"))  # fmt: skip
        if 1000 in by_n and 5000 in by_n:
            g = by_n[5000].series["vf build"].wall / by_n[1000].series["vf build"].wall
            what = "no-op grows no worse than linearly, 1000 → 5000 shots (≤ 5×)"
            rows.append((what, f"{g:.1f}×", verdict(g <= 5.0)))
        if self.change is not None:
            c = self.change
            if hasattr(c, "excess"):  # reports pickled before it was measured per round
                rows.append(
                    (
                        f"one changed shot among {c.n} ≤ no-op + that shot's work",
                        f"{secs(c.over_noop)} over the no-op vs {secs(c.own_work)} of "
                        f"work: {c.excess * 1000:+.0f} ms (medians per round, section 2)",
                        verdict(c.excess <= 0),
                    )
                )
            else:
                change, noop = c.series["change"].wall, c.series["no-op"].wall
                bound = noop + c.own_work
                rows.append(
                    (
                        f"one changed shot among {c.n} ≤ no-op + that shot's work",
                        f"{secs(change)} vs {secs(noop)} + {secs(c.own_work)} = {secs(bound)}",
                        verdict(change <= bound),
                    )
                )
            rows.append(
                (
                    "only that shot's steps and the edit ran",
                    "yes" if not c.foreign else f"no: {sorted(c.foreign)[:5]}",
                    verdict(not c.foreign),
                )
            )
        if self.concurrency is not None:
            rows += self.concurrency.targets()
        if self.edit is not None:
            rows += self.edit.targets()
        if self.memory is not None:
            rows += self.memory.targets()
        if self.review is not None:
            rows += self.review.targets()
        if getattr(self, "remote", None) is not None:
            rows += self.remote.targets()
        return rows

    # ---------------------------------------------------------------------------------------

    def markdown(self, *, total: float) -> str:
        when = self.when
        kind = (
            "QUICK CHECK (small sizes, few runs: not the real results)"
            if self.quick
            else (f"medians of {self.runs} runs after a warm-up")
        )
        parts = [
            "# vfbuild benchmarks",
            "",
            f"Written by `{self.command.strip()}` on {when} in {total / 60:.1f} min; {kind}. "
            "Commands compared are run side by side, round-robin in the same rounds, so a "
            "noisy moment of this shared machine hits them alike; ratios are of medians.",
            "",
            "## Targets",
            "",
            table(("target", "measured", ""), self.targets()) if self.targets() else "(none run)",
            "",
            "## Machine",
            "",
            table(("", ""), list(self.machine.items())),
            "",
            "## Versions",
            "",
            table(("", ""), list(self.versions.items())),
            "",
        ]
        if self.noop is not None:
            parts += [self._noop_section(), ""]
        if self.change is not None:
            parts += [self._change_section(), ""]
        for res in (
            self.concurrency,
            self.edit,
            self.memory,
            self.review,
            getattr(self, "remote", None),
        ):
            if res is not None:
                parts += [res.section(), ""]
        if self.failures:
            parts += ["## Parts that failed", ""]
            for part, tb in self.failures.items():
                parts += [f"### {part}", "", "```", tb.strip()[-3000:], "```", ""]
        fixes = BENCH / "FIXES.md"
        if fixes.exists():
            parts += [fixes.read_text().strip(), ""]
        parts.append(
            "Durations of the parts: "
            + ", ".join(f"{k} {v / 60:.1f} min" for k, v in self.durations.items())
            + "."
        )
        return "\n".join(parts) + "\n"

    def _noop_section(self) -> str:
        assert self.noop is not None
        out = [
            "## 1. No-op at scale",
            "",
            "An N-shot film (4 keyframe takes, 4 draft takes, final, upscale per shot, lipsync "
            "for one shot in five, every take picked), built once with `bench/instant.py`, an "
            "in-process provider that writes tiny valid media. The film's edit, which vfbuild "
            "always makes with ffmpeg, is made by the instant provider too "
            "(`VF_BENCH_EDIT=instant`): an edit of thousands of clips measures ffmpeg (the "
            "1000-shot film's real edit took about 100 s), and part 4 measures the edit. Then "
            "nothing changes, and each command runs once per round. `make -r` and DVC run "
            "an equivalent pipeline made by `bench/equiv.py`: one rule/stage per vf task, "
            "one output file per take. After the first round nothing has changed for seconds, "
            "so `vf build` and `vf plan` answer from their stamps, as make answers from "
            "mtimes (a few thousand stats; see below, What was fixed). After any change "
            "`vf build` checks every step: part 2's no-op is that case.",
            "",
        ]
        rows = []
        for r in self.noop:
            vf = r.series["vf build"].wall
            for label, s in r.series.items():
                rows.append(
                    (
                        f"{r.n} shots: `{label}`",
                        secs(s.wall),
                        s.spread,
                        secs(s.cpu),
                        f"{s.wall / r.n * 1000:.2f} ms",
                        ratio(s.wall, vf) if label != "vf build" else "1×",
                    )
                )
            for label, why in r.missing.items():
                rows.append((f"{r.n} shots: `{label}`", "not run", why, "", "", ""))
        out.append(
            table(
                (
                    "pipeline: command",
                    "median wall",
                    "range (s)",
                    "median CPU",
                    "per shot",
                    "÷ vf build",
                ),
                rows,
            )  # fmt: skip
        )
        out.append("")
        out.append(
            table(
                ("shots", "vf tasks = make rules = DVC stages", "output files"),
                [(r.n, r.tasks, r.files) for r in self.noop],
            )
        )
        vfs = [(r.n, r.series["vf build"].wall) for r in self.noop]
        if len(vfs) > 1:
            growth = ", ".join(
                f"{a[0]}→{b[0]} shots: {b[1] / a[1]:.1f}× the time for {b[0] / a[0]:.0f}× the shots"
                for a, b in zip(vfs, vfs[1:], strict=False)
            )
            out += ["", f"Growth of the no-op `vf build`: {growth}."]
        setups = [
            (r.n, ", ".join(f"{k} {v:.0f}s" for k, v in r.setup.items()))
            for r in self.noop
            if r.setup
        ]
        if setups:
            out += ["", "Setup of the films made in this run (not timed above): "
                    + "; ".join(f"{n} shots: {s}" for n, s in setups) + "."]  # fmt: skip
        return "\n".join(out)

    def _change_section(self) -> str:
        c = self.change
        rows = [
            (f"`{label}`", secs(s.wall), s.spread, secs(s.cpu)) for label, s in c.series.items()
        ]
        tasks = sorted({t for ts in c.tasks for t in ts})
        return "\n".join(
            [
                f"## 2. One change among {c.n} shots",
                "",
                f"Each round gives {c.shot} a new motion prompt, then times `vf build` (change), "
                "`vf build` again (no-op), another new prompt with `vf build "
                f"{c.shot}` (shot change: only that shot's tasks) and `vf build {c.shot}` again "
                "(shot no-op). That shot's own work is the median of shot change − shot no-op. "
                "Each no-op runs right after a build that changed files, inside the two "
                "seconds in which vfbuild trusts no stamp, so it checks every step.",
                "",
                table(("command", "median wall", "range (s)", "median CPU"), rows),
                "",
                f"Takes made by each timed change build: {c.takes}; the tasks they belong to: "
                f"{', '.join(f'{a} {b}' for a, b in tasks)}. A new motion prompt makes a new "
                "version of the draft (4 takes); the final follows the draft *pick*, which "
                "stays in force (out of date) until the user picks again, so neither the final, "
                "the upscale nor the edit is remade.",
                "",
                f"change − no-op = {secs(c.series['change'].wall - c.series['no-op'].wall)}; "
                f"that shot's own work = {secs(c.own_work)}.",
                *self._change_paired(),
            ]
        )

    def _change_paired(self) -> list[str]:
        c = self.change
        if not hasattr(c, "excess"):
            return []
        return [
            "",
            "The target is judged per round: each round's four builds run within seconds of "
            "one another, while the medians of the columns above come from different rounds "
            "(this machine's speed drifts by ±20% from minute to minute). Per round, the "
            f"change build took a median {secs(c.over_noop)} more than the no-op after it, "
            f"and the shot's own work was {secs(c.own_work)}; the median of their difference "
            f"is {c.excess * 1000:+.0f} ms.",
        ]


if __name__ == "__main__":
    # Write the Markdown again from a kept run: python3 -m bench.report PICKLE OUT.md
    import pickle
    import sys
    from pathlib import Path

    rep = pickle.loads(Path(sys.argv[1]).read_bytes())
    Path(sys.argv[2]).write_text(rep.markdown(total=rep.total))
