"""The fal.ai provider against the fake fal queue: its requests, its status stream, its slot.

What every remote provider keeps (the journal, faults, keys, cancel) is in test_contract.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fakes.fal import KEYS, FalFake, film_providers
from tests.providers.kit import Run, small_take
from vfbuild.errors import ProviderError
from vfbuild.media.probe import probe
from vfbuild.providers import get_provider
from vfbuild.store.journal import FAILED

KEY = KEYS["FAL_KEY"]


@pytest.fixture
def fake(serve: Any) -> FalFake:
    return serve(FalFake, KEYS)


def take(tmp: Path, files: dict[str, Path], step: str, **kw: Any) -> Run:
    return small_take("fal", tmp, files, step, **kw)


# -- its requests ---------------------------------------------------------------------------


def test_draft_input_and_owner_app_urls(fake: FalFake, files: dict, tmp_path: Path):
    run = take(tmp_path, files, "draft", cfg_scale=0.3)
    run.make()
    (job,) = fake.jobs.values()
    assert job.input["duration"] == "5"
    assert job.input["cfg_scale"] == 0.3
    assert job.input["negative_prompt"] == "blur, low quality"
    assert job.input["image_url"].startswith("data:image/png;base64,")
    assert "seed" not in job.input  # Kling on fal takes none
    posts = [p for m, p in fake.log if m == "POST"]
    gets = [p for m, p in fake.log if m == "GET" and not p.startswith("/files/")]  # not the CDN
    assert posts == ["/fal-ai/kling-video/v2.1/standard/image-to-video"]
    assert gets and all(p.startswith(f"/fal-ai/kling-video/requests/{job.id}") for p in gets)


def test_keyframe_input(fake: FalFake, files: dict, tmp_path: Path):
    run = take(tmp_path, files, "keyframe", safety_tolerance="2")
    run.make()
    (job,) = fake.jobs.values()
    assert job.input["image_size"] == {"width": 128, "height": 72}
    assert job.input["seed"] == 7 and job.input["num_images"] == 1
    assert job.input["output_format"] == "png"
    assert job.input["safety_tolerance"] == "2"  # provider settings merged in
    assert "negative_prompt" not in job.input and "image_url" not in job.input  # FLUX t2i


def test_units_bill_kling_clips(fake: FalFake, tmp_path: Path):
    prov: Any = get_provider("fal", config=None, film_root=tmp_path)
    assert prov.units("draft", 4.0) == ("second", 5.0)
    assert prov.units("final", 7.5) == ("second", 10.0)
    assert prov.units("keyframe", None) == ("image", 1.0)
    assert prov.units("upscale", 4.0) == ("second", 4.0)


def test_film_providers_is_a_valid_config(fake: FalFake, tmp_path: Path):
    from vfbuild.spec.models import Providers

    providers = Providers.model_validate(film_providers(fake, tmp_path))
    assert providers.video.use == "fal"


# -- following a job --------------------------------------------------------------------------


@pytest.mark.parametrize("keepalive", [15.0, 0.03])
def test_status_is_streamed_not_polled(
    fake: FalFake, files: dict, tmp_path: Path, keepalive: float
):
    fake.latency, fake.keepalive = 0.3, keepalive  # 0.03: `: ping` comments come between events
    run = take(tmp_path, files, "draft")
    run.make()
    # One stream and no status GET: the end was told, not polled for. (No time bound: early
    # polls come every 50 ms, so a bound could not tell the two apart, only flake on a busy box.)
    assert fake.streams == 1
    paths = [p for m, p in fake.log if m == "GET"]
    assert sum(p.endswith("/status/stream") for p in paths) == 1
    assert not any(p.endswith("/status") for p in paths)
    assert probe(run.out).has_video


@pytest.mark.parametrize("fault", ["500", "503", "drop"])
def test_a_failed_stream_falls_back_to_polling(
    fake: FalFake, files: dict, tmp_path: Path, fault: str
):
    fake.faults.force("api", fault)  # the first request after the submit is the stream
    run = take(tmp_path, files, "draft")
    run.make()
    assert fake.faults.injected == [("api", fault)]
    assert any(p.endswith("/status") for m, p in fake.log if m == "GET")
    assert fake.paid_jobs == 1
    assert probe(run.out).has_video


def test_a_failed_job_is_reported_from_the_stream(fake: FalFake, files: dict, tmp_path: Path):
    fake.faults.fail_jobs = True
    run = take(tmp_path, files, "keyframe")
    with pytest.raises(ProviderError, match="content_policy_violation"):
        run.make()
    assert not any(p.endswith("/status") for m, p in fake.log if m == "GET")
    assert run.state() == FAILED


# -- faults ---------------------------------------------------------------------------------


def test_request_errors_carry_fal_error_type(fake: FalFake):
    """(That they are retried is test_contract.py's.)"""
    fake.faults.force("api", "503")
    r = httpx.get(f"{fake.url}/fal-ai/flux-pro/requests/x/status")
    assert r.status_code == 503
    assert r.headers["x-fal-error-type"] == r.json()["error_type"] == "runner_scheduling_failure"


def test_the_result_is_read_after_the_job_leaves_its_slot(
    fake: FalFake, files: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """At COMPLETED the job's -j slot is freed at once: the next take may submit while this one
    reads its result (a request of its own at fal) and downloads it."""
    from vfbuild.plan.slots import Download, Slots
    from vfbuild.providers.fal import FalProvider

    slots = Slots(1)
    slot = slots.take()
    seen: list[int] = []
    real = FalProvider.complete

    def complete(self, job_id, job, done):  # type: ignore[no-untyped-def]
        seen.append(slots.used)
        return real(self, job_id, job, done)

    monkeypatch.setattr(FalProvider, "complete", complete)
    run = take(tmp_path, files, "draft")
    run.make(slot=slot, started=slot.started, transfer=Download(slots))
    assert seen == [0] and slots.used == 0
    assert probe(run.out).has_video
