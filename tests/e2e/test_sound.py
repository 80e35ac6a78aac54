"""Sound, end to end on a tiny film (issue 17): a `line:` with no `audio:` file is read aloud
by the local voice (eSpeak NG), lip-sync uses the chosen reading, a previz music bed plays
under the film and ducks under the line, and the edit is normalised to the film's loudness.
Changing the line re-makes only the voice and what follows from it; changing the music's
prompt only the music and what follows from it."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from ruamel.yaml import YAML

import vfbuild
from tests.e2e.film import make_film
from vfbuild.fsutil import sha256_file
from vfbuild.media import mix
from vfbuild.media.probe import probe
from vfbuild.store.locks import FILM_LOCK

LINE = "Winter was long. Spring was worth the drive."
SHOT = "s030"


def _edit_yaml(film: Path, change: object) -> None:
    yaml = YAML()
    doc = yaml.load(film / "shots.yaml")
    change(doc)  # type: ignore[operator]
    yaml.dump(doc, film / "shots.yaml")


def _spoken(doc: dict) -> None:  # type: ignore[type-arg]
    doc["characters"]["driver"] = {"voice": {"id": "en+m3"}}
    doc["music"] = {"prompt": "warm hopeful strings", "takes": 2, "pick": 2}
    shot = doc["shots"][2]
    shot["duration"] = 3.5
    shot["dialogue"] = {"line": LINE, "voice": "driver"}


@pytest.fixture(scope="module")
def film(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = make_film(tmp_path_factory.mktemp("sound") / "film")
    _edit_yaml(root, _spoken)
    f = vfbuild.open(root)
    assert f.build(tier="draft").ok
    for shot in ("s010", "s020", SHOT):
        f.pick(shot, "keyframe", 1)
    assert f.build(tier="draft").ok
    for shot in ("s010", "s020", SHOT):
        f.pick(shot, "draft", 1)
    report = f.build()
    assert report.ok, report.errors
    return root


def _output(root: Path, name: str, step: str) -> tuple[str, dict]:  # type: ignore[type-arg]
    out = vfbuild.open(root).project.locks.output(name, step)
    assert out is not None, (name, step)
    return out.file, out.recipe


def test_the_line_is_read_aloud_and_lip_sync_uses_the_reading(film: Path) -> None:
    takes = sorted((film / "04_Audio").glob(f"{SHOT}_voice_v001_t*.wav"))
    assert [t.name for t in takes] == [f"{SHOT}_voice_v001_t01.wav"]
    info = probe(takes[0])
    # eSpeak NG at 160 words a minute: nine words and two full stops, about 3 s of speech.
    expected = len(LINE.split()) * 60 / 160
    assert info.has_audio and 0.7 * expected < (info.audio_duration or 0) < 1.4 * expected
    loud = mix.measure(takes[0])
    assert loud.integrated > -30, loud  # speech, not silence
    _, lipsync = _output(film, SHOT, "lipsync")
    assert lipsync["inputs"]["audio"] == sha256_file(takes[0])


def test_the_music_ducks_under_the_line_and_the_edit_meets_its_loudness(film: Path) -> None:
    mix_file, mix_recipe = _output(film, FILM_LOCK, "mix")
    music = mix_recipe["inputs"]["music"]
    assert music["seconds"] == 6.0  # the cut: 1 + 1.5 + 3.5 s
    picked = film / "04_Audio" / "Tiny_Film_music_v001_t02.wav"  # `pick: 2`
    store = vfbuild.open(film).project.store
    assert sha256_file(picked) == music["sha256"]
    assert (film / "04_Audio" / "Tiny_Film_music_v001_t01.wav").is_file()

    line = mix_recipe["inputs"]["dialogue"][0]
    assert line["start"] == pytest.approx(2.5)
    voice = store.path(line["sha256"])
    stem = film / "music_stem.wav"
    mix.render_music_stem(
        stem,
        dialogue=[mix.Placed(line["start"], voice, line["length"])],
        music=mix.Music(picked, music["gain"], music["duck"]),
        seconds=6.0,
    )
    speech = probe(voice).audio_duration or 0
    during = mix.rms_db(stem, line["start"] + 0.3, line["start"] + speech - 0.2)
    before = mix.rms_db(stem, 0.3, line["start"] - 0.2)
    assert before - during >= 8.0, (before, during)

    edit_file, _ = _output(film, FILM_LOCK, "edit")
    edit = film / edit_file
    assert probe(edit).has_audio
    assert abs(mix.measure(edit).integrated - -14.0) <= 1.0
    assert abs(mix.measure(film / mix_file).integrated - -14.0) <= 1.0


def test_a_changed_line_remakes_the_voice_lipsync_mix_and_edit_only(film: Path) -> None:
    def change(doc: dict) -> None:  # type: ignore[type-arg]
        doc["shots"][2]["dialogue"]["line"] = "Spring was worth it."

    _edit_yaml(film, change)
    report = vfbuild.open(film).build()
    assert report.ok, report.errors
    # the shot's segment too (its clip is the new lip-sync), and the new edit's subtitles
    subtitles = ["_subtitles-srt subtitles", "_subtitles-vtt subtitles"]
    assert sorted(report.made) == sorted(
        [f"{SHOT} voice t01", f"{SHOT} lipsync", f"{SHOT} segment", "mix", "edit", *subtitles]
    ), report.made


def test_a_changed_music_prompt_remakes_the_music_mix_and_edit_only(film: Path) -> None:
    def change(doc: dict) -> None:  # type: ignore[type-arg]
        doc["music"]["prompt"] = "a lonely cello in the snow"

    _edit_yaml(film, change)
    report = vfbuild.open(film).build()
    assert report.ok, report.errors
    subtitles = ["_subtitles-srt subtitles", "_subtitles-vtt subtitles"]
    assert sorted(report.made) == sorted(["edit", "mix", "music t01", "music t02", *subtitles]), (
        report.made
    )


def test_a_shorter_cut_keeps_music_that_still_fits(film: Path) -> None:
    def shorter(doc: dict) -> None:  # type: ignore[type-arg]
        doc["shots"][1]["duration"] = 1.0

    _edit_yaml(film, shorter)
    f = vfbuild.open(film)
    report = f.build()
    assert report.ok, report.errors
    assert "music t01" not in report.made and "music t02" not in report.made, report.made
    _, mix_recipe = _output(film, FILM_LOCK, "mix")
    assert mix_recipe["settings"]["seconds"] == pytest.approx(5.5)
    assert mix_recipe["inputs"]["music"]["seconds"] == 6.0  # trimmed, with a fade

    def longer(doc: dict) -> None:  # type: ignore[type-arg]
        doc["shots"][1]["duration"] = 3.0

    _edit_yaml(film, longer)
    report = vfbuild.open(film).build()
    assert report.ok, report.errors
    assert {"music t01", "music t02"} <= set(report.made)  # too short now: asked again
    _, mix_recipe = _output(film, FILM_LOCK, "mix")
    assert mix_recipe["inputs"]["music"]["seconds"] == 8.0


def test_the_local_voice_is_deterministic_across_processes(tmp_path: Path) -> None:
    import subprocess
    import sys

    code = (
        "import sys; from pathlib import Path; from vfbuild.providers.local import speech;"
        "speech.speak(Path(sys.argv[1]), 'Winter was long.', voice='en+m3', rate=160, pitch=50)"
    )
    outs = []
    for i in range(2):
        out = tmp_path / f"v{i}.wav"
        subprocess.run([sys.executable, "-c", code, str(out)], check=True)
        outs.append(out.read_bytes())
    from vfbuild.providers.local import speech

    speech.speak(tmp_path / "here.wav", "Winter was long.", voice="en+m3", rate=160, pitch=50)
    assert outs[0] == outs[1] == (tmp_path / "here.wav").read_bytes()
    assert len(outs[0]) > 20_000


def test_voice_and_music_jobs_killed_mid_request_are_never_paid_twice(tmp_path: Path) -> None:
    """The kill -9 loop on ElevenLabs, whose calls answer with the audio itself: vf is killed
    after ElevenLabs made a generation and before its reply; the next build finds it in the
    history instead of asking (and paying) again."""
    import os
    import signal
    import subprocess
    import sys

    from tests.e2e.remote import remote_film
    from vfbuild.store.journal import Journal
    from vfbuild.store.ledger import Ledger

    with remote_film(tmp_path, "elevenlabs", latency=0.05) as film:
        doc = YAML().load(film.root / "shots.yaml")
        doc["characters"]["driver"] = {"voice": {"id": "fake-driver-voice"}}
        doc["music"] = {"prompt": "warm hopeful strings", "takes": 2, "pick": 1}
        doc["shots"][2]["dialogue"] = {"line": LINE, "voice": "driver", "takes": 2, "pick": 1}
        for shot in doc["shots"]:
            shot["keyframe"]["takes"] = 1
        YAML().dump(doc, film.root / "shots.yaml")
        planned, _ = film.planned("--tier", "draft")
        assert planned == 4  # two readings, two pieces
        victim: list[subprocess.Popen[bytes]] = []
        creates = [0]

        def kill_on_create() -> None:
            creates[0] += 1
            if creates[0] in (1, 3) and victim and victim[-1].poll() is None:
                os.kill(victim[-1].pid, signal.SIGKILL)
                victim[-1].wait()

        film.fake.on_create = kill_on_create
        cmd = [sys.executable, "-m", "vfbuild", "-C", str(film.root), "build", "--tier", "draft"]
        for _ in range(6):
            proc = subprocess.Popen(
                cmd, env={**os.environ, **film.env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE
            )
            victim.append(proc)
            _, err = proc.communicate(timeout=120)
            if proc.returncode == 0:
                break
            assert proc.returncode in (1, -signal.SIGKILL), err
        assert proc.returncode == 0, err
        assert film.fake.paid_jobs == planned == creates[0]
        rows = Ledger(film.root).rows()
        assert len(rows) == 4 and len({r.recipe_key for r in rows}) == 4
        assert {e.state for e in Journal(film.root / ".vf" / "journal").entries()} == {"ledgered"}
        assert ("GET", "/v1/history") in film.fake.log  # the lost replies were looked up
        # and the film speaks ElevenLabs' reading over its music
        assert (film.root / f"04_Audio/{SHOT}_voice_v001_t01.mp3").is_file()
        assert film.vf("build", "--tier", "draft").returncode == 0
        assert film.fake.paid_jobs == 4
        assert KEY_NOT_IN(film.root, film.keys["ELEVENLABS_API_KEY"])


def KEY_NOT_IN(root: Path, key: str) -> bool:  # noqa: N802
    """The key is in no file the build wrote."""
    for p in root.rglob("*"):
        if p.is_file() and p.stat().st_size < 5_000_000 and key.encode() in p.read_bytes():
            return False
    return True


def test_voice_and_music_made_by_hand_come_through_the_inbox(tmp_path: Path) -> None:
    """`use: manual` for tools with no API (Suno's web app, a recording session): the build
    asks for the files in inbox/, and takes the ones dropped there as the takes."""
    from tests.e2e.film import vf
    from vfbuild.media.ffmpeg import ffmpeg_exe

    film = make_film(tmp_path / "film")

    def manual(doc: dict) -> None:  # type: ignore[type-arg]
        _spoken(doc)
        doc["music"]["takes"], doc["music"]["pick"] = 1, 1
        doc.insert(1, "providers", {"voice": {"use": "manual"}, "music": {"use": "manual"}})

    _edit_yaml(film, manual)
    first = vf(film, "build", "--tier", "draft")
    assert "waiting for your files" in first.stdout, first.stdout
    voice_inbox = film / "inbox" / SHOT / "voice"
    music_inbox = film / "inbox" / "film" / "music"
    request = (voice_inbox / f"{SHOT}_voice_v001_t01.request.md").read_text()
    assert LINE in request

    def drop(dest: Path, seconds: float) -> None:
        subprocess.run(
            [ffmpeg_exe(), "-v", "error", "-f", "lavfi", "-i",
             f"sine=frequency=330:duration={seconds}", str(dest)],
            check=True,
        )  # fmt: skip

    drop(voice_inbox / f"{SHOT}_voice_v001_t01.mp3", 2.5)
    # The film's steps follow the shots' (a file still awaited holds them back): the music is
    # asked for once the voice is in.
    second = vf(film, "build", "--tier", "draft")
    assert f"made {SHOT} voice t01 (manual" in second.stdout, second.stdout
    assert (film / "04_Audio" / f"{SHOT}_voice_v001_t01.wav").is_file()
    assert (music_inbox / "Tiny_Film_music_v001_t01.request.md").is_file()
    drop(music_inbox / "Tiny_Film_music_v001_t01.wav", 6.0)
    third = vf(film, "build", "--tier", "draft")
    assert "made music t01 (manual" in third.stdout and "made mix" in third.stdout, third.stdout
    assert probe(film / "04_Audio" / "Tiny_Film_music_v001_t01.wav").has_audio
