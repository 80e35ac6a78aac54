"""The example film, as the README promises: a fresh clone reproduces it from its locks."""

from __future__ import annotations

from pathlib import Path

import pytest
from ruamel.yaml import YAML

from tests.conftest import EXAMPLE, copy_film
from tests.e2e.film import vf
from vfbuild.fsutil import sha256_file
from vfbuild.media.probe import probe


def test_frozen_fresh_clone_of_the_example_is_byte_identical(tmp_path: Path) -> None:
    film = copy_film(EXAMPLE, tmp_path / "example")
    proc = vf(film, "build", "--frozen", "-j", "2")
    # v002: the edit of the continuity chain (s040 starts on s030's last frame, restyled)
    assert "film: 06_Edit/Winter_to_Spring_v002.mp4" in proc.stdout
    yaml = YAML(typ="safe")
    pinned = 0
    for lock_file in sorted((film / "locks").glob("*.yaml")):
        lock = yaml.load(lock_file.read_text())
        for step, out in lock.get("outputs", {}).items():
            assert sha256_file(film / out["file"]) == out["sha256"], (lock_file.name, step)
            pinned += 1
        for step, pick in lock.get("picks", {}).items():
            assert sha256_file(film / pick["file"]) == pick["sha256"], (lock_file.name, step)
    # final and upscale of six shots, one lipsync, the edit, and s040's continuity chain: its
    # first frame (s030's last) and that frame restyled
    assert pinned == 6 * 2 + 1 + 1 + 2
    # nothing but the pinned takes was generated
    # (s040 has no keyframe of its own: its first frame comes from s030)
    assert len(list((film / "03_Generations/v1_exploration").iterdir())) == 11

    shots = yaml.load((film / "shots.yaml").read_text())["shots"]
    info = probe(film / "06_Edit/Winter_to_Spring_v002.mp4")
    assert info.video_codec == "h264" and info.has_audio and info.fps == pytest.approx(24)
    assert (info.color_primaries, info.color_trc, info.color_space) == ("bt709",) * 3
    total = sum(s["duration"] for s in shots)
    assert info.duration == pytest.approx(total, abs=len(shots) / 24)
