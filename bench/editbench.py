"""Part 4, the edit: the example film's edit by `vf build` against one hand-written ffmpeg
command that makes the same film from the same clips.

The example is built once in a copy (bench/out/work/example; the repository's example stays
clean). Each round then removes the edit from the store and the layout and times:
- `vf build`: the whole command, which finds only the edit stale and remakes it (start-up,
  no-op check of the other steps, a probe of each clip, one ffmpeg command);
- `hand-written ffmpeg`: the command below, what a person would type knowing the clips are
  already at the delivery size and frame rate (no probing, scaling or letterboxing).
Both outputs are compared frame by frame (ffmpeg's framemd5 of the decoded picture and sound).
"""

from __future__ import annotations

import hashlib
import re
import shutil
import statistics
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from bench.util import REPO, WORK, Sample, run_timed, secs, table

EXAMPLE = REPO / "example-project"


def _copy_example(dest: Path) -> None:
    files = subprocess.run(
        ["git", "-C", str(REPO), "ls-files", "-z", "example-project"],
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for f in filter(None, files):
        rel = Path(f.decode()).relative_to("example-project")
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(EXAMPLE / rel, dest / rel)


def _vf(root: Path, *args: str) -> list[str]:
    import sys

    return [sys.executable, "-m", "vfbuild", "-C", str(root), *args]


def example(*, quick: bool = False, log=print) -> Path:  # type: ignore[no-untyped-def]
    """A built copy of the example film (about 75 s the first time); with `quick`, the e2e
    tests' tiny three-shot film at thumbnail sizes instead."""
    root = WORK / ("tiny" if quick else "example")
    stamp = root / ".bench-stamp"
    if quick:
        want = hashlib.sha256((REPO / "tests" / "e2e" / "film.py").read_bytes()).hexdigest()
    else:
        want = hashlib.sha256(
            b"".join((EXAMPLE / p).read_bytes() for p in ("shots.yaml", "locks/_film.yaml"))
        ).hexdigest()
    if not (stamp.exists() and stamp.read_text() == want):
        if root.exists():
            shutil.rmtree(root)
        if quick:
            from tests.e2e.film import make_film

            make_film(root)
            log("  building the tiny film ...")
        else:
            root.mkdir(parents=True)
            _copy_example(root)
            log("  building a copy of the example film (about 75 s) ...")
    s = run_timed(_vf(root, "build"), cwd=REPO)
    if s.rc != 0:
        raise RuntimeError(f"the film did not build:\n{s.stdout}\n{s.stderr}")
    for step in ("keyframe", "draft"):  # the tiny film comes unpicked: take 1 of each
        if "to go on, pick:" not in s.stdout:
            break
        for sid in ("s010", "s020", "s030"):
            run_timed(_vf(root, "pick", sid, step, "1"), cwd=REPO)
        s = run_timed(_vf(root, "build"), cwd=REPO)
    stamp.write_text(want)
    return root


def _edit_output(root: Path) -> tuple[Path, Path, dict]:
    """(store object, layout file, recipe) of the film's edit, from locks/_film.yaml."""
    from ruamel.yaml import YAML

    lock = YAML(typ="safe").load((root / "locks" / "_film.yaml").read_text())
    out = lock["outputs"]["edit"]
    obj = root / ".vf" / "objects" / out["sha256"][:2] / out["sha256"]
    return obj, root / out["file"], out["recipe"]


def hand_written(root: Path, recipe: dict, out: Path) -> list[str]:
    """The hand-written command: trim each clip to its shot, silence for clips without sound,
    concatenate, luma grain, Rec.709 tags; the same encoder settings as vfbuild's."""
    from vfbuild.media.ffmpeg import ffmpeg_exe
    from vfbuild.media.probe import probe

    s = recipe["settings"]
    fps, w, h, grain = s["fps"], s["width"], s["height"], s["grain"]
    inputs: list[str] = []
    chains: list[str] = []
    total = 0
    for i, clip in enumerate(recipe["inputs"]["clips"]):
        path = root / ".vf" / "objects" / clip["sha256"][:2] / clip["sha256"]
        frames = round(clip["duration"] * fps)
        total += frames
        inputs += ["-i", str(path)]
        info = probe(path)  # the person knows the clips: which are short, which speak
        hold = f"tpad=stop_mode=clone:stop={frames - info.frames}," if info.frames < frames else ""
        chains.append(f"[{i}:v]{hold}trim=end_frame={frames},setpts=PTS-STARTPTS[v{i}]")
        samples = frames * 48000 // fps
        if info.has_audio:
            chains.append(f"[{i}:a]apad,atrim=end_sample={samples},asetpts=PTS-STARTPTS[a{i}]")
        else:
            chains.append(f"anullsrc=r=48000:cl=stereo,atrim=end_sample={samples}[a{i}]")
    n = len(recipe["inputs"]["clips"])
    pads = "".join(f"[v{i}][a{i}]" for i in range(n))
    chains.append(f"{pads}concat=n={n}:v=1:a=1[cut][aout]")
    chains.append(
        f"color=c=0x828282:s={w}x{h}:r={fps}:d={total / fps:.6f},format=yuv420p,"
        "noise=c0s=40:c0f=t[grain]"
    )
    chains.append(
        f"[cut][grain]blend=c0_mode=overlay:c0_opacity={grain:.4f}:shortest=1,"
        "setparams=colorspace=bt709:color_primaries=bt709:color_trc=bt709:range=tv,"
        "format=yuv420p[vout]"
    )
    return [
        ffmpeg_exe(), "-v", "error", "-y", *inputs,
        "-filter_complex", ";".join(chains),
        "-map", "[vout]", "-map", "[aout]",
        "-c:v", "libx264", "-preset", "veryfast", "-crf", "18", "-pix_fmt", "yuv420p",
        "-threads", "2", "-c:a", "aac", "-ar", "48000", "-ac", "2", "-b:a", "192k",
        "-bitexact", "-fflags", "+bitexact", "-map_metadata", "-1",
        "-movflags", "+faststart", str(out),
    ]  # fmt: skip


def framemd5(path: Path) -> list[str]:
    from vfbuild.media.ffmpeg import ffmpeg_exe

    proc = subprocess.run(
        [ffmpeg_exe(), "-v", "error", "-i", str(path), "-f", "framemd5", "-"],
        capture_output=True,
        text=True,
        check=True,
    )
    return [ln.rsplit(",", 1)[-1].strip() for ln in proc.stdout.splitlines() if ln[:1].isdigit()]


MADE_EDIT = re.compile(r"made edit \(local, ([0-9.]+)s\)")


@dataclass
class EditResult:
    vf: list[Sample] = field(default_factory=list)
    hand: list[Sample] = field(default_factory=list)
    job: list[float] = field(default_factory=list)  # the edit job's own time, from vf's output
    same_frames: bool | None = None
    same_bytes: bool | None = None
    frames: int = 0
    command: list[str] = field(default_factory=list)
    quick: bool = False

    @property
    def ratio(self) -> float:
        return statistics.median(s.wall for s in self.vf) / statistics.median(
            s.wall for s in self.hand
        )

    def targets(self) -> list[tuple[str, str, str]]:
        return [
            (
                "edit within 1.15× of the hand-written ffmpeg command",
                f"{self.ratio:.2f}× (whole `vf build`)",
                "met" if self.ratio <= 1.15 else "**missed**",
            )
        ]

    def section(self) -> str:
        vf = statistics.median(s.wall for s in self.vf)
        hand = statistics.median(s.wall for s in self.hand)
        rows = [
            ("`vf build` (only the edit is stale)", secs(vf), secs(statistics.median(
                s.cpu for s in self.vf)), f"{vf / hand:.2f}×"),
            ("  of which the edit job (vf's own report)", secs(statistics.median(self.job)),
             "", f"{statistics.median(self.job) / hand:.2f}×"),
            ("hand-written ffmpeg command", secs(hand), secs(statistics.median(
                s.cpu for s in self.hand)), "1×"),
        ]  # fmt: skip
        same = (
            "identical bytes"
            if self.same_bytes
            else "identical decoded frames and sound (framemd5), different container bytes"
            if self.same_frames
            else "**different decoded frames** (see the command)"
        )
        cmd = " ".join(a if " " not in a and ";" not in a else f"'{a}'" for a in self.command)
        cmd = re.sub(r"/\S+/\.vf/objects/../", "", cmd)
        cmd = re.sub(r"^\S+ffmpeg\S*", "ffmpeg", cmd)
        return "\n".join(
            [
                "## 4. Edit: "
                + ("the tiny e2e film (--quick)" if self.quick else "the example film"),
                "",
                __doc__.split("\n\n", 1)[1].strip(),
                "",
                table(("command", "median wall", "median CPU", "÷ hand-written"), rows),
                "",
                f"Output: {self.frames} frames; vf's and the hand-written edit have {same}.",
                "",
                "The hand-written command (store paths shortened to the object names):",
                "",
                "```",
                cmd,
                "```",
            ]
        )


def run(runs: int, *, quick: bool, log=print) -> EditResult:  # type: ignore[no-untyped-def]
    what = "the tiny e2e film's (--quick)" if quick else "the example film's"
    log(f"- edit: {what} edit against a hand-written ffmpeg command")
    root = example(quick=quick, log=log)
    obj, layout_file, recipe = _edit_output(root)
    result = EditResult(quick=quick)
    hand_out = WORK / "hand-edit.mp4"
    result.command = hand_written(root, recipe, hand_out)
    if not obj.exists():
        raise RuntimeError(f"the example's edit {obj} is not in the store")
    keep = WORK / "vf-edit.mp4"
    shutil.copyfile(obj, keep)
    for r in range(1 + runs):
        for path in (obj, layout_file):
            path.unlink(missing_ok=True)
        v = run_timed(_vf(root, "build"), cwd=REPO)
        m = MADE_EDIT.search(v.stdout)
        if v.rc != 0 or m is None or v.stdout.count(" made ") != 1:
            raise RuntimeError(f"vf build did not remake (only) the edit:\n{v.stdout}\n{v.stderr}")
        hand_out.unlink(missing_ok=True)
        h = run_timed(result.command, cwd=REPO)
        if h.rc != 0:
            raise RuntimeError(f"the hand-written command failed:\n{h.stderr}")
        if r >= 1:
            result.vf.append(v)
            result.hand.append(h)
            result.job.append(float(m.group(1)))
        log(f"    {'warm-up' if r == 0 else f'run {r}/{runs}'}: vf build {v.wall:.2f}s "
            f"(edit job {m.group(1)}s), hand-written {h.wall:.2f}s")  # fmt: skip
    a, b = framemd5(keep), framemd5(hand_out)
    result.frames = len(a)
    result.same_frames = a == b
    result.same_bytes = keep.read_bytes() == hand_out.read_bytes()
    return result
