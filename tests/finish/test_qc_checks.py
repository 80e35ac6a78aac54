"""Each QC check on clips made for it with ffmpeg: HDR among SDR, untagged colour, another
aspect, a shot over 10 s, a held picture, picture and sound of different lengths. The cut is
plain data (`Cut`), so the checks are tested apart from any edit."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

import vfbuild
from tests.e2e.film import make_film
from vfbuild.finish.cut import Cut, CutClip
from vfbuild.finish.qc import FAIL, PASS, WARN, check_cut
from vfbuild.media.ffmpeg import ffmpeg_exe

TAGS = "setparams=colorspace=bt709:color_primaries=bt709:color_trc=bt709:range=tv"
HDR = "setparams=colorspace=bt2020nc:color_primaries=bt2020:color_trc=smpte2084:range=tv"


def _make(path: Path, *, src: str = "testsrc2=", size: str = "384x216", seconds: float = 1.0,
          vf: str = TAGS, audio: float | None = None) -> None:  # fmt: skip
    args = [ffmpeg_exe(), "-v", "error", "-y", "-f", "lavfi",
            "-i", f"{src}size={size}:rate=24:duration={seconds}"]  # fmt: skip
    if audio is not None:
        args += ["-f", "lavfi", "-i", f"sine=frequency=440:duration={audio}"]
    args += ["-vf", vf] if vf else []
    args += ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]
    args += ["-c:a", "aac"] if audio is not None else []
    subprocess.run([*args, str(path)], check=True)


def _clip(shot: str, file: str, seconds: float) -> CutClip:
    return CutClip(
        shot=shot, file=file, sha256=shot.ljust(64, "0"), duration=seconds,
        frames=round(seconds * 24), still=False, step="final", stage="final", finished=False,
    )  # fmt: skip


@pytest.fixture(scope="module")
def checks(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], tuple[str, str]]:
    root = make_film(tmp_path_factory.mktemp("checks") / "film")
    clips = root / "clips"
    clips.mkdir()
    _make(clips / "good.mp4")
    _make(clips / "hdr.mp4", vf=HDR)
    _make(clips / "untagged.mp4", vf="")
    _make(clips / "square.mp4", size="216x216")
    _make(clips / "held.mp4", src="color=c=0x806040:", seconds=2.0)
    _make(clips / "long.mp4", seconds=10.5)
    _make(clips / "drift.mp4", audio=0.5)
    shots = [
        ("good", 1.0), ("hdr", 1.0), ("untagged", 1.0), ("square", 1.0), ("held", 2.0),
        ("long", 10.5), ("drift", 1.0),
    ]  # fmt: skip
    total = sum(s for _, s in shots)
    _make(root / "edit.mp4", seconds=total, audio=total)
    cut = Cut(
        "Checks", 1, "edit.mp4", 24, 384, 216,
        tuple(_clip(name, f"clips/{name}.mp4", s) for name, s in shots),
    )  # fmt: skip
    report = check_cut(vfbuild.open(root).project, cut)
    return {(c.shot, c.check): (c.verdict, c.value) for c in report.checks}


def test_a_good_clip_passes_everything(checks: dict[tuple[str, str], tuple[str, str]]) -> None:
    mine = {k[1]: v[0] for k, v in checks.items() if k[0] == "good"}
    assert set(mine.values()) == {PASS} and {"frame rate", "black frames", "rec709"} <= set(mine)


@pytest.mark.parametrize(
    ("shot", "check", "verdict", "value"),
    [
        ("hdr", "hdr", FAIL, "HDR (smpte2084)"),
        ("untagged", "rec709", WARN, "untagged"),
        ("square", "resolution", FAIL, "216x216"),
        ("held", "frozen frames", WARN, "2.00 s at 0.00–2.00 s"),
        ("long", "length", WARN, "10.50 s"),
        ("drift", "a/v length", FAIL, "500 ms apart"),
        ("film", "loudness", FAIL, None),
    ],
)
def test_each_check_finds_what_its_clip_holds(
    checks: dict[tuple[str, str], tuple[str, str]],
    shot: str,
    check: str,
    verdict: str,
    value: str | None,
) -> None:
    got = checks[(shot, check)]
    assert got[0] == verdict, got
    if value is not None:
        assert got[1] == value
    # and nothing else about that clip is wrong
    others = {k: v for k, v in checks.items() if k[0] == shot and k[1] != check}
    assert all(v[0] in (PASS, "n/a") for v in others.values()) or shot == "film", others
