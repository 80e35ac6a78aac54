"""The Replicate provider against the fake Replicate API: its inputs, models and versions, and
the look-up of a lost submit among other predictions.

What every remote provider keeps (the journal, faults, keys, cancel) is in test_contract.py."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fakes.replicate import KEYS, ReplicateFake, film_providers
from tests.providers.kit import Run, end_now, small_take
from vfbuild.errors import ProviderError
from vfbuild.media.probe import probe
from vfbuild.providers.remote import FAILED_STATE

KEY = KEYS["REPLICATE_API_TOKEN"]


@pytest.fixture
def fake(serve: Any) -> ReplicateFake:
    return serve(ReplicateFake, KEYS)


def take(tmp: Path, files: dict[str, Path], step: str, **kw: Any) -> Run:
    return small_take("replicate", tmp, files, step, **kw)


def other_predictions(fake: ReplicateFake, n: int) -> None:
    """Predictions someone else (another build, the website) made with the same key."""
    for i in range(n):
        r = httpx.post(
            f"{fake.url}/v1/models/black-forest-labs/flux-1.1-pro/predictions",
            json={"input": {"prompt": f"another prompt {i}", "seed": i}},
            headers={"Authorization": f"Bearer {KEY}"},
        )
        assert r.status_code == 201


# -- its requests ---------------------------------------------------------------------------


def test_inputs(fake: ReplicateFake, files: dict, tmp_path: Path):
    take(tmp_path, files, "keyframe").make()
    take(tmp_path, files, "draft", sample_steps=20).make()
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
    run = take(tmp_path, files, "keyframe", model=f"{name}:{fake.version_of(name)}")
    run.make()
    assert ("POST", "/v1/predictions") in fake.log
    (job,) = fake.jobs.values()
    assert job.extra["version"] == fake.version_of(name)
    assert probe(run.out).is_image


def test_list_output(fake: ReplicateFake, files: dict, tmp_path: Path):
    run = take(tmp_path, files, "keyframe", model="black-forest-labs/flux-dev")
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


# -- the journal ----------------------------------------------------------------------------


def test_lost_job_on_a_late_page(fake: ReplicateFake, files: dict, tmp_path: Path):
    fake.page_size = 2
    run = take(tmp_path, files, "keyframe")
    run.prov.submit(run.job())
    other_predictions(fake, 5)  # newer predictions push ours to the third page
    model = run.recipe["model"]
    run.journal.begin(run.key, provider="replicate", model=model, label=run.label, cost=None)
    run.make()
    assert fake.paid_jobs == 6
    assert sum(1 for m, p in fake.log if (m, p) == ("GET", "/v1/predictions")) == 3


def test_expired_output_is_a_failed_job(fake: ReplicateFake, files: dict, tmp_path: Path):
    run = take(tmp_path, files, "keyframe")
    job_id = run.prov.submit(run.job())
    fake.expire(job_id)
    end_now(fake.jobs[job_id])
    poll = run.prov.poll(job_id, run.job())
    assert poll.state == FAILED_STATE and "deleted" in (poll.error or "")


# -- faults ---------------------------------------------------------------------------------


def test_the_fake_refuses_as_replicate_does(fake: ReplicateFake):
    """(What the provider makes of it is test_contract.py's.)"""
    fake.faults.force("api", "429")
    r = httpx.get(f"{fake.url}/v1/predictions", headers={"Authorization": f"Bearer {KEY}"})
    assert r.status_code == 429 and r.headers["retry-after"] == "0"
    assert r.json()["detail"].startswith("Request was throttled. Expected available in")
    r = httpx.get(f"{fake.url}/v1/predictions")  # no key
    assert r.status_code == 401 and r.headers["content-type"] == "application/problem+json"


def test_unknown_version_is_clear(fake: ReplicateFake, files: dict, tmp_path: Path):
    run = take(tmp_path, files, "keyframe", model="black-forest-labs/flux-1.1-pro:" + "0" * 64)
    with pytest.raises(ProviderError, match="does not exist"):
        run.make()
    assert fake.paid_jobs == 0


def test_unknown_model_is_named(fake: ReplicateFake, files: dict, tmp_path: Path):
    fake.missing_models.add("nobody/no-such-model")
    run = take(tmp_path, files, "keyframe", model="nobody/no-such-model")
    with pytest.raises(ProviderError, match="replicate has no model 'nobody/no-such-model'") as e:
        run.make()
    assert "replicate.com" in (e.value.hint or "")
    assert fake.paid_jobs == 0
