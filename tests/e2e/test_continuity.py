"""Continuity on the example film (at thumbnail tiers, so it takes seconds): s040's first frame
is s030's last frame, restyled; a new pick of s030's draft rebuilds s030's downstream and
s040's chain, and nothing else."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from PIL import Image, ImageChops, ImageStat
from ruamel.yaml import YAML

from tests.conftest import EXAMPLE, copy_film
from tests.e2e.film import vf
from vfbuild.media.ffmpeg import ffmpeg_exe

OTHERS = ("s010", "s020", "s030", "s050", "s060")


def made(stdout: str) -> set[str]:
    """What a build made, by label: {"s030 final", "s040 draft t01", "edit", …}."""
    return set(re.findall(r"^\s+made (.+?) \(", stdout, re.M))


def _last_frame(clip: Path, out: Path) -> Image.Image:
    subprocess.run(
        [ffmpeg_exe(), "-v", "error", "-y", "-sseof", "-1", "-i", str(clip), "-update", "1",
         str(out)],
        check=True,
    )  # fmt: skip
    return Image.open(out).convert("RGB")


@pytest.fixture(scope="module")
def chained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example with small tiers, taken through its picks to a finished edit."""
    film = copy_film(EXAMPLE, tmp_path_factory.mktemp("continuity") / "film")
    for lock in (film / "locks").glob("*.yaml"):
        lock.unlink()
    yaml = YAML()
    doc = yaml.load(film / "shots.yaml")
    doc["film"]["tiers"] = {"draft": "128x72", "final": "256x144"}
    doc["film"]["delivery"] = "256x144"
    for shot in doc["shots"]:
        shot["duration"] = 1
        if "keyframe" in shot:
            shot["keyframe"]["takes"] = 1
        shot["motion"]["takes"] = 2
    yaml.dump(doc, film / "shots.yaml")
    vf(film, "build", "-j", "2")
    for sid in OTHERS:
        vf(film, "pick", sid, "keyframe", "1")
    vf(film, "build", "-j", "2")
    for sid in OTHERS:
        vf(film, "pick", sid, "draft", "1")
    vf(film, "build", "-j", "2")  # the finals, then s040's chain
    vf(film, "pick", "s040", "draft", "1")
    vf(film, "build", "-j", "2")
    return film


def test_s040_starts_on_s030s_last_frame_restyled(chained: Path, tmp_path: Path) -> None:
    src = chained / "01_Source_Images"
    assert not list((chained / "03_Generations").rglob("s040_keyframe_*"))  # none of its own
    frame = Image.open(src / "s040_first_v001.png").convert("RGB")
    s030_last = _last_frame(
        chained / "03_Generations/v3_final/s030_final_v001.mp4", tmp_path / "l.png"
    )
    assert frame.size == s030_last.size == (256, 144)
    # the frame is s030's last (as decoded by ffmpeg here: within rounding)
    diff = ImageStat.Stat(ImageChops.difference(frame, s030_last)).mean
    assert max(diff) < 2.0, diff
    # restyled: visibly another picture (graded, the prompt drawn over it)
    spring = Image.open(src / "s040_first-restyle_v001.png").convert("RGB")
    assert spring.size == frame.size
    assert max(ImageStat.Stat(ImageChops.difference(spring, frame)).mean) > 10
    assert (chained / "03_Generations/v3_final/s040_final_v001.mp4").is_file()
    assert (chained / "06_Edit").is_dir() and list((chained / "06_Edit").glob("*.mp4"))


def test_a_new_s030_draft_pick_rebuilds_its_downstream_and_s040s_chain_only(
    chained: Path, tmp_path: Path
) -> None:
    import shutil

    film = tmp_path / "film"
    shutil.copytree(chained, film, symlinks=True)
    assert made(vf(film, "build", "-j", "2").stdout) == set()  # a no-op first
    vf(film, "pick", "s030", "draft", "2")
    out = vf(film, "build", "-j", "2").stdout
    assert made(out) == {
        "s030 final",
        "s030 upscale",
        "s040 first",
        "s040 first-restyle",
        "s040 draft t01",
        "s040 draft t02",
        "s030 segment",  # the edit re-encodes s030's segment only, then joins
        "edit",
        "_subtitles-srt subtitles",  # each edit version has its subtitles
        "_subtitles-vtt subtitles",
    }, out
    # s040's draft pick is now out of date: it stays in force until the user picks again
    assert "s040 draft: pick is out of date" in out
    assert made(vf(film, "build", "-j", "2").stdout) == set()
