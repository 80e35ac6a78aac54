"""Voice cloning at ElevenLabs (Instant Voice Cloning) against the fake: a sample is cloned
once, before the reading is journalled; the clone is recorded by the sample's sha256 and found
again by its name when the record or the reply is lost; never cloned twice."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.elevenlabs import KEYS, ElevenLabsFake
from tests.providers.kit import Run, provider, recipe, tone
from vfbuild.errors import ProviderError
from vfbuild.fsutil import sha256_file
from vfbuild.providers.voiceclone import clone_name
from vfbuild.store import vfdir

LINE = "Winter was long."


@pytest.fixture
def fake(serve: Any) -> ElevenLabsFake:
    return serve(ElevenLabsFake, KEYS)


def reading(root: Path, sample: Path, take: int = 1, line: str = LINE) -> Run:
    rec = recipe(
        "elevenlabs",
        "voice",
        {"voice": None, "voice_settings": {}},
        prompt=line,
        take=take,
        negative=None,
    )
    rec["inputs"] = {"sample": sha256_file(sample)}
    run = Run(root, rec, {"sample": sample})
    run.out = run.out.with_suffix(".mp3")
    return run


def tts_voices(fake: ElevenLabsFake) -> list[str]:
    return [p.split("/")[-1] for m, p in fake.log if m == "POST" and "/text-to-speech/" in p]


def test_a_sample_is_cloned_once_and_read_in_its_voice(fake: ElevenLabsFake, tmp_path: Path):
    sample = tone(tmp_path / "driver.wav", 3.0)
    first, second = reading(tmp_path, sample, 1), reading(tmp_path, sample, 2)
    first.make()
    second.make(prov=first.prov)
    assert fake.clones == 1 and fake.paid_jobs == 2
    (voice_id,) = fake.cloned
    assert fake.cloned[voice_id]["name"] == clone_name(sha256_file(sample))
    assert tts_voices(fake) == [voice_id, voice_id]
    record = json.loads((tmp_path / vfdir.VOICES).read_text())
    assert record == {
        f"elevenlabs:{sha256_file(sample)}": {
            "state": "cloned",
            "name": clone_name(sha256_file(sample)),
            "voice_id": voice_id,
        }
    }
    # Another build (a new process) reads the record: it asks nothing before the reading.
    fake.log.clear()
    third = reading(tmp_path, sample, 3)
    third.make()
    assert [p for _, p in fake.log if "/voices" in p] == []
    assert fake.clones == 1 and tts_voices(fake) == [voice_id]


def test_a_lost_record_finds_the_clone_by_its_name(fake: ElevenLabsFake, tmp_path: Path):
    sample = tone(tmp_path / "driver.wav", 3.0)
    reading(tmp_path, sample, 1).make()
    (tmp_path / vfdir.VOICES).unlink()  # another machine, or a deleted .vf
    other = tmp_path / "clone"
    other.mkdir()
    run = reading(other, sample, 2)
    run.make()
    assert fake.clones == 1 and ("GET", "/v1/voices") in fake.log
    assert tts_voices(fake)[-1] in fake.cloned


def test_a_lost_clone_reply_is_found_not_cloned_again(fake: ElevenLabsFake, tmp_path: Path):
    sample = tone(tmp_path / "driver.wav", 3.0)
    fake.faults.force("clone", "drop")  # the clone is made, its reply lost
    reading(tmp_path, sample).make()
    assert ("clone", "drop") in fake.faults.injected
    assert fake.clones == 1 and fake.paid_jobs == 1


def test_another_sample_is_another_voice(fake: ElevenLabsFake, tmp_path: Path):
    a, b = tone(tmp_path / "a.wav", 3.0), tone(tmp_path / "b.wav", 2.0)
    reading(tmp_path, a).make()
    reading(tmp_path, b).make()
    assert fake.clones == 2 and len(set(tts_voices(fake))) == 2


def test_a_sample_that_is_not_audio_is_refused_before_any_reading(
    fake: ElevenLabsFake, tmp_path: Path
):
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"not a recording")
    run = reading(tmp_path, junk)
    with pytest.raises(ProviderError, match="clone the voice of junk.wav"):
        run.make()
    assert fake.clones == 0 and fake.paid_jobs == 0 and run.state() is None


def test_units_and_plan_never_clone(fake: ElevenLabsFake, tmp_path: Path):
    prov: Any = provider("elevenlabs", tmp_path)
    assert prov.units("voice", None) == ("take", 1.0)
    assert fake.log == []
