"""The voice and music steps' contracts: a take is sound only, decodable, at a real sample rate,
audible (a voice), as long as asked as its provider makes it (music)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from vfbuild.errors import ResultRejected
from vfbuild.media.contract import check_result
from vfbuild.media.ffmpeg import ffmpeg_exe
from vfbuild.providers import sounds
from vfbuild.steps import get as step

VOICE = step("voice").contract
MUSIC = step("music").contract


def ff(out: Path, *args: str) -> Path:
    subprocess.run([ffmpeg_exe(), "-v", "error", "-y", *args, str(out)], check=True)
    return out


def tone(out: Path, seconds: float, rate: int = 44100) -> Path:
    return ff(out, "-f", "lavfi", "-i", f"sine=f=330:d={seconds}:r={rate}")


def recipe(step_name: str, seconds: float | None = None, model: str = "m") -> dict[str, Any]:
    settings = {"seconds": seconds} if seconds is not None else {}
    return {"step": step_name, "provider": "fake", "model": model, "settings": settings}


class Maker:
    """A provider as the check sees it: its billing, and what it says it makes."""

    def __init__(self, made: float | None = None, by_hand: bool = False) -> None:
        self.name, self.made, self.by_hand = "fake", made, by_hand

    def units(self, step: str, seconds: float | None) -> tuple[str, float]:
        return ("take", 1.0)

    def made_seconds(self, recipe: dict[str, Any]) -> float | None:
        return self.made


def test_a_reading_passes_and_silence_is_refused(tmp_path: Path) -> None:
    check_result(VOICE, recipe("voice"), tone(tmp_path / "v.mp3", 1.5), label="s030 voice t01")
    silent = ff(tmp_path / "s.mp3", "-f", "lavfi", "-i", "anullsrc=r=44100:cl=mono", "-t", "2")
    with pytest.raises(ResultRejected, match="expected an audible reading.*got silence"):
        check_result(VOICE, recipe("voice"), silent, label="s030 voice t01")


def test_a_video_or_an_image_is_not_a_voice(tmp_path: Path) -> None:
    clip = ff(tmp_path / "c.mp4", "-f", "lavfi", "-i", "testsrc2=size=64x36:d=1", "-f", "lavfi",
              "-i", "sine=d=1", "-shortest")  # fmt: skip
    with pytest.raises(ResultRejected, match=r"expected audio \(sound only\), got a video"):
        check_result(VOICE, recipe("voice"), clip, label="s030 voice t01")


def test_a_sample_rate_too_low_is_refused(tmp_path: Path) -> None:
    low = ff(tmp_path / "low.wav", "-f", "lavfi", "-i", "sine=f=300:d=1:r=4000")
    with pytest.raises(ResultRejected, match="8000 Hz or more.*got 4000 Hz, 1 channel"):
        check_result(VOICE, recipe("voice"), low, label="s030 voice t01")


def test_a_damaged_file_is_refused(tmp_path: Path) -> None:
    good = tone(tmp_path / "g.wav", 2.0)
    data = bytearray(good.read_bytes())
    data[100:] = b"\xff\x00" * ((len(data) - 100) // 2) + b"\x00" * ((len(data) - 100) % 2)
    bad = tmp_path / "bad.mp3"
    bad.write_bytes(b"ID3\x03\x00\x00\x00\x00\x00\x00" + bytes(data[:4000]))
    with pytest.raises(ResultRejected):
        check_result(VOICE, recipe("voice"), bad, label="s030 voice t01")


def test_music_lasts_what_was_asked_within_the_tolerance(tmp_path: Path) -> None:
    six = tone(tmp_path / "six.wav", 6.0)
    check_result(MUSIC, recipe("music", 6.0), six, label="music t01", provider=Maker())
    check_result(MUSIC, recipe("music", 6.3), six, label="music t01", provider=Maker())
    with pytest.raises(ResultRejected, match=r"expected a piece of 12.00 s .*got 6.00 s"):
        check_result(MUSIC, recipe("music", 12.0), six, label="music t01", provider=Maker())
    with pytest.raises(ResultRejected, match=r"expected a piece of 3.00 s"):  # not what was asked
        check_result(MUSIC, recipe("music", 3.0), six, label="music t01", provider=Maker())


def test_music_is_held_to_what_its_model_makes(tmp_path: Path) -> None:
    """CassetteAI makes 10 s at least: a 10 s piece for a 6 s cut is what was asked, a 6 s one
    is not; a file made by hand may be longer than the cut (the mix trims it)."""
    ten = tone(tmp_path / "ten.wav", 10.0)
    made = sounds.FAL["cassetteai/music-generator"].seconds(6.0)
    check_result(MUSIC, recipe("music", 6.0), ten, label="music t01", provider=Maker(made))
    six = tone(tmp_path / "six.wav", 6.0)
    with pytest.raises(ResultRejected):
        check_result(MUSIC, recipe("music", 6.0), six, label="music t01", provider=Maker(made))
    check_result(MUSIC, recipe("music", 3.0), six, label="music t01", provider=Maker(by_hand=True))
    with pytest.raises(ResultRejected, match="at least"):
        check_result(
            MUSIC, recipe("music", 12.0), six, label="music t01", provider=Maker(by_hand=True)
        )
