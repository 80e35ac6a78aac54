"""Part 5, memory: peak RSS of `vf build` while it downloads a 1 GiB result.

fal's fake answers a one-shot film's draft take with a 1 GiB MP4 from its CDN (`serve_file`):
a one-second 32x18 clip followed by a 1 GiB `free` box, so it is valid media that the build's
probe accepts. The peak RSS is the vf process's own high-water mark (VmHWM, written by
bench/vf_instant.py at exit; getrusage would count the harness's memory, which a child shares
before its exec); next to it, the same command when nothing is left to make.
"""

from __future__ import annotations

import shutil
import struct
from dataclasses import dataclass, field
from pathlib import Path

from bench.film import _pick_all, vf_argv, vf_env
from bench.instant import base_clip
from bench.util import REPO, WORK, Sample, run_timed, secs, table

SIZE = 1 << 30
TARGET_MIB = 150.0


def big_media(path: Path, size: int = SIZE) -> Path:
    """A valid MP4 of exactly `size` bytes (sparse on disk)."""
    if path.exists() and path.stat().st_size == size:
        return path
    base = base_clip()
    pad = size - len(base)
    with open(path, "wb") as f:
        f.write(base)
        f.write(struct.pack(">I", pad) + b"free")
        f.truncate(size)
    return path


FILM = """\
film:
  title: Memory
  tiers: {{draft: 32x18, final: 32x18}}
  delivery: 32x18
providers:
  keyframe: {{use: instant}}
  video: {{use: fal}}
shots:
  - id: m01
    duration: 1
    keyframe: {{subject: a very large take, takes: 1, seed: 1}}
    motion: {{move: static, prompt: variant {variant}, takes: 1}}
"""


@dataclass
class MemoryResult:
    runs: list[Sample] = field(default_factory=list)
    noop: list[Sample] = field(default_factory=list)
    size: int = SIZE

    @property
    def peak(self) -> float:
        return max(s.maxrss_mib for s in self.runs)

    def targets(self) -> list[tuple[str, str, str]]:
        return [
            (
                f"peak RSS < {TARGET_MIB:.0f} MiB while downloading 1 GiB",
                f"{self.peak:.0f} MiB",
                "met" if self.peak < TARGET_MIB else "**missed**",
            )
        ]

    def section(self) -> str:
        rows = [
            (f"download run {i + 1}", f"{s.maxrss_mib:.0f} MiB", secs(s.wall), secs(s.cpu))
            for i, s in enumerate(self.runs)
        ]
        rows += [
            (f"nothing to make {i + 1}", f"{s.maxrss_mib:.0f} MiB", secs(s.wall), secs(s.cpu))
            for i, s in enumerate(self.noop)
        ]
        return "\n".join(
            [
                "## 5. Memory: downloading a 1 GiB take",
                "",
                __doc__.split("\n\n", 1)[1].strip(),
                "",
                table(("`vf build --tier draft m01`", "peak RSS", "wall", "CPU"), rows),
            ]
        )


def _run_rss(argv: list[str], env: dict[str, str]) -> Sample:
    """`run_timed`, with the peak RSS the vf process itself reports (VmHWM at exit)."""
    rss = WORK / "peak-rss.txt"
    rss.unlink(missing_ok=True)
    s = run_timed(argv, cwd=REPO, env=env | {"BENCH_RSS_FILE": str(rss)})
    s.maxrss_mib = int(rss.read_text()) / 1024 if rss.exists() else float("nan")
    return s


def run(*, quick: bool, log=print) -> MemoryResult:  # type: ignore[no-untyped-def]
    try:
        from tests.fakes.base import Faults
        from tests.fakes.fal import KEYS, FalFake
    except ImportError as e:
        raise RuntimeError("tests/fakes/fal.py (the fal fake) is not there yet") from e

    big = big_media(WORK / "big-1GiB.mp4")

    class BigFal(FalFake):
        def media_url(self, job):  # type: ignore[no-untyped-def]
            return self.serve_file(big)

    log("- memory: a draft take of 1 GiB from fal's fake")
    root = WORK / "memory"
    if root.exists():
        shutil.rmtree(root)
    (root / "locks").mkdir(parents=True)
    fake = BigFal(latency=0.2, faults=Faults())
    fake.unique_media = False
    fake.start()
    result = MemoryResult()
    try:
        env = vf_env() | {"VF_FAL_BASE_URL": fake.url, "FAL_KEY": KEYS["FAL_KEY"]}
        (root / "shots.yaml").write_text(FILM.format(variant=0))
        s = run_timed(vf_argv(root, "build", "m01"), cwd=REPO, env=env)
        if s.rc != 0:
            raise RuntimeError(f"the keyframe did not build:\n{s.stdout}\n{s.stderr}")
        _pick_all(root, "keyframe")
        argv = vf_argv(root, "build", "--tier", "draft", "m01")
        for r in range(1 if quick else 3):
            (root / "shots.yaml").write_text(FILM.format(variant=r + 1))
            s = _run_rss(argv, env)
            if s.rc != 0 or " made m01 draft" not in s.stdout:
                raise RuntimeError(f"the 1 GiB take was not made:\n{s.stdout}\n{s.stderr}")
            again = _run_rss(argv, env)
            result.runs.append(s)
            result.noop.append(again)
            log(f"    run {r + 1}: peak RSS {s.maxrss_mib:.0f} MiB in {s.wall:.1f}s "
                f"(nothing to make: {again.maxrss_mib:.0f} MiB)")  # fmt: skip
        objects = [p for p in (root / ".vf" / "objects").rglob("*") if p.is_file()]
        if not any(p.stat().st_size == SIZE for p in objects):
            raise RuntimeError("no 1 GiB object in the store after the build")
    finally:
        fake.stop()
        shutil.rmtree(root / ".vf" / "objects", ignore_errors=True)  # 1 GiB of disk back
    return result
