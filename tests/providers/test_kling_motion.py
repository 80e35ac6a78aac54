"""Kling motion control against its fake: a reference performance (02_Reference_Video/) drives
the keyframe's character through `/v1/videos/motion-control`, found again by our task id
after a lost reply; a model without motion control is refused before anything is sent."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.fakes.kling import KEYS, KlingFake
from tests.providers import kit
from tests.providers.kit import clip, creates, key_of, still
from vfbuild.errors import ProviderError
from vfbuild.media.probe import probe
from vfbuild.providers.base import takes_reference_video
from vfbuild.providers.kling import KlingProvider
from vfbuild.store.journal import Journal


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("kling-motion-media")
    return {
        "keyframe": still(d / "kf.png", "640x360"),
        "reference": clip(d / "dance.mp4", "640x360", 4),  # the performance: 4 s
        "short": clip(d / "short.mp4", "640x360", 2),
    }


@pytest.fixture
def fake(serve: Any) -> KlingFake:
    return serve(KlingFake, KEYS, strict_media=True)


def recipe(model: str = "kling-v3", step: str = "draft", **ps: Any) -> dict[str, Any]:
    settings = {"width": 640, "height": 360, "fps": 24, "duration": 4.0, "move": "static"}
    return kit.recipe("kling", step, settings, model=model, ps=ps, prompt="the driver dances")


def make(prov: KlingProvider, r: dict[str, Any], inputs: dict[str, Path], tmp: Path) -> Path:
    out = tmp / f"{key_of(r)[:8]}.mp4"
    kit.make(prov, r, inputs, out, Journal(tmp / ".vf" / "journal"))
    return out


def test_a_reference_performance_goes_to_motion_control(
    prov: KlingProvider, fake: KlingFake, media: dict[str, Path], tmp_path: Path
) -> None:
    assert takes_reference_video(prov)
    inputs = {"keyframe": media["keyframe"], "reference": media["reference"]}
    out = make(prov, recipe(), inputs, tmp_path)
    (job,) = fake.jobs.values()
    assert job.extra["kind"] == "motion-control" and job.extra["model"] == "kling-v3"
    assert {k: job.input[k] for k in ("character_orientation", "keep_original_sound", "mode")} == {
        "character_orientation": "image",
        "keep_original_sound": "no",
        "mode": "std",
    }
    assert ("POST", "/v1/videos/motion-control") in fake.log
    p = probe(out)  # the performance's length, at std's 720p
    assert abs((p.duration or 0) - 4.0) < 0.2 and p.height == 720


def test_a_lost_reply_is_found_by_our_task_id_on_the_motion_control_route(
    prov: KlingProvider, fake: KlingFake, media: dict[str, Path], tmp_path: Path
) -> None:
    fake.faults.force("create", "drop")
    inputs = {"keyframe": media["keyframe"], "reference": media["reference"]}
    make(prov, recipe(), inputs, tmp_path)
    assert fake.paid_jobs == 1 and creates(fake) == 1
    (job,) = fake.jobs.values()
    assert ("GET", f"/v1/videos/motion-control/{job.extra['external_task_id']}") in fake.log


def test_a_model_without_motion_control_is_refused_before_sending(
    prov: KlingProvider, fake: KlingFake, media: dict[str, Path], tmp_path: Path
) -> None:
    inputs = {"keyframe": media["keyframe"], "reference": media["reference"]}
    with pytest.raises(ProviderError, match="has no motion control") as e:
        make(prov, recipe("kling-v2-1"), inputs, tmp_path)
    assert "kling-v3" in (e.value.hint or "") and creates(fake) == 0


def test_kling_refuses_a_performance_shorter_than_three_seconds(
    prov: KlingProvider, fake: KlingFake, media: dict[str, Path], tmp_path: Path
) -> None:
    inputs = {"keyframe": media["keyframe"], "reference": media["short"]}
    with pytest.raises(ProviderError, match="3 to 10 seconds"):
        make(prov, recipe(), inputs, tmp_path)
    assert fake.paid_jobs == 0
