"""`vf qc`, the acceptance: a film that mixes a 30 fps clip into a 24 fps film, has a black
second and a silent dialogue shot is reported for exactly those three; the same film made
clean passes. The clips come from a provider that makes them with ffmpeg (the in-memory
provider, for the `video` slot); everything else is the local renderer and the real edit."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

import vfbuild
from tests.conftest import REPO
from tests.e2e.film import vf
from tests.finish.film import build_to_final
from vfbuild import jsonout
from vfbuild.finish.qc import FAIL, WARN
from vfbuild.media.ffmpeg import ffmpeg_exe
from vfbuild.providers import memory

SHOTS = """\
film:
  title: QC Film
  fps: 24
  tiers: {draft: 128x72, final: 128x72}
  delivery: 128x72
  grain: 0
providers:
  video: {use: memory}
shots:
  - id: s010
    duration: 1
    keyframe: {shot: wide shot, subject: a road, takes: 1, seed: 1}
    motion: {move: push-in, prompt: the road, takes: 1}
  - id: s020
    duration: 2
    keyframe: {shot: close-up, subject: a wheel, takes: 1, seed: 2}
    motion: {move: pan-left, prompt: the wheel turns, takes: 1}
  - id: s030
    duration: 1
    keyframe: {shot: medium shot, subject: the driver, takes: 1, seed: 3}
    motion: {move: push-in, prompt: the driver speaks, takes: 1}
    dialogue: {audio: 04_Audio/s030.wav, line: hello}
  - id: s040
    duration: 1.5
    keyframe: {shot: close-up, subject: the passenger, takes: 1, seed: 4}
    motion: {move: push-in, prompt: the passenger answers, takes: 1}
    dialogue: {audio: 04_Audio/s040.wav, line: hello to you}
"""
# ffmpeg's 1 kHz sine is at 1/8 of full scale; this gain makes it -14 LUFS (the target) in the edit.
LINE_DB = 7.5


def _ffmpeg(*args: str) -> None:
    subprocess.run([ffmpeg_exe(), "-v", "error", "-y", *args], check=True)


def _line(path: Path, seconds: float, silent: bool) -> None:
    src = (
        f"anullsrc=r=48000:cl=mono:d={seconds}"
        if silent
        else f"sine=frequency=1000:sample_rate=48000:duration={seconds},volume={LINE_DB}dB"
    )
    _ffmpeg("-f", "lavfi", "-i", src, "-t", str(seconds), "-bitexact", str(path))


def _clip(job: memory.MemoryJob, bad: bool) -> bytes:
    """A moving test picture, Rec.709-tagged: at 30 fps for s010 and black from 0.5 s to
    1.5 s for s020 in the bad film."""
    s = job.settings
    shot = job.label.split()[0]
    fps = 30 if bad and shot == "s010" else int(s["fps"])
    chain = "setparams=colorspace=bt709:color_primaries=bt709:color_trc=bt709:range=tv"
    if bad and shot == "s020":
        chain = f"drawbox=x=0:y=0:w=iw:h=ih:color=black:t=fill:enable='between(t,0.5,1.5)',{chain}"
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "clip.mp4"
        _ffmpeg(
            "-f", "lavfi",
            "-i", f"testsrc2=size={s['width']}x{s['height']}:rate={fps}:duration={s['duration']}",
            "-vf", chain, "-c:v", "libx264", "-pix_fmt", "yuv420p", "-preset", "ultrafast",
            str(out),
        )  # fmt: skip
        return out.read_bytes()


def _film(root: Path, *, bad: bool) -> vfbuild.Film:
    root.mkdir(parents=True)
    (root / "shots.yaml").write_text(SHOTS)
    (root / "04_Audio").mkdir()
    _line(root / "04_Audio" / "s030.wav", 1.0, silent=bad)
    _line(root / "04_Audio" / "s040.wav", 1.5, silent=False)
    memory.register(memory.MemoryProvider(lambda job: _clip(job, bad)))
    try:
        return build_to_final(root)
    finally:
        memory.unregister()


@pytest.fixture(scope="module")
def films(tmp_path_factory: pytest.TempPathFactory) -> dict[str, vfbuild.Film]:
    base = tmp_path_factory.mktemp("qc")
    return {"bad": _film(base / "bad", bad=True), "clean": _film(base / "clean", bad=False)}


def test_qc_reports_exactly_the_mixed_rate_the_black_second_and_the_silent_line(
    films: dict[str, vfbuild.Film],
) -> None:
    report = films["bad"].qc()
    found = {(c.shot, c.check) for c in report.checks if c.verdict in (FAIL, WARN)}
    assert found == {("s010", "frame rate"), ("s020", "black frames"), ("s030", "dialogue")}
    assert not report.ok and len(report.failures) == 3 and not report.warnings
    by = {(c.shot, c.check): c for c in report.checks}
    assert by["s010", "frame rate"].value == "30 fps"
    assert by["s020", "black frames"].value.startswith("1.0")  # a black second
    assert by["s030", "dialogue"].value.startswith("silent")
    assert by["s040", "dialogue"].verdict == "pass"  # the other line is heard
    assert by["film", "loudness"].verdict == "pass"


def test_the_clean_film_passes(films: dict[str, vfbuild.Film]) -> None:
    report = films["clean"].qc()
    assert report.ok and not report.warnings, [c for c in report.checks if c.verdict != "pass"]
    checks = {(c.shot, c.check) for c in report.checks}
    for shot in ("s010", "s020", "s030", "s040"):
        assert {(shot, "frame rate"), (shot, "black frames"), (shot, "rec709")} <= checks
    assert {("s030", "dialogue"), ("film", "loudness"), ("film", "true peak")} <= checks


def test_the_edit_warns_of_what_a_probe_finds(films: dict[str, vfbuild.Film]) -> None:
    """The build ran the quick checks on its new edit version: the 30 fps clip is a note;
    the black second and the silent line need decoding, left to `vf qc`."""
    root = films["bad"].root
    shutil.rmtree(root / "06_Edit")
    (root / "locks" / "_film.yaml").unlink()
    memory.register(memory.MemoryProvider(lambda job: _clip(job, True)))
    try:
        report = vfbuild.open(root).build()
    finally:
        memory.unregister()
    assert report.ok
    notes = [n for n in report.notes if n.startswith("qc:")]
    assert notes[0].startswith("qc: s010 frame rate: 30 fps (fail")
    assert "`vf qc --version 1`" in notes[-1] and len(notes) == 2
    # A new version from the same clips (another grain) probes none of them again.
    yaml = root / "shots.yaml"
    yaml.write_text(yaml.read_text().replace("grain: 0\n", "grain: 0.1\n"))
    memory.register(memory.MemoryProvider(lambda job: _clip(job, True)))
    try:
        again = vfbuild.open(root).build()
    finally:
        memory.unregister()
    assert again.ok and (root / "06_Edit" / "QC_Film_v002.otio").is_file()
    assert not [n for n in again.notes if n.startswith("qc:")]


def test_vf_qc_strict_json_and_the_report_kept_per_version(
    films: dict[str, vfbuild.Film],
) -> None:
    schema = json.loads((REPO / "schema" / "json" / "qc.schema.json").read_text())
    for name, code in (("bad", 1), ("clean", 0)):
        root = films[name].root
        # A `vf` process knows no in-memory provider: the clips are taken as made by hand.
        yaml = root / "shots.yaml"
        yaml.write_text(yaml.read_text().replace("use: memory", "use: manual"))
        for f in (root / "06_Edit").glob("*.qc.json"):
            f.unlink()
        run = vf(root, "qc", "--strict", "--json", check=False)
        assert run.returncode == code, run.stderr
        doc = json.loads(run.stdout)
        Draft202012Validator(schema).validate(doc)
        assert doc["schema"] == jsonout.schema("qc") and doc["ok"] is (code == 0)
        kept = root / doc["file"]
        assert doc["file"].endswith(f"_v{doc['version']:03d}.qc.json")
        assert json.loads(kept.read_text()) == doc
        # A version's report is written once: a second run leaves it as it was.
        kept.write_text(kept.read_text().replace('"film"', '"film" ', 1))
        before = kept.read_bytes()
        again = vf(root, "qc", check=False)
        assert again.returncode == 0 and "kept (written before)" in again.stdout
        assert kept.read_bytes() == before
    table = vf(films["bad"].root, "qc").stdout.splitlines()
    assert table[0].split() == ["shot", "check", "value", "verdict"]
    assert any(ln.split()[:3] == ["s010", "frame", "rate"] and " fail " in ln for ln in table)
