"""The Runway provider against its fake: image-to-video, upscale, uploads, its headers.

What every remote provider keeps (the journal, faults, keys, cancel) is in test_contract.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

import vfbuild.providers.runway as runway
from tests.fakes.runway import KEYS, RunwayFake
from tests.providers import kit
from tests.providers.kit import clip, creates, key_of, still
from vfbuild.errors import ProviderError
from vfbuild.media.probe import probe
from vfbuild.providers.remote import QUEUED, RemoteJob
from vfbuild.providers.runway import RunwayProvider, nearest_ratio
from vfbuild.store.journal import Journal

KEY = KEYS["RUNWAYML_API_SECRET"]
PROMPT = "a yellow car climbs a snowy road, slow push in"


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("runway-media")
    return {"keyframe": still(d / "kf.png", "640x360"), "clip": clip(d / "clip.mp4", "320x180", 2)}


@pytest.fixture
def fake(serve: Any) -> RunwayFake:
    return serve(RunwayFake, KEYS, strict_media=True)


def recipe(
    step: str = "draft", *, size: tuple[int, int] = (640, 360), seed: int = 1, **ps: Any
) -> dict[str, Any]:
    w, h = size
    settings = {"width": w, "height": h, "fps": 24, "duration": 4.0, "move": "push-in"}
    return kit.recipe("runway", step, settings, ps=ps, prompt=PROMPT, negative="blur", seed=seed)


def inputs_for(step: str, media: dict[str, Path]) -> dict[str, Any]:
    return {"clip": media["clip"]} if step == "upscale" else {"keyframe": media["keyframe"]}


def make(
    prov: RunwayProvider,
    r: dict[str, Any],
    media: dict[str, Path],
    out: Path,
    journal: Journal,
    **ctx: Any,
) -> None:
    kit.make(prov, r, inputs_for(r["step"], media), out, journal, **ctx)


# -- each step makes real media ---------------------------------------------------------------


def test_draft_renders_at_the_nearest_ratio(
    prov: RunwayProvider, fake: RunwayFake, media: dict[str, Path], journal: Journal, tmp_path: Path
) -> None:
    out = tmp_path / "draft.mp4"
    progress: list[float] = []
    make(prov, recipe(seed=2**32 + 7), media, out, journal, progress=progress.append)
    (job,) = fake.jobs.values()
    assert job.input == {
        "model": "gen4_turbo",
        "ratio": "1280:720",
        "duration": 5,
        "seed": 7,  # seeds wrap into Runway's 32-bit range
        "promptText": PROMPT,
    }  # the take (1280x720, 5 s) is test_contract.py's
    assert all(0 <= p <= 1 for p in progress)


def test_final_portrait_and_settings_pass_through(
    prov: RunwayProvider, fake: RunwayFake, media: dict[str, Path], journal: Journal, tmp_path: Path
) -> None:
    r = recipe("final", size=(1080, 1440), contentModeration={"publicFigureThreshold": "low"})
    make(prov, r, media, tmp_path / "final.mp4", journal)
    assert (probe(tmp_path / "final.mp4").width, probe(tmp_path / "final.mp4").height) == (
        832,
        1104,
    )
    (job,) = fake.jobs.values()
    assert job.input["contentModeration"] == {"publicFigureThreshold": "low"}


def test_ratio_choice_and_units() -> None:
    assert nearest_ratio("gen4_turbo", 1920, 1080) == "1280:720"
    assert nearest_ratio("gen4_turbo", 1080, 1920) == "720:1280"
    assert nearest_ratio("gen4_turbo", 1024, 1024) == "960:960"
    assert nearest_ratio("gen4_turbo", 2390, 1000) == "1584:672"
    assert nearest_ratio("gen4_turbo", 1440, 1080) == "1104:832"
    assert nearest_ratio("gen3a_turbo", 1920, 1080) == "1280:768"
    prov = RunwayProvider.__new__(RunwayProvider)
    assert prov.units("draft", 4) == ("second", 5.0)
    assert prov.units("final", 5.5) == ("second", 10.0)
    assert prov.units("upscale", 4) == ("second", 4.0)


def test_upscale_is_4x(
    prov: RunwayProvider, fake: RunwayFake, media: dict[str, Path], journal: Journal, tmp_path: Path
) -> None:
    out = tmp_path / "up.mp4"
    make(prov, recipe("upscale", size=(1920, 1080)), media, out, journal)
    info = probe(out)
    assert (info.width, info.height) == (1280, 720)
    assert info.duration == pytest.approx(2.0, abs=0.1)
    (job,) = fake.jobs.values()
    assert job.input == {"model": "upscale_v1"}
    assert ("POST", "/v1/uploads") not in fake.log  # a small clip goes as a data URI


def test_large_inputs_go_through_an_ephemeral_upload(
    prov: RunwayProvider,
    fake: RunwayFake,
    media: dict[str, Path],
    journal: Journal,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(runway, "DATA_URI_LIMIT", 1000)
    fake.faults.force("download", "500")  # the upload is retried like any request
    make(prov, recipe("upscale"), media, tmp_path / "up.mp4", journal)
    assert ("POST", "/v1/uploads") in fake.log
    (upload,) = fake.uploads.values()
    assert Path(upload["path"]).read_bytes() == media["clip"].read_bytes()
    assert fake.cdn_auth_seen == []  # the storage host never sees the key
    assert probe(tmp_path / "up.mp4").width == 1280


def test_an_upload_cut_short_leaves_no_journal_entry_and_one_upload_serves_all_takes(
    prov: RunwayProvider,
    fake: RunwayFake,
    media: dict[str, Path],
    journal: Journal,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The upload comes before the journal (a build killed during it leaves no entry, which
    would stop the next build: Runway cannot be asked whether it has a task); one that fails
    leaves none either. Then the draft takes of one keyframe share its upload."""
    monkeypatch.setattr(runway, "DATA_URI_LIMIT", 1000)
    fake.faults.force("api", *["503"] * (prov.http.retries + 1))  # the upload slot, every try
    first = recipe("draft", seed=1)
    with pytest.raises(ProviderError):
        make(prov, first, media, tmp_path / "d1.mp4", journal)
    assert journal.get(key_of(first)) is None and creates(fake) == 0
    for seed in (1, 2, 3):
        make(prov, recipe("draft", seed=seed), media, tmp_path / f"d{seed}.mp4", journal)
    assert creates(fake) == 3 and len(fake.uploads) == 1


# -- keys and headers -----------------------------------------------------------------------


def test_fake_requires_the_version_header_and_the_key(fake: RunwayFake) -> None:
    url = f"{fake.url}/v1/tasks/00000000-0000-0000-0000-000000000000"
    auth = {"Authorization": f"Bearer {KEY}"}
    r = httpx.get(url, headers=auth)
    assert r.status_code == 400 and "X-Runway-Version" in r.json()["error"]
    r = httpx.get(url, headers={**auth, "X-Runway-Version": "2023-01-01"})
    assert r.status_code == 400
    r = httpx.get(
        url, headers={"Authorization": "Bearer key_0000", "X-Runway-Version": "2024-11-06"}
    )
    assert r.status_code == 401 and "error" in r.json()
    r = httpx.get(url, headers={**auth, "X-Runway-Version": "2024-11-06"})
    assert r.status_code == 404 and r.json() == {"error": "Task not found"}


# -- the journal ----------------------------------------------------------------------------


def test_a_throttled_task_is_waiting_not_failing(
    prov: RunwayProvider, fake: RunwayFake, media: dict[str, Path]
) -> None:
    """(Cancel is test_contract.py's.)"""
    fake.latency, fake.throttled = 60.0, True  # queued for its first 12 s
    r = recipe()
    job = RemoteJob(key_of(r), r, inputs_for("draft", media), "s010 draft t01", "")
    assert prov.poll(prov.submit(job), job).state == QUEUED


# -- faults ---------------------------------------------------------------------------------


def test_too_long_a_prompt_is_refused_before_sending(
    prov: RunwayProvider, fake: RunwayFake, media: dict[str, Path], journal: Journal, tmp_path: Path
) -> None:
    with pytest.raises(ProviderError, match="at most 1000"):
        make(prov, recipe() | {"prompt": "word " * 250}, media, tmp_path / "o.mp4", journal)
    assert creates(fake) == 0
