"""Voice and music through fal and Replicate (providers/sounds.py), end to end on the tiny film:
the kill -9 loop on a voice and a music job pays for each planned job once; a bad take (silent,
or cut short) is refused and never becomes the pick."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from tests.e2e.remote import RemoteFilm, assert_store_and_layout_whole, remote_film
from vfbuild.store.journal import Journal
from vfbuild.store.ledger import Ledger

LINE = "Winter was long. Spring was worth the drive."
VOICES = {"fal": "Calm_Woman", "replicate": "Deep_Voice_Man"}


def spoken(film: RemoteFilm, *, voice_takes: int = 2, music_takes: int = 2) -> None:
    """The film's line read by the provider's voice model, and its music made there too
    (the picture stays local), one keyframe take a shot."""
    doc = YAML().load(film.root / "shots.yaml")
    choice = {"use": film.provider, "base_url": film.fake.url, "timeout": 5.0}
    doc["providers"] = {"voice": dict(choice), "music": dict(choice)}
    doc["characters"]["driver"] = {"voice": {"id": VOICES[film.provider]}}
    doc["music"] = {"prompt": "warm hopeful strings", "takes": music_takes, "pick": 1}
    doc["shots"][2]["dialogue"] = {
        "line": LINE,
        "voice": "driver",
        "takes": voice_takes,
        "pick": 1,
    }
    for shot in doc["shots"]:
        shot["keyframe"]["takes"] = 1
    YAML().dump(doc, film.root / "shots.yaml")


def kill_loop(film: RemoteFilm, kill: Any, runs: int = 8) -> list[int]:
    """`vf build --tier draft` again and again, `kill(victim)` armed, until one finishes; the
    builds' exit codes."""
    victim: list[subprocess.Popen[bytes]] = []
    kill.victim = victim
    cmd = [sys.executable, "-m", "vfbuild", "-C", str(film.root), "build", "--tier", "draft"]
    proc: subprocess.Popen[bytes] | None = None
    err = b""
    for _ in range(runs):
        proc = subprocess.Popen(
            cmd, env={**os.environ, **film.env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        victim.append(proc)
        _, err = proc.communicate(timeout=120)
        if proc.returncode == 0:
            break
        assert proc.returncode in (1, -signal.SIGKILL), err
    assert proc is not None and proc.returncode == 0, err
    return [p.returncode for p in victim]


class Killer:
    """Kills the build at chosen moments: the n-th time `hit` is called."""

    def __init__(self, at: set[int]) -> None:
        self.at, self.count = at, 0
        self.victim: list[subprocess.Popen[bytes]] = []

    def hit(self) -> None:
        self.count += 1
        if self.count in self.at and self.victim and self.victim[-1].poll() is None:
            os.kill(self.victim[-1].pid, signal.SIGKILL)
            self.victim[-1].wait()


@pytest.mark.parametrize("provider", ["fal", "replicate"])
def test_voice_and_music_jobs_killed_mid_flight_are_never_paid_twice(
    tmp_path: Path, provider: str
) -> None:
    """fal: vf is killed while it follows a voice and a music job (its first status request
    of jobs 1 and 3): the next build follows the journalled job, it does not submit it again.
    Replicate: killed as the job is taken and before its reply (creates 1 and 3): the next
    build finds the prediction in the key's list instead of paying for another."""
    with remote_film(tmp_path, provider, latency=0.2, slots=()) as film:
        spoken(film)
        planned, estimate = film.planned("--tier", "draft")
        assert planned == 4 and estimate > 0  # two readings, two pieces, priced
        killer = Killer({1, 3})
        if provider == "fal":
            seen: set[str] = set()

            def on_reply(req: Any) -> None:
                job = req.path.split("/requests/")[-1].split("/")[0]
                if "/requests/" in req.path and "/status" in req.path and job not in seen:
                    seen.add(job)
                    killer.hit()

            film.fake.on_reply = on_reply
        else:
            film.fake.on_create = killer.hit
        codes = kill_loop(film, killer)
        assert killer.count >= 3 and codes.count(-signal.SIGKILL) == 2, codes
        assert film.fake.paid_jobs == planned
        rows = Ledger(film.root).rows()
        assert len(rows) == 4 and len({r.recipe_key for r in rows}) == 4
        assert not any(r.lost for r in rows)
        assert film.ledger_total() == pytest.approx(estimate)  # the plan said what it cost
        assert {e.state for e in Journal(film.root / ".vf" / "journal").entries()} == {"ledgered"}
        assert {r.step for r in rows} == {"voice", "music"}
        assert (film.root / "04_Audio" / "s030_voice_v001_t01.mp3").is_file()
        assert (film.root / "04_Audio" / "Tiny_Film_music_v001_t01.wav").is_file()
        again = film.vf("build", "--tier", "draft")
        assert again.returncode == 0 and film.fake.paid_jobs == 4
        assert_store_and_layout_whole(film.root)


def test_a_silent_reading_and_a_short_piece_are_refused_and_never_picked(tmp_path: Path) -> None:
    """fal answers one voice job with silence, and one music job with a tenth of the piece:
    each is refused (billed, so ledgered, but not stored), cannot be picked, and
    `--retry-failed` makes it again; the mix plays only takes that met their contract."""
    from vfbuild.media import mix
    from vfbuild.media.probe import probe

    with remote_film(tmp_path, "fal", latency=0.05, slots=()) as film:
        spoken(film)
        film.fake.override_result("tts", "silent")
        film.fake.override_result("music", "short")
        paid = 0
        for step, why, retry in (
            ("voice", "expected an audible reading", ()),
            ("music", "expected a piece of 4.00 s", ("--retry-failed",)),
        ):
            run = film.vf("build", "--tier", "draft", "-j", "1", *retry, check=False)
            assert run.returncode != 0
            found = re.findall(
                rf"((?:s030 )?{step} t0\d): fal's result was refused: (.*)", run.stderr
            )
            assert len(found) == 1 and why in found[0][1], run.stderr
            take = found[0][0].split()[-1]
            paid += 2 if step == "voice" else 3  # the two readings; one again, and two pieces
            assert film.fake.paid_jobs == len(Ledger(film.root).rows()) == paid
            name = (
                f"s030_voice_v001_{take}.mp3"
                if step == "voice"
                else f"Tiny_Film_music_v001_{take}.wav"
            )
            assert not (film.root / "04_Audio" / name).exists()
            if step == "voice":
                pick = film.vf("pick", "s030", "voice", take.removeprefix("t0"), check=False)
                assert pick.returncode != 0, pick.stdout
        again = film.vf("build", "--tier", "draft", "--retry-failed")
        assert again.returncode == 0 and film.fake.paid_jobs == 6
        takes = sorted((film.root / "04_Audio").glob("s030_voice_*.mp3"))
        pieces = sorted((film.root / "04_Audio").glob("Tiny_Film_music_*.wav"))
        assert len(takes) == len(pieces) == 2
        assert all(mix.rms_db(t, 0, 2) > -60 for t in takes)
        assert all(abs((probe(p).audio_duration or 0) - 4.0) < 0.1 for p in pieces)


def test_a_characters_sample_is_cloned_once_and_the_local_voice_says_it_cannot(
    tmp_path: Path,
) -> None:
    """`voice: {sample: references/driver.wav}`: ElevenLabs clones it once (two readings, a
    changed line, a rebuild: one clone), records it by the sample's sha256; the local voice
    reads the line in its default voice and says so."""
    from tests.providers.kit import tone
    from vfbuild.fsutil import sha256_file
    from vfbuild.store import vfdir

    with remote_film(tmp_path, "elevenlabs", latency=0.05, slots=()) as film:
        sample = tone(film.root / "references" / "driver.wav", 3.0)
        yaml = YAML()
        doc = yaml.load(film.root / "shots.yaml")
        doc["providers"] = {"voice": {"use": "local"}}
        doc["characters"]["driver"] = {"voice": {"sample": "references/driver.wav"}}
        doc["shots"][2]["dialogue"] = {"line": LINE, "voice": "driver", "takes": 2, "pick": 1}
        yaml.dump(doc, film.root / "shots.yaml")
        local = film.vf("build", "--tier", "draft")
        said = local.stdout + local.stderr
        assert "eSpeak NG cannot clone references/driver.wav" in said, said
        assert (film.root / "04_Audio" / "s030_voice_v001_t01.wav").is_file()

        doc["providers"] = {"voice": {"use": "elevenlabs", "base_url": film.fake.url}}
        yaml.dump(doc, film.root / "shots.yaml")
        film.vf("build", "--tier", "draft")
        fake: Any = film.fake
        assert fake.clones == 1 and fake.paid_jobs == 2
        (voice_id,) = fake.cloned
        record = json.loads((film.root / vfdir.VOICES).read_text())
        assert record[f"elevenlabs:{sha256_file(sample)}"]["voice_id"] == voice_id
        doc["shots"][2]["dialogue"]["line"] = "Spring was worth it."
        yaml.dump(doc, film.root / "shots.yaml")
        film.vf("build", "--tier", "draft")
        assert fake.clones == 1 and fake.paid_jobs == 4
        voices = {p.split("/")[-1] for m, p in fake.log if "/text-to-speech/" in p}
        assert voices == {voice_id}
        assert film.vf("build", "--tier", "draft").returncode == 0 and fake.paid_jobs == 4
