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
    # final and upscale of six shots, one lipsync, the mix, the edit, and s040's continuity
    # chain: its first frame (s030's last) and that frame restyled
    # ... and the edit's six segments and its two subtitle files
    assert pinned == 6 * 2 + 1 + 1 + 1 + 2 + 6 + 2
    # nothing but the pinned takes was generated, and s050's voice take
    # (s040 has no keyframe of its own: its first frame comes from s030)
    assert len(list((film / "03_Generations/v1_exploration").iterdir())) == 12

    shots = yaml.load((film / "shots.yaml").read_text())["shots"]
    info = probe(film / "06_Edit/Winter_to_Spring_v002.mp4")
    assert info.video_codec == "h264" and info.has_audio and info.fps == pytest.approx(24)
    assert (info.color_primaries, info.color_trc, info.color_space) == ("bt709",) * 3
    total = sum(s["duration"] for s in shots)
    assert info.duration == pytest.approx(total, abs=len(shots) / 24)

    # Sound (issue 17): s050 speaks its line (no `audio:` file), over a music bed that ducks
    # under it, and the edit is at the film's loudness.
    from vfbuild.media import mix

    s050 = next(s for s in shots if s["id"] == "s050")
    assert "audio" not in s050["dialogue"]
    voice = film / "04_Audio/s050_voice_v001_t01.wav"
    reading = probe(voice).audio_duration or 0
    words = len(s050["dialogue"]["line"].split())
    assert 0.7 < reading / (words * 60 / 160) < 1.4  # eSpeak NG at 160 words a minute
    assert mix.measure(voice).integrated > -30
    s050_lock = yaml.load((film / "locks/s050.yaml").read_text())
    assert s050_lock["outputs"]["lipsync"]["recipe"]["inputs"]["audio"] == sha256_file(voice)
    start = sum(s["duration"] for s in shots[: shots.index(s050)])
    film_lock = yaml.load((film / "locks/_film.yaml").read_text())
    music = film_lock["outputs"]["mix"]["recipe"]["inputs"]["music"]
    stem = tmp_path / "music.wav"
    mix.render_music_stem(
        stem,
        dialogue=[mix.Placed(start, voice, s050["duration"])],
        music=mix.Music(film / "04_Audio/Winter_to_Spring_music_v001_t01.wav", music["gain"]),
        seconds=total,
    )
    during = mix.rms_db(stem, start + 0.3, start + reading - 0.2)
    outside = mix.rms_db(stem, 1.0, start - 0.5)
    assert outside - during >= 8.0, (outside, during)
    edit = mix.measure(film / "06_Edit/Winter_to_Spring_v002.mp4")
    assert abs(edit.integrated - -14.0) <= 1.0, edit
