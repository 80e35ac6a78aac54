"""The stems step (issue 17): the film's music, or a reference track, split into vocals and
instrumental, versioned in 04_Audio/, and the mix playing the instrumental when asked. The
local split is previz (centre channel and a speech band): what it is measured to do here is
that much, not source separation."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from ruamel.yaml import YAML

import vfbuild
from tests.e2e.film import make_film, vf
from vfbuild.fsutil import sha256_file
from vfbuild.media import mix
from vfbuild.media.ffmpeg import ffmpeg_exe
from vfbuild.providers.local.split import render_stem
from vfbuild.store.locks import FILM_LOCK

# A "song": a centred 1 kHz "voice" from 1 s on, a centred 55 Hz bass, a 700 Hz part on the
# left only.
SONG = (
    "aevalsrc=exprs='0.3*sin(2*PI*1000*t)*gt(t,1)+0.3*sin(2*PI*55*t)+0.3*sin(2*PI*700*t)"
    "|0.3*sin(2*PI*1000*t)*gt(t,1)+0.3*sin(2*PI*55*t)':s=48000:d={d}"
)


def _song(path: Path, seconds: float = 3.0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [ffmpeg_exe(), "-v", "error", "-y", "-f", "lavfi", "-i", SONG.format(d=seconds),
         "-c:a", "pcm_s16le", "-bitexact", str(path)],
        check=True,
    )  # fmt: skip
    return path


def _samples(path: Path) -> Any:
    import av

    with av.open(str(path)) as c:
        return np.concatenate([f.to_ndarray() for f in c.decode(audio=0)], axis=1)


def _edit(root: Path, change: Any) -> None:
    yaml = YAML()
    doc = yaml.load(root / "shots.yaml")
    change(doc)
    yaml.dump(doc, root / "shots.yaml")


def test_the_previz_split_puts_the_centred_voice_in_the_vocals_and_adds_up(
    tmp_path: Path,
) -> None:
    song = _song(tmp_path / "song.wav")
    vocals, rest = tmp_path / "v.wav", tmp_path / "i.wav"
    render_stem(vocals, source=song, stem="vocals")
    render_stem(rest, source=song, stem="instrumental")
    # The voice comes in at 1 s: the vocals rise with it, the instrumental does not.
    assert mix.rms_db(vocals, 1.2, 2.9) - mix.rms_db(vocals, 0.2, 0.9) >= 6.0
    assert abs(mix.rms_db(rest, 1.2, 2.9) - mix.rms_db(rest, 0.2, 0.9)) <= 1.0
    # The bass stays in the instrumental: far louder there than in the vocals.
    assert mix.rms_db(rest, 0.2, 0.9) - mix.rms_db(vocals, 0.2, 0.9) >= 6.0
    # The stems add up to the track (to 16-bit rounding).
    a, v, i = _samples(song), _samples(vocals), _samples(rest)
    assert a.shape == v.shape == i.shape
    assert np.abs(v + i - a).max() < 1e-3
    again = tmp_path / "v2.wav"
    render_stem(again, source=song, stem="vocals")
    assert sha256_file(again) == sha256_file(vocals)  # same input, same bytes


def test_the_films_music_is_split_and_the_mix_plays_its_instrumental(tmp_path: Path) -> None:
    root = make_film(tmp_path / "film")

    def music(doc: Any) -> None:
        doc["music"] = {"prompt": "warm strings"}
        doc["stems"] = {}

    _edit(root, music)
    film = vfbuild.open(root)
    report = film.build(tier="draft")
    assert report.ok, report.errors
    audio = root / "04_Audio"
    vocals, rest = (audio / f"Tiny_Film_stems_v001_{s}.wav" for s in ("vocals", "instrumental"))
    assert vocals.is_file() and rest.is_file()
    out = film.project.locks.output(FILM_LOCK, "mix")
    assert out is not None and "stem" not in out.recipe["inputs"]  # not asked: the music plays
    before = out.sha256
    bed = _samples(audio / "Tiny_Film_music_v001_t01.wav")
    assert np.abs(_samples(vocals) + _samples(rest) - bed).max() < 1e-3

    _edit(root, lambda doc: doc["stems"].update(mix=True))
    report = vfbuild.open(root).build(tier="draft")
    assert report.ok, report.errors
    # Only the mix (and the edit that plays it) is made again: the stems were made.
    assert sorted(report.made) == sorted(
        ["mix", "edit", "_subtitles-srt subtitles", "_subtitles-vtt subtitles"]
    ), report.made
    out = vfbuild.open(root).project.locks.output(FILM_LOCK, "mix")
    assert out is not None and out.sha256 != before
    stem = out.recipe["inputs"]["stem"]
    assert stem["sha256"] == sha256_file(rest) and stem["take"] == 2
    assert out.recipe["inputs"]["music"]["sha256"] == sha256_file(
        audio / "Tiny_Film_music_v001_t01.wav"
    )
    assert abs(mix.measure(root / out.file).integrated - -14.0) <= 1.0
    again = vf(root, "build", "--tier", "draft").stdout
    assert "made " not in again and "nothing else to make" in again, again


def test_a_reference_tracks_instrumental_plays_under_a_film_without_music(
    tmp_path: Path,
) -> None:
    root = make_film(tmp_path / "film")
    track = _song(root / "references" / "song.wav", seconds=4.0)
    _edit(root, lambda doc: doc.insert(1, "stems", {"source": "references/song.wav", "mix": True}))
    film = vfbuild.open(root)
    report = film.build(tier="draft")
    assert report.ok, report.errors
    rest = root / "04_Audio" / "Tiny_Film_stems_v001_instrumental.wav"
    out = film.project.locks.output(FILM_LOCK, "mix")
    assert out is not None and out.recipe["inputs"]["music"] is None
    assert out.recipe["inputs"]["stem"]["sha256"] == sha256_file(rest)
    # The mix is the instrumental (and the recorded line of s030 from 1 s on, where the
    # voice of the song would have been): before the line, the instrumental's level.
    made = root / out.file
    assert mix.rms_db(made, 0.2, 0.9) > -40
    # A new track makes new stems (v002) and a new mix.
    shutil.copy(_song(tmp_path / "other.wav", seconds=5.0), track)
    report = vfbuild.open(root).build(tier="draft")
    assert report.ok and {"stems t01", "stems t02", "mix"} <= set(report.made), report.made
    assert (root / "04_Audio" / "Tiny_Film_stems_v002_instrumental.wav").is_file()


@pytest.mark.parametrize(
    ("stems", "said"),
    [
        ({}, "`stems:` splits the film's music, and the film has no `music:`"),
        ({"source": "references/none.wav"}, "track 'references/none.wav' does not exist"),
        ({"source": "prompts/style.txt"}, "must be under 04_Audio/"),
    ],
)
def test_a_stems_source_that_is_not_there_is_a_clear_error(
    tmp_path: Path, stems: dict[str, str], said: str
) -> None:
    root = make_film(tmp_path / "film")
    _edit(root, lambda doc: doc.insert(1, "stems", stems))
    run = vf(root, "check", check=False)
    assert run.returncode != 0 and said in run.stderr, run.stderr
    assert "shots.yaml:" in run.stderr and "Traceback" not in run.stderr


def test_stems_made_by_hand_come_through_the_inbox(tmp_path: Path) -> None:
    """`use: manual` (a web tool such as Lalal.ai): the build asks for each stem by its name
    in inbox/film/stems/, and takes the files dropped there, bytes as they are."""
    root = make_film(tmp_path / "film")
    _song(root / "references" / "song.wav")

    def by_hand(doc: Any) -> None:
        doc.insert(1, "stems", {"source": "references/song.wav", "mix": True})
        doc.insert(1, "providers", {"stems": {"use": "manual"}})

    _edit(root, by_hand)
    first = vf(root, "build", "--tier", "draft")
    assert "waiting for your files" in first.stdout, first.stdout
    inbox = root / "inbox" / "film" / "stems"
    names = {s: f"Tiny_Film_stems_v001_{s}.wav" for s in ("vocals", "instrumental")}
    for name in names.values():
        assert (inbox / name.replace(".wav", ".request.md")).is_file()
    for stem, name in names.items():
        render_stem(inbox / name, source=root / "references" / "song.wav", stem=stem)
    second = vf(root, "build", "--tier", "draft")
    assert "made stems t01 (manual" in second.stdout and "made mix" in second.stdout, second.stdout
    for name in names.values():
        assert sha256_file(root / "04_Audio" / name) == sha256_file(inbox / name)
    out = vfbuild.open(root).project.locks.output(FILM_LOCK, "mix")
    assert out is not None
    assert out.recipe["inputs"]["stem"]["sha256"] == sha256_file(inbox / names["instrumental"])
