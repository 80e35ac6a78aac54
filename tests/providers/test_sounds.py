"""Voice and music models on fal and Replicate (providers/sounds.py) against their fakes: each
model's request fields as its page gives them, the audio it sends back, what it bills, and the
faults every remote job survives (a dropped reply, a download cut short)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.fakes.fal import KEYS as FAL_KEYS
from tests.fakes.fal import FalFake
from tests.fakes.replicate import KEYS as REPLICATE_KEYS
from tests.fakes.replicate import ReplicateFake
from tests.providers.kit import Run, recipe
from vfbuild.errors import ProviderError
from vfbuild.media.probe import probe
from vfbuild.providers import sounds

LINE = "Winter was long. Spring was worth the drive."
FAKES = {"fal": (FalFake, FAL_KEYS), "replicate": (ReplicateFake, REPLICATE_KEYS)}


def sound_run(root: Path, provider: str, model: str, **kw: Any) -> Run:
    step = sounds.FAL.get(model, sounds.REPLICATE.get(model)).step  # type: ignore[union-attr]
    if step == "voice":
        settings: dict[str, Any] = {"voice": kw.pop("voice", None), "voice_settings": {}}
        prompt = LINE
    else:
        settings = {"seconds": kw.pop("seconds", 12.0)}
        prompt = "warm hopeful strings"
    rec = recipe(provider, step, settings, model=model, prompt=prompt, ps=kw or None)
    run = Run(root, rec, {})
    run.out = run.out.with_suffix(run.prov.ext(step))
    return run


CASES = [("fal", m) for m in sounds.FAL] + [("replicate", m) for m in sounds.REPLICATE]


@pytest.mark.parametrize(("provider", "model"), CASES)
def test_each_model_makes_real_audio_of_what_was_asked(
    serve: Any, tmp_path: Path, provider: str, model: str
) -> None:
    cls, keys = FAKES[provider]
    fake = serve(cls, keys)
    run = sound_run(tmp_path, provider, model)
    run.make()
    (job,) = fake.jobs.values()
    row = sounds.FAL.get(model) or sounds.REPLICATE[model]
    info = probe(run.out)
    assert info.has_audio and not info.has_video
    if row.step == "voice":
        assert job.input[row.text] == LINE
        assert abs((info.audio_duration or 0) - len(LINE) / 15) < 0.2
    else:
        assert job.input[row.text] == "warm hopeful strings"
        want = row.seconds(12.0)
        assert abs((info.audio_duration or 0) - want) < 0.1, (info.audio_duration, want)
        assert run.prov.made_seconds(run.recipe) == want
    unit, qty = run.prov.units_for(run.recipe, None)
    assert unit == row.bills
    if unit == "character":
        assert qty == len(LINE)


def test_fal_minimax_takes_the_voice_nested_and_asks_for_a_url(serve: Any, tmp_path: Path):
    fake = serve(FalFake, FAL_KEYS)
    run = sound_run(tmp_path, "fal", "fal-ai/minimax/speech-02-hd", voice="Calm_Woman")
    run.recipe["settings"]["voice_settings"] = {"speed": 1.2}
    run.make()
    (job,) = fake.jobs.values()
    assert job.input["voice_setting"] == {"voice_id": "Calm_Woman", "speed": 1.2}
    assert job.input["output_format"] == "url"
    assert [p for m, p in fake.log if m == "POST"] == ["/fal-ai/minimax/speech-02-hd"]
    assert run.out.suffix == ".mp3" and (probe(run.out).audio_codec or "").startswith("mp3")


def test_replicate_minimax_takes_a_flat_voice_id(serve: Any, tmp_path: Path):
    fake = serve(ReplicateFake, REPLICATE_KEYS)
    run = sound_run(tmp_path, "replicate", "minimax/speech-02-turbo", voice="Deep_Voice_Man")
    run.make()
    (job,) = fake.jobs.values()
    assert job.input["voice_id"] == "Deep_Voice_Man" and job.input["audio_format"] == "mp3"
    assert "voice_setting" not in job.input


def test_an_unknown_voice_is_refused_by_the_model_and_not_sent_again(serve: Any, tmp_path: Path):
    from vfbuild.errors import InputRefused

    fake = serve(FalFake, FAL_KEYS)
    run = sound_run(tmp_path, "fal", "fal-ai/minimax/speech-02-turbo", voice="nobody")
    with pytest.raises(InputRefused, match="voice_id"):
        run.make()
    with pytest.raises(InputRefused):
        run.make()
    assert fake.paid_jobs == 0


def test_music_lengths_follow_each_model(tmp_path: Path):
    assert sounds.FAL["cassetteai/music-generator"].seconds(6.0) == 10.0  # its shortest
    assert sounds.FAL["fal-ai/stable-audio"].seconds(60.0) == 47.0  # its longest
    assert sounds.FAL["fal-ai/stable-audio-25/text-to-audio"].seconds(6.2) == 7.0
    assert sounds.REPLICATE["google/lyria-2"].seconds(6.0) == 30.0  # a fixed clip


def test_a_model_not_in_the_table_is_refused_before_anything_is_sent(serve: Any, tmp_path: Path):
    fake = serve(FalFake, FAL_KEYS)
    rec = recipe("fal", "music", {"seconds": 6.0}, model="fal-ai/some-new-music-model")
    run = Run(tmp_path, rec, {})
    with pytest.raises(ProviderError, match="does not know how to ask"):
        run.make()
    assert fake.log == [] and run.state() is None


def test_a_sample_to_clone_is_refused_not_dropped(serve: Any, tmp_path: Path):
    fake = serve(ReplicateFake, REPLICATE_KEYS)
    run = sound_run(tmp_path, "replicate", "minimax/speech-02-hd")
    run.inputs["sample"] = tmp_path / "sample.wav"
    with pytest.raises(ProviderError, match="cannot clone"):
        run.make()
    assert fake.paid_jobs == 0


@pytest.mark.parametrize("provider", ["fal", "replicate"])
def test_faults_cost_one_job(serve: Any, tmp_path: Path, provider: str):
    """A dropped create reply, 503s and a download cut short or corrupt: one job, real audio."""
    cls, keys = FAKES[provider]
    fake = serve(cls, keys)
    model = "fal-ai/stable-audio-25/text-to-audio" if provider == "fal" else "meta/musicgen"
    fake.faults.force("api", "503")
    fake.faults.force("download", "truncate", "corrupt")
    run = sound_run(tmp_path, provider, model, seconds=5.0)
    run.make()
    if provider == "replicate":  # found again by its input in the list of predictions
        fake.faults.force("create", "drop")
        again = sound_run(tmp_path / "b", provider, model, seconds=4.0)
        again.make()
        assert fake.paid_jobs == 2
    else:
        assert fake.paid_jobs == 1
    assert probe(run.out).has_audio
    assert ("download", "truncate") in fake.faults.injected
