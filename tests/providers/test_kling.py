"""The Kling provider against its fake: JWT auth, image2video, lip-sync, account codes.

What every remote provider keeps (the journal, faults, keys, the look-up of a lost reply by our
external_task_id) is in test_contract.py."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest

from tests.fakes.kling import KEYS, KlingFake
from tests.providers import kit
from tests.providers.kit import clip, key_of, posts, still, tone
from vfbuild.errors import ProviderError
from vfbuild.media.probe import probe
from vfbuild.providers.kling import KlingProvider, clip_seconds
from vfbuild.store.journal import Journal

AK, SK = KEYS["KLING_ACCESS_KEY"], KEYS["KLING_SECRET_KEY"]


# -- fixtures -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("kling-media")
    return {
        "keyframe": still(d / "kf.png", "640x360"),
        "clip": clip(d / "clip.mp4", "1280x720", 3),
        "audio": tone(d / "line.wav", 3),
    }


@pytest.fixture
def fake(serve: Any) -> KlingFake:
    return serve(KlingFake, KEYS, strict_media=True)


def recipe(step: str = "draft", *, seed: int = 1, **ps: Any) -> dict[str, Any]:
    settings = {"width": 640, "height": 360, "fps": 24, "duration": 4.0, "move": "push-in"}
    prompt = "a yellow car climbs a snowy road, slow push in"
    negative = "blur, artifacts"
    return kit.recipe("kling", step, settings, ps=ps, prompt=prompt, negative=negative, seed=seed)


def make(
    prov: KlingProvider, r: dict[str, Any], media: dict[str, Path], out: Path, journal: Journal
) -> None:
    roles = ("clip", "audio") if r["step"] == "lipsync" else ("keyframe",)
    kit.make(prov, r, {role: media[role] for role in roles}, out, journal)


# -- each step makes real media ---------------------------------------------------------------


def test_draft_is_a_std_5s_clip_at_720p(
    prov: KlingProvider, fake: KlingFake, media: dict[str, Path], journal: Journal, tmp_path: Path
) -> None:
    out = tmp_path / "draft.mp4"
    make(prov, recipe("draft"), media, out, journal)  # 720p, 5 s: test_contract.py
    (job,) = fake.jobs.values()
    assert job.input["mode"] == "std" and job.input["duration"] == "5"
    assert job.input["model_name"] == "kling-v2-1"
    assert job.input["negative_prompt"] == "blur, artifacts"
    assert job.input["external_task_id"] == journal.get(key_of(recipe("draft"))).client_id
    assert len(fake.tokens_seen) == 1  # one cached JWT for every request


def test_final_is_pro_at_1080p_and_settings_pass_through(
    prov: KlingProvider, fake: KlingFake, media: dict[str, Path], journal: Journal, tmp_path: Path
) -> None:
    out = tmp_path / "final.mp4"
    make(prov, recipe("final", cfg_scale=0.7), media, out, journal)
    info = probe(out)
    assert (info.width, info.height) == (1920, 1080)
    (job,) = fake.jobs.values()
    assert job.input["mode"] == "pro" and job.input["cfg_scale"] == 0.7


def test_mode_from_settings_overrides_the_tier(
    prov: KlingProvider, fake: KlingFake, media: dict[str, Path], journal: Journal, tmp_path: Path
) -> None:
    make(prov, recipe("final", mode="std"), media, tmp_path / "f.mp4", journal)
    (job,) = fake.jobs.values()
    assert job.input["mode"] == "std"
    assert probe(tmp_path / "f.mp4").height == 720


def test_clip_length_and_units_are_5_or_10_seconds(prov: KlingProvider) -> None:
    assert [clip_seconds(s) for s in (1, 4.5, 5, 5.01, 10)] == [5, 5, 5, 10, 10]
    assert prov.units("draft", 4.0) == ("second", 5.0)
    assert prov.units("final", 7.5) == ("second", 10.0)
    assert prov.units("lipsync", 3.0) == ("second", 3.0)


def test_lipsync_returns_the_clip_with_the_audio(
    prov: KlingProvider, fake: KlingFake, media: dict[str, Path], journal: Journal, tmp_path: Path
) -> None:
    out = tmp_path / "lipsync.mp4"
    make(prov, recipe("lipsync"), media, out, journal)
    info = probe(out)
    assert info.has_video and info.has_audio
    assert (info.width, info.height) == (1280, 720)
    assert info.duration == pytest.approx(3.0, abs=0.15)
    (job,) = fake.jobs.values()
    assert job.input["input"] == {"mode": "audio2video", "audio_type": "file"}
    assert ("POST", "/v1/videos/lip-sync") in fake.log


# -- keys and the JWT -----------------------------------------------------------------------


def _token(**claims: Any) -> str:
    now = int(time.time())
    payload = {"iss": AK, "exp": now + 1800, "nbf": now - 5} | claims
    payload = {k: v for k, v in payload.items() if v is not None}
    return jwt.encode(payload, SK, algorithm="HS256")


# Headers are made when the test runs, not when it is collected: a token that is "not valid
# for another minute" must not have become valid while the suite ran other tests.
BAD_HEADERS: dict[str, tuple[Any, int]] = {
    "none": (lambda: None, 1001),
    "basic": (lambda: "Basic abc", 1002),
    "not-jwt": (lambda: "Bearer not-a-jwt", 1002),
    "wrong-secret": (
        lambda: (
            "Bearer " + jwt.encode({"iss": AK, "exp": 2**40, "nbf": 0}, "wrong-secret-0123456789")
        ),
        1002,
    ),
    "wrong-iss": (lambda: "Bearer " + _token(iss="someone-else"), 1000),
    "expired": (lambda: "Bearer " + _token(exp=int(time.time()) - 10), 1004),
    "not-yet": (lambda: "Bearer " + _token(nbf=int(time.time()) + 60), 1003),
    "no-nbf": (lambda: "Bearer " + _token(nbf=None), 1002),
    "no-exp": (lambda: "Bearer " + _token(exp=None), 1002),
}


@pytest.mark.parametrize("case", list(BAD_HEADERS))
def test_fake_checks_the_jwt_exactly(fake: KlingFake, case: str) -> None:
    make_header, code = BAD_HEADERS[case]
    header = make_header()
    headers = {"Authorization": header} if header else {}
    r = httpx.get(f"{fake.url}/v1/videos/image2video/123", headers=headers)
    assert r.status_code == 401
    assert r.json()["code"] == code
    assert fake.paid_jobs == 0


def test_token_is_signed_cached_and_renewed(
    prov: KlingProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = prov.token()
    claims = jwt.decode(first, SK, algorithms=["HS256"])
    now = time.time()
    assert claims["iss"] == AK
    assert claims["exp"] == pytest.approx(now + 1800, abs=2)
    assert claims["nbf"] == pytest.approx(now - 5, abs=2)
    assert jwt.get_unverified_header(first) == {"alg": "HS256", "typ": "JWT"}
    assert prov.token() == first  # cached
    import vfbuild.providers.kling as kling

    monkeypatch.setattr(kling.time, "time", lambda: now + 1600)  # 200 s left: renew
    second = prov.token()
    assert second != first
    assert jwt.decode(second, SK, algorithms=["HS256"], options={"verify_nbf": False})[
        "exp"
    ] == pytest.approx(now + 3400, abs=2)


# -- faults ---------------------------------------------------------------------------------


def test_account_problem_stops_at_once(
    prov: KlingProvider, fake: KlingFake, media: dict[str, Path], journal: Journal, tmp_path: Path
) -> None:
    fake.account_code = 1102
    r = recipe()
    with pytest.raises(ProviderError, match="1102") as e:
        make(prov, r, media, tmp_path / "o.mp4", journal)
    assert "Resource pack depleted" in e.value.message
    assert "top up" in (e.value.hint or "")
    assert posts(fake) == 1  # not retried: waiting cannot fix an empty account
    assert journal.get(key_of(r)) is None
    assert fake.paid_jobs == 0


def test_lipsync_refuses_a_clip_too_short(
    prov: KlingProvider, fake: KlingFake, media: dict[str, Path], journal: Journal, tmp_path: Path
) -> None:
    short = tmp_path / "short.mp4"
    clip(short, "1280x720", 1)
    with pytest.raises(ProviderError, match="2 to 10 seconds"):
        make(prov, recipe("lipsync"), {**media, "clip": short}, tmp_path / "o.mp4", journal)
    assert fake.paid_jobs == 0
