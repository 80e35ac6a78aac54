"""Kling as it is published now (issue 18): the single API key, kling-v2-6 and kling-v3 with
their lengths, the last frame as `image_tail`, a content refusal as `InputRefused`, and
lip-sync through identify-face → advanced lip-sync. (The older forms: test_kling.py.)"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.kling import API_KEY, KEYS, KlingFake
from tests.providers import kit
from tests.providers.kit import clip, creates, ffmpeg, key_of, still, tone
from vfbuild.errors import InputRefused, ProviderError
from vfbuild.media.probe import probe
from vfbuild.providers.kling import KlingProvider, clip_seconds
from vfbuild.store.journal import REFUSED, Journal


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("kling2-media")
    last = d / "last.png"
    ffmpeg("-f", "lavfi", "-i", "color=c=green:size=640x360", "-frames:v", "1", str(last))
    return {
        "keyframe": still(d / "kf.png", "640x360"),
        "last": last,
        "clip": clip(d / "clip.mp4", "1280x720", 3),
        "audio": tone(d / "line.wav", 3),
    }


@pytest.fixture
def fake(serve: Any) -> KlingFake:
    return serve(KlingFake, KEYS, strict_media=True)


def recipe(step: str = "draft", *, model: str | None = None, seconds: float = 4.0, **ps: Any):
    settings = {"width": 640, "height": 360, "fps": 24, "duration": seconds, "move": "push-in"}
    return kit.recipe("kling", step, settings, model=model, ps=ps, prompt="a car climbs")


def make(prov: KlingProvider, r: dict[str, Any], inputs: dict[str, Path], tmp: Path) -> Path:
    out = tmp / f"{key_of(r)[:8]}.mp4"
    kit.make(prov, r, inputs, out, Journal(tmp / ".vf" / "journal"))
    return out


def test_first_and_last_frame_reach_kling_as_image_tail(
    prov: KlingProvider, fake: KlingFake, media: dict[str, Path], tmp_path: Path
) -> None:
    r = recipe("final", model="kling-v2-1")  # pro mode: kling-v2-1 takes a tail there
    make(prov, r, {"keyframe": media["keyframe"], "last": media["last"]}, tmp_path)
    (job,) = fake.jobs.values()
    assert job.extra["image_tail_sha256"] == hashlib.sha256(media["last"].read_bytes()).hexdigest()
    assert job.input["mode"] == "pro"


def test_a_std_draft_with_a_last_frame_on_a_pro_only_model_is_refused_before_sending(
    prov: KlingProvider, fake: KlingFake, media: dict[str, Path], tmp_path: Path
) -> None:
    with pytest.raises(ProviderError, match="in pro mode only") as e:
        make(
            prov, recipe("draft"), {"keyframe": media["keyframe"], "last": media["last"]}, tmp_path
        )
    assert "kling-v3" in (e.value.hint or "")
    assert creates(fake) == 0 and fake.paid_jobs == 0


def test_kling_v3_takes_a_tail_in_std_and_makes_the_shots_length(
    prov: KlingProvider, fake: KlingFake, media: dict[str, Path], tmp_path: Path
) -> None:
    r = recipe("draft", model="kling-v3", seconds=12.0)
    out = make(prov, r, {"keyframe": media["keyframe"], "last": media["last"]}, tmp_path)
    (job,) = fake.jobs.values()
    assert job.input["duration"] == "12" and job.input["mode"] == "std"
    assert job.extra["image_tail_sha256"]
    assert probe(out).duration == pytest.approx(12.0, abs=0.2)
    assert prov.units_for(r, 12.0) == ("second", 12.0)
    assert clip_seconds(2.0, "kling-v3") == 3 and clip_seconds(20.0, "kling-v3") == 15
    assert clip_seconds(12.0, "kling-v2-6") == 10  # 5 or 10 s, as before


def test_kling_v2_6_is_known(
    prov: KlingProvider, fake: KlingFake, media: dict[str, Path], tmp_path: Path
) -> None:
    make(prov, recipe("draft", model="kling-v2-6"), {"keyframe": media["keyframe"]}, tmp_path)
    (job,) = fake.jobs.values()
    assert job.input["model_name"] == "kling-v2-6" and job.input["duration"] == "5"
    assert "image_tail" not in job.input


def test_the_single_api_key_goes_as_bearer_without_the_pair(
    fake: KlingFake, media: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KLING_ACCESS_KEY")
    monkeypatch.delenv("KLING_SECRET_KEY")
    monkeypatch.setenv("KLING_API_KEY", API_KEY)
    prov = kit.provider("kling", tmp_path)
    make(prov, recipe("draft"), {"keyframe": media["keyframe"]}, tmp_path)
    assert fake.paid_jobs == 1 and fake.api_keys_seen >= 2  # the submit and the polls
    assert fake.tokens_seen == set()  # no JWT was signed


def test_a_wrong_api_key_is_refused_naming_it(
    fake: KlingFake, media: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KLING_API_KEY", "kling-wrong-key-0000")
    prov = kit.provider("kling", tmp_path)
    with pytest.raises(ProviderError) as e:
        make(prov, recipe("draft"), {"keyframe": media["keyframe"]}, tmp_path)
    assert "KLING_API_KEY" in (e.value.hint or "")
    assert "kling-wrong-key-0000" not in e.value.message + (e.value.hint or "")


def test_a_content_refusal_is_input_refused_and_not_retried(
    prov: KlingProvider, fake: KlingFake, media: dict[str, Path], tmp_path: Path
) -> None:
    fake.refuse_content = True
    r = recipe("draft")
    with pytest.raises(InputRefused, match="code 1301"):
        make(prov, r, {"keyframe": media["keyframe"]}, tmp_path)
    assert creates(fake) == 1 and fake.paid_jobs == 0
    entry = Journal(tmp_path / ".vf" / "journal").get(key_of(r))
    assert entry is not None and entry.state == REFUSED  # never sent again


# -- identify-face → advanced lip-sync --------------------------------------------------------


def lipsync(**ps: Any) -> dict[str, Any]:
    return kit.recipe(
        "kling", "lipsync", {"fps": 24}, model="kling-advanced-lipsync", ps=ps, prompt=None
    )


def test_advanced_lipsync_identifies_the_face_then_syncs_it(
    prov: KlingProvider, fake: KlingFake, media: dict[str, Path], tmp_path: Path
) -> None:
    out = make(prov, lipsync(), {"clip": media["clip"], "audio": media["audio"]}, tmp_path)
    posted = [p for m, p in fake.log if m == "POST"]
    assert posted == ["/v1/videos/identify-face", "/v1/videos/advanced-lip-sync"]
    (job,) = fake.jobs.values()
    (face,) = job.input["face_choose"]
    assert job.input["session_id"] in fake.sessions and face["face_id"] == "0"
    assert face["sound_start_time"] == 0 and face["sound_end_time"] == pytest.approx(3000, abs=30)
    info = probe(out)
    assert info.has_audio and (info.width, info.height) == (1280, 720)
    assert fake.paid_jobs == 1
    gets = {p for m, p in fake.log if m == "GET" and p.startswith("/v1/")}
    assert gets == {f"/v1/videos/advanced-lip-sync/{job.id}"}


def test_a_clip_without_a_face_is_refused_and_nothing_paid(
    prov: KlingProvider, fake: KlingFake, media: dict[str, Path], tmp_path: Path
) -> None:
    fake.no_face = True
    with pytest.raises(InputRefused, match="no face"):
        make(prov, lipsync(), {"clip": media["clip"], "audio": media["audio"]}, tmp_path)
    assert creates(fake) == 0 and fake.paid_jobs == 0


def test_a_lost_advanced_lipsync_reply_is_found_by_our_id(
    prov: KlingProvider, fake: KlingFake, media: dict[str, Path], tmp_path: Path
) -> None:
    fake.faults.force("create", "drop")
    make(prov, lipsync(), {"clip": media["clip"], "audio": media["audio"]}, tmp_path)
    assert fake.paid_jobs == 1 and creates(fake) == 1
    (job,) = fake.jobs.values()
    assert ("GET", f"/v1/videos/advanced-lip-sync/{job.extra['external_task_id']}") in fake.log
