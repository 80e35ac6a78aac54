"""The fal.ai provider against the fake fal queue: every step, the journal, faults, secrets."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fakes.base import Faults
from tests.fakes.fal import KEYS, FalFake, film_providers
from tests.providers.kit import clip, still, tone
from vfbuild import catalog
from vfbuild.errors import ProviderError
from vfbuild.media.probe import probe
from vfbuild.providers import get_provider
from vfbuild.providers.base import MakeContext
from vfbuild.providers.remote import FAILED_STATE, FETCH_TRIES, RemoteJob
from vfbuild.store.journal import FAILED, SUBMITTED, SUBMITTING, Journal

KEY = KEYS["FAL_KEY"]
MODELS = catalog.info("fal").models


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Any:
    f = FalFake(latency=0.1, faults=Faults(retry_after="0")).start()
    monkeypatch.setenv("VF_FAL_BASE_URL", f.url)
    monkeypatch.setenv("FAL_KEY", KEY)
    yield f
    f.stop()


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A keyframe (128x72), a reference, a 1 s clip (128x72) and a 1 s line of dialogue."""
    d = tmp_path_factory.mktemp("fal-inputs")
    return {
        "keyframe": still(d / "kf.png", "128x72"),
        "reference": still(d / "ref.png", "64x64"),
        "clip": clip(d / "clip.mp4", "128x72", 1),
        "audio": tone(d / "line.wav", 1),
    }


def recipe(step: str, *, seed: int = 7, **provider_settings: Any) -> dict[str, Any]:
    settings: dict[str, Any] = {"width": 128, "height": 72, "provider_settings": provider_settings}
    if step in ("draft", "final"):
        settings |= {"fps": 24, "duration": 4, "move": "push-in"}
    if step == "upscale":
        settings |= {"width": 384, "height": 216}
    return {
        "format": 1,
        "step": step,
        "provider": "fal",
        "model": MODELS[step],
        "engine": {"api": "queue"},
        "tier": "draft" if step == "draft" else "final",
        "settings": settings,
        "prompt": "a yellow sports car climbs a snowy mountain road",
        "negative": "blur, low quality",
        "seed": seed,
        "take": 1,
        "inputs": {},
    }


def inputs(step: str, files: dict[str, Path]) -> dict[str, Any]:
    return {
        "keyframe": {"references": [files["reference"]]},
        "draft": {"keyframe": files["keyframe"]},
        "final": {"keyframe": files["keyframe"]},
        "upscale": {"clip": files["clip"]},
        "lipsync": {"clip": files["clip"], "audio": files["audio"]},
    }[step]


class Run:
    """One take to make: a recipe, its key, a journal and where the take goes."""

    def __init__(self, tmp: Path, files: dict[str, Path], step: str, **settings: Any) -> None:
        self.step, self.recipe, self.inputs = step, recipe(step, **settings), inputs(step, files)
        self.key = hashlib.sha256(repr(self.recipe).encode()).hexdigest()
        self.label = f"s010 {step} t01"
        self.journal = Journal(tmp / ".vf" / "journal")
        self.out = tmp / ("out.png" if step == "keyframe" else "out.mp4")
        self.prov: Any = get_provider("fal", config=None, film_root=tmp)
        self.prov.http.backoff = 0.01  # the retries' waits, kept short (as in test_http.py)

    def make(self, **ctx: Any) -> None:
        context = MakeContext(key=self.key, label=self.label, journal=self.journal, **ctx)
        self.prov.make(self.recipe, self.inputs, self.out, context)

    def state(self) -> str | None:
        entry = self.journal.get(self.key)
        return entry.state if entry else None


# -- every step ---------------------------------------------------------------------------


@pytest.mark.parametrize("step", ["keyframe", "draft", "final", "upscale", "lipsync"])
def test_each_step_makes_real_media(fake: FalFake, files: dict, tmp_path: Path, step: str):
    run = Run(tmp_path, files, step)
    run.make()
    info = probe(run.out)
    want = {
        "keyframe": (128, 72),  # the size asked for
        "draft": (128, 72),  # Kling follows the keyframe
        "final": (128, 72),
        "upscale": (384, 216),  # 72 → 216: upscale_factor 3
        "lipsync": (128, 72),
    }[step]
    assert (info.width, info.height) == want
    assert info.is_image == (step == "keyframe")
    if step in ("draft", "final"):
        assert info.duration == pytest.approx(5.0, abs=0.2)  # a 4 s shot gets Kling's 5 s clip
    assert fake.paid_jobs == 1
    assert run.state() == SUBMITTED
    assert fake.cdn_auth_seen == []


def test_draft_input_and_owner_app_urls(fake: FalFake, files: dict, tmp_path: Path):
    run = Run(tmp_path, files, "draft", cfg_scale=0.3)
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
    run = Run(tmp_path, files, "keyframe", safety_tolerance="2")
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


# -- keys ---------------------------------------------------------------------------------


def test_missing_key_stops_before_any_request(
    fake: FalFake, files: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.delenv("FAL_KEY")
    run = Run(tmp_path, files, "keyframe")
    with pytest.raises(ProviderError, match="FAL_KEY not set"):
        run.make()
    assert fake.log == []
    assert run.state() is None


def test_wrong_key_is_refused_clearly(
    fake: FalFake, files: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    wrong = "fal-wrong-0000aaaa-1111-2222-3333-444455556666:ffffeeeeddddccccbbbbaaaa99998888"
    monkeypatch.setenv("FAL_KEY", wrong)
    run = Run(tmp_path, files, "keyframe")
    with pytest.raises(ProviderError, match="fal refused FAL_KEY") as e:
        run.make()
    assert wrong not in str(e.value) and wrong not in (e.value.hint or "")
    assert fake.paid_jobs == 0
    assert run.state() is None  # fix the key and build again: nothing to resolve


def test_key_never_leaks(fake: FalFake, files: dict, tmp_path: Path):
    Run(tmp_path, files, "draft").make()
    fake.faults.fail_jobs = True
    bad = Run(tmp_path, files, "keyframe")
    with pytest.raises(ProviderError) as e:
        bad.make()
    secret = KEY.split(":")[1]
    texts = [p.read_text() for p in (tmp_path / ".vf").rglob("*") if p.is_file()]
    texts += [str(e.value), e.value.hint or ""]
    assert texts and not any(KEY in t or secret in t for t in texts)
    assert fake.cdn_auth_seen == []


# -- the journal ----------------------------------------------------------------------------


def test_failed_job_waits_for_retry_failed(fake: FalFake, files: dict, tmp_path: Path):
    fake.faults.fail_jobs = True
    run = Run(tmp_path, files, "keyframe")
    with pytest.raises(ProviderError, match=r"s010 keyframe t01: fal failed the job") as e:
        run.make()
    assert "content checker" in str(e.value)
    assert run.state() == FAILED
    seen = len(fake.log)
    with pytest.raises(ProviderError, match="failed this job before"):
        run.make()
    assert len(fake.log) == seen  # no request at all
    fake.faults.fail_jobs = False
    run.make(retry_failed=True)
    assert fake.paid_jobs == 2
    assert probe(run.out).is_image


def test_journalled_job_resumes_by_polling(fake: FalFake, files: dict, tmp_path: Path):
    run = Run(tmp_path, files, "draft")
    # A build that died right after the submit reply: the journal has the id, nothing else.
    job_id = run.prov.submit(RemoteJob(run.key, run.recipe, run.inputs, run.label, ""))
    entry = run.journal.begin(
        run.key, provider="fal", model=run.recipe["model"], label=run.label, cost=None
    )
    run.journal.update(entry, state=SUBMITTED, job_id=job_id)
    assert fake.paid_jobs == 1
    run.make()
    assert fake.paid_jobs == 1
    assert probe(run.out).has_video


def test_lost_submit_reply_stops_until_resubmit(fake: FalFake, files: dict, tmp_path: Path):
    run = Run(tmp_path, files, "keyframe")
    fake.faults.force("create", "drop")
    with pytest.raises(ProviderError, match="s010 keyframe t01") as e:
        run.make()
    assert "--resubmit" in (e.value.hint or "")
    assert fake.paid_jobs == 1  # fal took it; we cannot know
    assert run.state() == SUBMITTING
    seen = len(fake.log)
    with pytest.raises(ProviderError, match=f"key {run.key[:12]}") as e:
        run.make()
    assert "cannot be asked" in str(e.value)
    assert len(fake.log) == seen
    run.make(resubmit=True)
    assert fake.paid_jobs == 2
    assert probe(run.out).is_image


# -- following a job --------------------------------------------------------------------------


@pytest.mark.parametrize("keepalive", [15.0, 0.03])
def test_status_is_streamed_not_polled(
    fake: FalFake, files: dict, tmp_path: Path, keepalive: float
):
    fake.latency, fake.keepalive = 0.3, keepalive  # 0.03: `: ping` comments come between events
    run = Run(tmp_path, files, "draft")
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
    run = Run(tmp_path, files, "draft")
    run.make()
    assert fake.faults.injected == [("api", fault)]
    assert any(p.endswith("/status") for m, p in fake.log if m == "GET")
    assert fake.paid_jobs == 1
    assert probe(run.out).has_video


def test_a_failed_job_is_reported_from_the_stream(fake: FalFake, files: dict, tmp_path: Path):
    fake.faults.fail_jobs = True
    run = Run(tmp_path, files, "keyframe")
    with pytest.raises(ProviderError, match="content_policy_violation"):
        run.make()
    assert not any(p.endswith("/status") for m, p in fake.log if m == "GET")
    assert run.state() == FAILED


# -- faults ---------------------------------------------------------------------------------


def test_429_retry_after_is_honoured(fake: FalFake, files: dict, tmp_path: Path):
    fake.faults.retry_after = "1"
    fake.faults.force("create", "429")  # refused, not taken: sent again after Retry-After
    run = Run(tmp_path, files, "keyframe")
    start = time.monotonic()
    run.make()
    assert time.monotonic() - start >= 0.95
    assert fake.paid_jobs == 1
    assert fake.faults.injected == [("create", "429")]


def test_request_errors_carry_fal_error_type(fake: FalFake, files: dict, tmp_path: Path):
    fake.faults.force("api", "503")
    r = httpx.get(f"{fake.url}/fal-ai/flux-pro/requests/x/status")
    assert r.status_code == 503
    assert r.headers["x-fal-error-type"] == r.json()["error_type"] == "runner_scheduling_failure"
    fake.faults.force("api", "503", "429", "drop")
    run = Run(tmp_path, files, "keyframe")
    run.make()  # polls and result reads are retried
    assert fake.paid_jobs == 1


def test_truncated_and_corrupt_downloads_are_retried(fake: FalFake, files: dict, tmp_path: Path):
    fake.faults.force("download", "truncate", "corrupt")
    run = Run(tmp_path, files, "draft")
    run.make()
    assert ("download", "truncate") in fake.faults.injected
    assert ("download", "corrupt") in fake.faults.injected
    assert probe(run.out).has_video
    assert fake.paid_jobs == 1


def test_result_that_stays_corrupt_is_not_a_take(fake: FalFake, files: dict, tmp_path: Path):
    fake.faults.force("download", *["corrupt"] * FETCH_TRIES)
    run = Run(tmp_path, files, "keyframe")
    with pytest.raises(ProviderError, match="not usable media"):
        run.make()
    assert run.state() == SUBMITTED  # the next build downloads again, without paying
    run.make()
    assert fake.paid_jobs == 1
    assert probe(run.out).is_image


def test_a_body_that_is_not_media_is_fetched_again_after_a_backoff(
    fake: FalFake, files: dict, tmp_path: Path
):
    """Each new fetch of a corrupt result waits the backoff the HTTP retries use (longer each
    time), instead of fetching six times back to back."""
    fake.faults.force("download", "corrupt", "corrupt", "corrupt")
    run = Run(tmp_path, files, "keyframe")
    waits: list[int] = []
    backoff = run.prov.http._sleep

    def spy(attempt: int, resp: Any) -> None:
        waits.append(attempt)
        backoff(attempt, resp)

    run.prov.http._sleep = spy
    run.make()
    assert probe(run.out).is_image
    assert waits == [0, 1, 2]  # one wait before each fetch after a bad one
    assert fake.paid_jobs == 1


def test_validation_error_is_clear(fake: FalFake, files: dict, tmp_path: Path):
    run = Run(tmp_path, files, "draft", cfg_scale=5)
    with pytest.raises(ProviderError, match="fal rejected the input") as e:
        run.make()
    assert "cfg_scale: Input should be between 0 and 1" in str(e.value)
    assert fake.paid_jobs == 0
    assert run.state() == FAILED


def test_cancel(fake: FalFake, files: dict, tmp_path: Path):
    run = Run(tmp_path, files, "draft")
    fake.latency = 5.0
    job = RemoteJob(run.key, run.recipe, run.inputs, run.label, "")
    job_id = run.prov.submit(job)
    run.prov.cancel(job_id, job)
    assert fake.jobs[job_id].canceled
    poll = run.prov.poll(job_id, job)
    assert poll.state == FAILED_STATE and "cancelled" in (poll.error or "")
    run.prov.cancel(job_id, job)  # ALREADY_COMPLETED is fine


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
    run = Run(tmp_path, files, "draft")
    run.make(slot=slot, started=slot.started, transfer=Download(slots))
    assert seen == [0] and slots.used == 0
    assert probe(run.out).has_video
