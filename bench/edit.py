"""Part 7, the segmented edit (issue 16): a full edit (every shot's segment and the join)
against a one-shot re-edit and against one hand-written ffmpeg command doing the same work.

The film (bench/out/work/edit-N) has N shots of 2-4 s from the local provider, small tiers
(draft 160x90, final 320x180) so the picture steps are quick, delivered at 1920x1080
(--quick: 6 shots at 640x360). It is built once to the end, every take 1 picked. Each round:
- full edit: the segment and edit objects are removed from the store and the layout, and
  `vf build` remakes them (the other steps no-op); the edit's cost is the sum of the
  per-task times the build prints (`made sNNN segment (local, Xs)`, `made edit ...`);
- re-edit: `vf pick sNNN draft 2` (a new shot each round, in a copy of the built film)
  and `vf build`: it must make only that shot's final, upscale, segment and the edit;
  the edit part is its segment + join times;
- hand-written: one ffmpeg command with the same conform + grain chain per shot (taken from
  `vfbuild.media.segment`, the same seeds), concatenated in the filter graph, one encode at
  the mezzanine's x264 settings and one AAC soundtrack.
"""

from __future__ import annotations

import os
import re
import shutil
import statistics
import sys
from dataclasses import dataclass, field
from pathlib import Path

from bench.util import REPO, WORK, run_timed, secs, table

MADE = re.compile(r"made (?:(s\d+) )?(\w+)(?: t\d+)? \(local, ([0-9.]+)s\)")


def _vf(root: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "vfbuild", "-C", str(root), *args]


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO)}


def shots_yaml(n: int, delivery: str) -> str:
    head = (
        "film:\n  title: Edit Bench\n  fps: 24\n  tiers: {draft: 160x90, final: 320x180}\n"
        f"  delivery: {delivery}\n  grain: 0.3\n  style: prompts/style.txt\n"
        "providers:\n  keyframe: {use: local}\n  video: {use: local}\n  upscale: {use: local}\n"
        "shots:\n"
    )
    moves = ("static", "push-in", "pull-out", "pan-left", "pan-right", "tracking")
    body = "".join(
        f"  - id: s{i:03d}\n    duration: {(2, 3, 4, 2.5)[i % 4]}\n"
        f"    keyframe: {{shot: wide, subject: a car on road {i}, takes: 1, seed: {i}}}\n"
        f"    motion: {{move: {moves[i % 6]}, prompt: the car drives {i}, takes: 2}}\n"
        for i in range(1, n + 1)
    )
    return head + body


def _run(root: Path, *args: str) -> str:
    s = run_timed(_vf(root, *args), cwd=REPO, env=_env())
    if s.rc != 0:
        raise RuntimeError(f"vf {' '.join(args)} failed:\n{s.stdout}\n{s.stderr}")
    return s.stdout


def film(n: int, delivery: str, log=print) -> Path:  # type: ignore[no-untyped-def]
    root = WORK / f"edit-{n}-{delivery}"
    want = shots_yaml(n, delivery)
    done = (root / ".bench-built").exists() and (root / "shots.yaml").exists()
    if done and (root / "shots.yaml").read_text() == want:
        return root
    if root.exists():
        shutil.rmtree(root)
    (root / "prompts").mkdir(parents=True)
    (root / "locks").mkdir()
    (root / "shots.yaml").write_text(want)
    (root / "prompts" / "style.txt").write_text("cinematic\n")
    log(f"  building a {n}-shot film at {delivery} ...")
    _run(root, "build")
    for step in ("keyframe", "draft"):
        for i in range(1, n + 1):
            _run(root, "pick", f"s{i:03d}", step, "1")
        _run(root, "build")
    (root / ".bench-built").write_text("")
    return root


def _locks(root: Path) -> dict[str, dict]:  # type: ignore[type-arg]
    from ruamel.yaml import YAML

    y = YAML(typ="safe")
    return {p.stem: y.load(p.read_text()) for p in sorted((root / "locks").glob("*.yaml"))}


def _obj(root: Path, sha: str) -> Path:
    return root / ".vf" / "objects" / sha[:2] / sha


def _drop_edit(root: Path) -> None:
    """Remove every segment and the edit from the store and the layout."""
    for lock in _locks(root).values():
        outs = lock.get("outputs", {})
        for step in ("segment", "edit"):
            if step in outs:
                _obj(root, outs[step]["sha256"]).unlink(missing_ok=True)
                (root / outs[step]["file"]).unlink(missing_ok=True)


def hand_written(root: Path, out: Path) -> list[str]:
    from vfbuild.media import encode
    from vfbuild.media.ffmpeg import ffmpeg_exe
    from vfbuild.media.segment import EditClip, segment_args

    inputs: list[str] = []
    chains: list[str] = []
    total = 0.0
    shots = [(k, v) for k, v in _locks(root).items() if k != "_film"]
    for i, (_, lock) in enumerate(shots):
        r = lock["outputs"]["segment"]["recipe"]
        s = r["settings"]
        clip = EditClip(_obj(root, r["inputs"]["clip"]), s["duration"])
        a = segment_args(
            Path("x.mp4"), clip, width=s["width"], height=s["height"], fps=s["fps"],
            grain=s["grain"], seed=r["seed"],
        )  # fmt: skip
        total += round(s["duration"] * s["fps"]) / s["fps"]
        inputs += a[: a.index("-filter_complex")]
        g = a[a.index("-filter_complex") + 1]
        for lab in ("cut", "grain", "gr", "vout"):
            g = g.replace(f"[{lab}]", f"[{lab}{i}]")
        chains.append(g.replace("[0:v]", f"[{i}:v]"))
    n = len(shots)
    chains.append("".join(f"[vout{i}]" for i in range(n)) + f"concat=n={n}:v=1:a=0[v]")
    chains.append(f"anullsrc=r=48000:cl=stereo,atrim=duration={total:.6f}[a]")
    return [
        ffmpeg_exe(), "-v", "error", "-y", *inputs, "-filter_complex", ";".join(chains),
        "-map", "[v]", "-map", "[a]", *encode.mezzanine_args("h264"), *encode.audio_args(),
        "-movflags", "+faststart", str(out),
    ]  # fmt: skip


def _made(stdout: str) -> list[tuple[str, str, float]]:
    return [(m[1] or "", m[2], float(m[3])) for m in MADE.finditer(stdout)]


@dataclass
class EditResult:
    n: int
    delivery: str
    full_wall: list[float] = field(default_factory=list)
    full_edit: list[float] = field(default_factory=list)
    re_wall: list[float] = field(default_factory=list)
    re_edit: list[float] = field(default_factory=list)
    re_made: str = ""
    hand: list[float] = field(default_factory=list)
    load: list[str] = field(default_factory=list)
    mb_s: float = 0.0
    quick: bool = False

    def _m(self, xs: list[float]) -> float:
        return statistics.median(xs)

    @property
    def ratio(self) -> float:
        return self._m(self.full_edit) / self._m(self.hand)

    @property
    def re_ratio(self) -> float:
        return self._m(self.re_edit) / self._m(self.full_edit)

    def targets(self) -> list[tuple[str, str, str]]:
        return [
            ("one-shot re-edit ≤ 1/8 of a full edit", f"{self.re_ratio:.3f}",
             "met" if self.re_ratio <= 1 / 8 else "**missed**"),
            ("full edit within 1.15× of one hand-written ffmpeg", f"{self.ratio:.2f}×",
             "met" if self.ratio <= 1.15 else "**missed**"),
        ]  # fmt: skip

    def section(self) -> str:
        def mm(xs: list[float]) -> str:
            return f"{secs(min(xs))} / {secs(self._m(xs))}"

        rows = [
            ("full edit: segments + join (per-task times)", mm(self.full_edit), "1×"),
            ("  its whole `vf build`", mm(self.full_wall), ""),
            ("re-edit after one pick: segment + join", mm(self.re_edit),
             f"{self.re_ratio:.3f}×"),
            ("  its whole `vf build` (also final + upscale)", mm(self.re_wall), ""),
            ("hand-written ffmpeg command", mm(self.hand), f"{1 / self.ratio:.2f}×"),
        ]  # fmt: skip
        return "\n".join(
            [
                f"## 7. The segmented edit (issue 16): {self.n} shots at {self.delivery}"
                + (" (--quick)" if self.quick else ""),
                "",
                __doc__.split("\n\n", 1)[1].strip(),
                "",
                table(("what", "min / median wall", "÷ full edit"), rows),
                "",
                f"Full edit ÷ hand-written: {self.ratio:.2f}×. The re-edit made: {self.re_made}.",
                f"The edit's bitrate: {self.mb_s:.1f} Mb/s. Load average: {'; '.join(self.load)}.",
                "",
                "Rerun: `bench/run edit"
                + (" --quick" if self.quick else "")
                + f" --runs {len(self.hand)}`",
            ]
        )


def run(runs: int, *, quick: bool, log=print) -> EditResult:  # type: ignore[no-untyped-def]
    n, delivery = (6, "640x360") if quick else (24, "1920x1080")
    log(f"- edit: a {n}-shot film at {delivery}: full edit, one-shot re-edit, hand-written")
    built = film(n, delivery, log=log)
    root = WORK / f"{built.name}-run"  # a copy: the re-edits change picks, the build stays
    if root.exists():
        shutil.rmtree(root)
    shutil.copytree(built, root, symlinks=True)
    res = EditResult(n, delivery, quick=quick)
    hand_out = WORK / "hand-edit.mp4"
    for r in range(runs):
        res.load.append(" ".join(Path("/proc/loadavg").read_text().split()[:3]))
        _drop_edit(root)
        s = run_timed(_vf(root, "build"), cwd=REPO, env=_env())
        made = _made(s.stdout)
        if s.rc != 0 or {m[1] for m in made} != {"segment", "edit"}:
            raise RuntimeError(f"the full edit did not remake only the edit:\n{s.stdout}")
        res.full_wall.append(s.wall)
        res.full_edit.append(sum(m[2] for m in made))
        _run(root, "pick", f"s{r + 2:03d}", "draft", "2")  # a new shot each round
        s = run_timed(_vf(root, "build"), cwd=REPO, env=_env())
        made = _made(s.stdout)
        res.re_made = ", ".join(f"{a} {b}".strip() for a, b, _ in made)
        steps = sorted(m[1] for m in made)
        if s.rc != 0 or steps != ["edit", "final", "segment", "upscale"]:
            raise RuntimeError(f"the re-edit made more than one shot's work:\n{s.stdout}")
        res.re_wall.append(s.wall)
        res.re_edit.append(sum(m[2] for m in made if m[1] in ("segment", "edit")))
        hand_out.unlink(missing_ok=True)
        h = run_timed(hand_written(root, hand_out), cwd=REPO)
        if h.rc != 0:
            raise RuntimeError(f"the hand-written command failed:\n{h.stderr}")
        res.hand.append(h.wall)
        log(f"    run {r + 1}/{runs}: full edit {res.full_edit[-1]:.2f}s, re-edit "
            f"{res.re_edit[-1]:.2f}s, hand-written {h.wall:.2f}s")  # fmt: skip
    from vfbuild.media.probe import probe

    edit = _locks(root)["_film"]["outputs"]["edit"]
    info = probe(root / edit["file"])
    res.mb_s = (root / edit["file"]).stat().st_size * 8 / 1e6 / (info.duration or 1.0)
    return res
