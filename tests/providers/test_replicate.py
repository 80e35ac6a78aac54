"""The Replicate provider against the fake Replicate API: every step, the journal (with the
look-up of a lost submit), faults, secrets."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fakes.base import Faults
from tests.fakes.replicate import KEYS, ReplicateFake, film_providers
from tests.providers.kit import clip, still, tone
from vfbuild import catalog
from vfbuild.errors import ProviderError
from vfbuild.media.probe import probe
from vfbuild.providers import get_provider
from vfbuild.providers.base import MakeContext
from vfbuild.providers.remote import FAILED_STATE, FETCH_TRIES, RemoteJob
from vfbuild.store.journal import FAILED, SUBMITTED, Journal

KEY = KEYS["REPLICATE_API_TOKEN"]
MODELS = catalog.info("replicate").models


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Any:
    f = ReplicateFake(latency=0.1, faults=Faults(retry_after="0")).start()
    monkeypatch.setenv("VF_REPLICATE_BASE_URL", f.url)
    monkeypatch.setenv("REPLICATE_API_TOKEN", KEY)
    yield f
    f.stop()


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A keyframe (128x72), a reference, a 1 s clip (128x72) and a 1 s line of dialogue."""
    d = tmp_path_factory.mktemp("replicate-inputs")
    return {
        "keyframe": still(d / "kf.png", "128x72"),
        "reference": still(d / "ref.png", "64x64"),
        "clip": clip(d / "clip.mp4", "128x72", 1),
        "audio": tone(d / "line.wav", 1),
    }


def recipe(step: str, *, seed: int = 7, model: str | None = None, **ps: Any) -> dict[str, Any]:
    settings: dict[str, Any] = {"width": 128, "height": 72, "provider_settings": ps}
    if step in ("draft", "final"):
        settings |= {"fps": 24, "duration": 4, "move": "push-in"}
    if step == "upscale":
        settings |= {"width": 1280, "height": 720}
    return {
        "format": 1,
        "step": step,
        "provider": "replicate",
        "model": model or MODELS[step],
        "engine": {"api": "v1"},
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

    def __init__(self, tmp: Path, files: dict[str, Path], step: str, **kw: Any) -> None:
        self.step, self.recipe, self.inputs = step, recipe(step, **kw), inputs(step, files)
        self.key = hashlib.sha256(repr(self.recipe).encode()).hexdigest()
        self.label = f"s010 {step} t01"
        self.journal = Journal(tmp / ".vf" / "journal")
        self.out = tmp / ("out.png" if step == "keyframe" else "out.mp4")
        self.prov: Any = get_provider("replicate", config=None, film_root=tmp)
        self.prov.http.backoff = 0.01  # the retries' waits, kept short (as in test_http.py)

    def make(self, **ctx: Any) -> None:
        context = MakeContext(key=self.key, label=self.label, journal=self.journal, **ctx)
        self.prov.make(self.recipe, self.inputs, self.out, context)

    def job(self) -> RemoteJob:
        return RemoteJob(self.key, self.recipe, self.inputs, self.label, "")

    def state(self) -> str | None:
        entry = self.journal.get(self.key)
        return entry.state if entry else None


def other_predictions(fake: ReplicateFake, n: int) -> None:
    """Predictions someone else (another build, the website) made with the same key."""
    for i in range(n):
        r = httpx.post(
            f"{fake.url}/v1/models/black-forest-labs/flux-1.1-pro/predictions",
            json={"input": {"prompt": f"another prompt {i}", "seed": i}},
            headers={"Authorization": f"Bearer {KEY}"},
        )
        assert r.status_code == 201


# -- every step ---------------------------------------------------------------------------


@pytest.mark.parametrize("step", ["keyframe", "draft", "final", "upscale", "lipsync"])
def test_each_step_makes_real_media(fake: ReplicateFake, files: dict, tmp_path: Path, step: str):
    run = Run(tmp_path, files, step)
    run.make()
    info = probe(run.out)
    want = {
        "keyframe": (128, 72),  # the size asked for
        "draft": (128, 72),  # image-to-video follows the keyframe
        "final": (128, 72),
        "upscale": (1280, 720),  # target_resolution 720p
        "lipsync": (128, 72),
    }[step]
    assert (info.width, info.height) == want
    assert info.is_image == (step == "keyframe")
    if step in ("draft", "final"):
        assert info.duration == pytest.approx(81 / 16, abs=0.2)  # Wan: 81 frames at 16 fps
    assert fake.paid_jobs == 1
    assert run.state() == SUBMITTED
    assert fake.cdn_auth_seen == []


def test_inputs(fake: ReplicateFake, files: dict, tmp_path: Path):
    Run(tmp_path, files, "keyframe").make()
    Run(tmp_path, files, "draft", sample_steps=20).make()
    kf, draft = (j.input for j in sorted(fake.jobs.values(), key=lambda j: j.created))
    assert kf["width"] == 128 and kf["height"] == 72 and kf["aspect_ratio"] == "custom"
    assert kf["seed"] == 7 and kf["output_format"] == "png"
    assert kf["image_prompt"].startswith("data:image/png;base64,")  # the reference
    assert "negative_prompt" not in kf  # FLUX takes none
    assert draft["image"].startswith("data:image/png;base64,")
    assert draft["negative_prompt"] == "blur, low quality" and draft["seed"] == 7
    assert draft["num_frames"] == 81 and draft["frames_per_second"] == 16
    assert draft["sample_steps"] == 20  # provider settings merged in
    posts = [p for m, p in fake.log if m == "POST"]
    assert posts[0] == "/v1/models/black-forest-labs/flux-1.1-pro/predictions"


def test_pinned_version_uses_the_predictions_endpoint(
    fake: ReplicateFake, files: dict, tmp_path: Path
):
    name = "black-forest-labs/flux-1.1-pro"
    run = Run(tmp_path, files, "keyframe", model=f"{name}:{fake.version_of(name)}")
    run.make()
    assert ("POST", "/v1/predictions") in fake.log
    (job,) = fake.jobs.values()
    assert job.extra["version"] == fake.version_of(name)
    assert probe(run.out).is_image


def test_list_output(fake: ReplicateFake, files: dict, tmp_path: Path):
    run = Run(tmp_path, files, "keyframe", model="black-forest-labs/flux-dev")
    run.make()  # flux-dev answers a list of URLs: the first is the take
    assert probe(run.out).is_image


def test_prefer_wait_holds_the_reply(fake: ReplicateFake):
    fake.latency = 0.3
    start = time.monotonic()
    r = httpx.post(
        f"{fake.url}/v1/models/black-forest-labs/flux-1.1-pro/predictions",
        json={"input": {"prompt": "a car"}},
        headers={"Authorization": f"Bearer {KEY}", "Prefer": "wait=5"},
    )
    assert r.status_code == 201 and r.json()["status"] == "succeeded"
    assert 0.25 <= time.monotonic() - start < 3
    r = httpx.post(
        f"{fake.url}/v1/models/black-forest-labs/flux-1.1-pro/predictions",
        json={"input": {"prompt": "a car"}},
        headers={"Authorization": f"Bearer {KEY}"},
    )
    assert r.json()["status"] == "starting"


def test_film_providers_is_a_valid_config(fake: ReplicateFake, tmp_path: Path):
    from vfbuild.spec.models import Providers

    providers = Providers.model_validate(film_providers(fake, tmp_path))
    assert providers.upscale.use == "replicate"


# -- keys ---------------------------------------------------------------------------------


def test_missing_key_stops_before_any_request(
    fake: ReplicateFake, files: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.delenv("REPLICATE_API_TOKEN")
    run = Run(tmp_path, files, "keyframe")
    with pytest.raises(ProviderError, match="REPLICATE_API_TOKEN not set"):
        run.make()
    assert fake.log == []
    assert run.state() is None


def test_wrong_key_is_refused_clearly(
    fake: ReplicateFake, files: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    wrong = "r8_wrongWrongWrong0123456789abcdefghijkl"
    monkeypatch.setenv("REPLICATE_API_TOKEN", wrong)
    run = Run(tmp_path, files, "keyframe")
    with pytest.raises(ProviderError, match="replicate refused REPLICATE_API_TOKEN") as e:
        run.make()
    assert "valid authentication token" in str(e.value)
    assert wrong not in str(e.value) and wrong not in (e.value.hint or "")
    assert fake.paid_jobs == 0
    assert run.state() is None
    r = httpx.get(f"{fake.url}/v1/predictions")
    assert r.status_code == 401 and r.headers["content-type"] == "application/problem+json"


def test_key_never_leaks(fake: ReplicateFake, files: dict, tmp_path: Path):
    Run(tmp_path, files, "draft").make()
    fake.faults.fail_jobs = True
    bad = Run(tmp_path, files, "keyframe")
    with pytest.raises(ProviderError) as e:
        bad.make()
    texts = [p.read_text() for p in (tmp_path / ".vf").rglob("*") if p.is_file()]
    texts += [str(e.value), e.value.hint or ""]
    assert texts and not any(KEY in t for t in texts)
    assert fake.cdn_auth_seen == []


# -- the journal ----------------------------------------------------------------------------


def test_failed_job_waits_for_retry_failed(fake: ReplicateFake, files: dict, tmp_path: Path):
    fake.faults.fail_jobs = True
    run = Run(tmp_path, files, "keyframe")
    with pytest.raises(ProviderError, match=r"s010 keyframe t01: replicate failed the job") as e:
        run.make()
    assert "CUDA out of memory" in str(e.value)
    assert run.state() == FAILED
    seen = len(fake.log)
    with pytest.raises(ProviderError, match="failed this job before"):
        run.make()
    assert len(fake.log) == seen  # no request at all
    fake.faults.fail_jobs = False
    run.make(retry_failed=True)
    assert fake.paid_jobs == 2
    assert probe(run.out).is_image


def test_journalled_job_resumes_by_polling(fake: ReplicateFake, files: dict, tmp_path: Path):
    run = Run(tmp_path, files, "draft")
    job_id = run.prov.submit(run.job())  # the build died right after the submit reply
    entry = run.journal.begin(
        run.key, provider="replicate", model=run.recipe["model"], label=run.label, cost=None
    )
    run.journal.update(entry, state=SUBMITTED, job_id=job_id)
    run.make()
    assert fake.paid_jobs == 1
    assert probe(run.out).has_video


def test_crash_before_the_reply_is_found_not_paid_twice(
    fake: ReplicateFake, files: dict, tmp_path: Path
):
    run = Run(tmp_path, files, "draft")
    run.prov.submit(run.job())  # the build died before the id reached the journal
    run.journal.begin(
        run.key, provider="replicate", model=run.recipe["model"], label=run.label, cost=None
    )
    run.make()
    assert fake.paid_jobs == 1
    assert ("GET", "/v1/predictions") in fake.log
    assert probe(run.out).has_video


def test_lost_submit_reply_is_found(fake: ReplicateFake, files: dict, tmp_path: Path):
    other_predictions(fake, 2)
    run = Run(tmp_path, files, "keyframe")
    fake.faults.force("create", "drop")  # the job is made, then the connection drops
    run.make()
    assert fake.paid_jobs == 3  # two others and ours, once
    assert fake.faults.injected == [("create", "drop")]
    assert probe(run.out).is_image


def test_lost_job_on_a_late_page(fake: ReplicateFake, files: dict, tmp_path: Path):
    fake.page_size = 2
    run = Run(tmp_path, files, "keyframe")
    run.prov.submit(run.job())
    other_predictions(fake, 5)  # newer predictions push ours to the third page
    run.journal.begin(
        run.key, provider="replicate", model=run.recipe["model"], label=run.label, cost=None
    )
    run.make()
    assert fake.paid_jobs == 6
    assert sum(1 for m, p in fake.log if (m, p) == ("GET", "/v1/predictions")) == 3


def test_refused_submit_is_sent_again_once(fake: ReplicateFake, files: dict, tmp_path: Path):
    # A 500 on create: the job may or may not exist. The fake's 500 comes before the job is
    # made, so the look-up finds nothing and the job is submitted again, once.
    fake.faults.force("create", "500")
    run = Run(tmp_path, files, "keyframe")
    run.make()
    assert fake.paid_jobs == 1
    assert ("GET", "/v1/predictions") in fake.log


def test_expired_output_is_a_failed_job(fake: ReplicateFake, files: dict, tmp_path: Path):
    run = Run(tmp_path, files, "keyframe")
    job_id = run.prov.submit(run.job())
    fake.expire(job_id)
    time.sleep(0.15)
    poll = run.prov.poll(job_id, run.job())
    assert poll.state == FAILED_STATE and "deleted" in (poll.error or "")


# -- faults ---------------------------------------------------------------------------------


def test_429_retry_after_is_honoured(fake: ReplicateFake, files: dict, tmp_path: Path):
    fake.faults.retry_after = "1"
    fake.faults.force("create", "429")  # refused, not taken: sent again after Retry-After
    run = Run(tmp_path, files, "keyframe")
    start = time.monotonic()
    run.make()
    assert time.monotonic() - start >= 0.95
    assert fake.paid_jobs == 1
    assert fake.faults.injected == [("create", "429")]


def test_throttle_body_is_replicates(fake: ReplicateFake, files: dict, tmp_path: Path):
    fake.faults.force("api", "429")
    r = httpx.get(f"{fake.url}/v1/predictions", headers={"Authorization": f"Bearer {KEY}"})
    assert r.status_code == 429 and r.headers["retry-after"] == "0"
    assert r.json()["detail"].startswith("Request was throttled. Expected available in")
    fake.faults.force("api", "429", "503", "drop")
    Run(tmp_path, files, "keyframe").make()  # polls are retried
    assert fake.paid_jobs == 1


def test_truncated_and_corrupt_downloads_are_retried(
    fake: ReplicateFake, files: dict, tmp_path: Path
):
    fake.faults.force("download", "truncate", "corrupt")
    run = Run(tmp_path, files, "draft")
    run.make()
    assert ("download", "truncate") in fake.faults.injected
    assert ("download", "corrupt") in fake.faults.injected
    assert probe(run.out).has_video
    assert fake.paid_jobs == 1


def test_result_that_stays_corrupt_is_not_a_take(fake: ReplicateFake, files: dict, tmp_path: Path):
    fake.faults.force("download", *["corrupt"] * FETCH_TRIES)
    run = Run(tmp_path, files, "keyframe")
    with pytest.raises(ProviderError, match="not usable media"):
        run.make()
    assert run.state() == SUBMITTED  # the next build downloads again, without paying
    run.make()
    assert fake.paid_jobs == 1
    assert probe(run.out).is_image


def test_validation_error_is_clear(fake: ReplicateFake, files: dict, tmp_path: Path):
    run = Run(tmp_path, files, "upscale", target_resolution="8k")
    with pytest.raises(ProviderError, match="replicate rejected the input") as e:
        run.make()
    assert "input.target_resolution: Must be one of 720p, 1080p, 4k" in str(e.value)
    assert fake.paid_jobs == 0
    assert run.state() == FAILED


def test_unknown_version_is_clear(fake: ReplicateFake, files: dict, tmp_path: Path):
    run = Run(tmp_path, files, "keyframe", model="black-forest-labs/flux-1.1-pro:" + "0" * 64)
    with pytest.raises(ProviderError, match="does not exist"):
        run.make()
    assert fake.paid_jobs == 0


def test_cancel(fake: ReplicateFake, files: dict, tmp_path: Path):
    run = Run(tmp_path, files, "draft")
    fake.latency = 5.0
    job_id = run.prov.submit(run.job())
    run.prov.cancel(job_id, run.job())
    poll = run.prov.poll(job_id, run.job())
    assert poll.state == FAILED_STATE and "canceled" in (poll.error or "")


def test_unknown_model_is_named(fake: ReplicateFake, files: dict, tmp_path: Path):
    fake.missing_models.add("nobody/no-such-model")
    run = Run(tmp_path, files, "keyframe", model="nobody/no-such-model")
    with pytest.raises(ProviderError, match="replicate has no model 'nobody/no-such-model'") as e:
        run.make()
    assert "replicate.com" in (e.value.hint or "")
    assert fake.paid_jobs == 0
