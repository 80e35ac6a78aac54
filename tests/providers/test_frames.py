"""First + last frame, and the models that take them, as each fake receives them; a model that
takes no last frame is refused before anything is sent (issue 18)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.fakes import fal as fal_fake
from tests.fakes.base import decode_data_uri
from tests.providers.kit import Run, recipe, still
from vfbuild.errors import ProviderError
from vfbuild.media.probe import probe

VEO = "fal-ai/veo3.1/first-last-frame-to-video"
VIDEO = {"width": 128, "height": 72, "fps": 24, "duration": 5, "move": "push-in"}


@pytest.fixture(scope="module")
def frames(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("frames")
    first = still(d / "first.png", "128x72")
    last = d / "last.png"  # another picture of the same size: a different frame
    from tests.providers.kit import ffmpeg

    ffmpeg("-f", "lavfi", "-i", "color=c=red:size=128x72", "-frames:v", "1", str(last))
    return {"first": first, "last": last}


def clip_run(root: Path, provider: str, model: str, frames: dict[str, Path], **kw: Any) -> Run:
    inputs: dict[str, Any] = {"keyframe": frames["first"]}
    if kw.pop("last", True):
        inputs["last"] = frames["last"]
    return Run(root, recipe(provider, "draft", {**VIDEO, **kw}, model=model), inputs)


# -- fal --------------------------------------------------------------------------------------


@pytest.fixture
def fal(serve: Any) -> Any:
    return serve(fal_fake.FalFake, fal_fake.KEYS)


def test_first_and_last_frame_reach_veo_on_fal_as_its_fields(
    fal: Any, frames: dict[str, Path], tmp_path: Path
) -> None:
    run = clip_run(tmp_path, "fal", VEO, frames)
    run.make()
    (job,) = fal.jobs.values()
    assert decode_data_uri(job.input["first_frame_url"]) == frames["first"].read_bytes()
    assert decode_data_uri(job.input["last_frame_url"]) == frames["last"].read_bytes()
    assert "image_url" not in job.input
    assert job.input["duration"] == "6s"  # a 5 s shot: Veo's shortest length that covers it
    assert job.input["generate_audio"] is False
    assert probe(run.out).duration == pytest.approx(6.0, abs=0.2)
    assert fal.paid_jobs == 1


@pytest.mark.parametrize(
    ("model", "first", "last", "duration"),
    [
        ("fal-ai/kling-video/v2.1/pro/image-to-video", "image_url", "tail_image_url", "5"),
        ("fal-ai/kling-video/v3/pro/image-to-video", "start_image_url", "end_image_url", "5"),
        ("fal-ai/bytedance/seedance/v1/pro/image-to-video", "image_url", "end_image_url", "5"),
        ("fal-ai/minimax/hailuo-02/standard/image-to-video", "image_url", "end_image_url", "6"),
    ],
)
def test_each_fal_model_gets_its_own_fields(
    fal: Any, frames: dict[str, Path], tmp_path: Path, model: str, first: str, last: str,
    duration: str,
) -> None:  # fmt: skip
    clip_run(tmp_path, "fal", model, frames).make()
    (job,) = fal.jobs.values()
    assert decode_data_uri(job.input[first]) == frames["first"].read_bytes()
    assert decode_data_uri(job.input[last]) == frames["last"].read_bytes()
    assert job.input["duration"] == duration


def test_kling_3_on_fal_makes_the_shots_length(
    fal: Any, frames: dict[str, Path], tmp_path: Path
) -> None:
    """Kling 3 makes 3 to 15 s: a 12 s shot is one 12 s clip, not a looped 10 s one."""
    run = clip_run(
        tmp_path, "fal", "fal-ai/kling-video/v3/pro/image-to-video", frames, duration=12, last=False
    )
    run.make()
    (job,) = fal.jobs.values()
    assert job.input["duration"] == "12" and "end_image_url" not in job.input
    assert run.prov.made_seconds(run.recipe) == 12.0
    assert run.prov.units_for(run.recipe, 12) == ("second", 12.0)


def test_a_model_without_a_last_frame_is_refused_before_sending(
    fal: Any, frames: dict[str, Path], tmp_path: Path
) -> None:
    run = clip_run(tmp_path, "fal", "fal-ai/kling-video/v2.1/standard/image-to-video", frames)
    assert not run.prov.takes_last("draft", run.recipe["model"])
    assert run.prov.takes_last("draft", VEO) and run.prov.takes_last_frame
    with pytest.raises(ProviderError, match="takes no last frame") as e:
        run.make()
    assert "last" in (e.value.hint or "")
    assert fal.log == [] and run.state() is None  # nothing sent, nothing journalled


def test_existing_fal_requests_are_unchanged(fal: Any, frames: dict[str, Path], tmp_path: Path):
    """A film built before the model table sends what it sent (no last frame, Kling 2.1)."""
    model = "fal-ai/kling-video/v2.1/standard/image-to-video"
    clip_run(tmp_path, "fal", model, frames, last=False).make()
    (job,) = fal.jobs.values()
    assert set(job.input) == {"prompt", "image_url", "duration", "negative_prompt"}
    assert job.input["duration"] == "5"


# -- Replicate --------------------------------------------------------------------------------


@pytest.fixture
def replicate(serve: Any) -> Any:
    from tests.fakes import replicate as fake

    return serve(fake.ReplicateFake, fake.KEYS)


@pytest.mark.parametrize(
    ("model", "first", "last", "duration"),
    [
        ("google/veo-3.1", "image", "last_frame", 6),
        ("bytedance/seedance-1-pro", "image", "last_frame_image", 5),
        ("minimax/hailuo-02", "first_frame_image", "last_frame_image", 6),
    ],
)
def test_each_replicate_model_gets_its_own_fields(
    replicate: Any, frames: dict[str, Path], tmp_path: Path, model: str, first: str, last: str,
    duration: int,
) -> None:  # fmt: skip
    run = clip_run(tmp_path, "replicate", model, frames)
    run.make()
    (job,) = replicate.jobs.values()
    assert decode_data_uri(job.input[first]) == frames["first"].read_bytes()
    assert decode_data_uri(job.input[last]) == frames["last"].read_bytes()
    assert job.input["duration"] == duration
    assert probe(run.out).duration == pytest.approx(duration, abs=0.2)


def test_kling_2_1_on_replicate_takes_its_end_image_in_pro_mode_only(
    replicate: Any, frames: dict[str, Path], tmp_path: Path
) -> None:
    run = clip_run(tmp_path, "replicate", "kwaivgi/kling-v2.1", frames)
    with pytest.raises(ProviderError, match="mode: pro"):
        run.make()
    assert replicate.paid_jobs == 0
    pro = Run(
        tmp_path,
        recipe("replicate", "draft", VIDEO, model="kwaivgi/kling-v2.1", ps={"mode": "pro"}),
        {"keyframe": frames["first"], "last": frames["last"]},
    )
    pro.make()
    (job,) = replicate.jobs.values()
    assert job.input["mode"] == "pro" and "end_image" in job.input and "seed" not in job.input


def test_a_lost_replicate_reply_with_a_last_frame_is_found(
    replicate: Any, frames: dict[str, Path], tmp_path: Path
) -> None:
    """The look-up compares the new file fields too (a `data:` URI comes back as a URL)."""
    replicate.faults.force("create", "drop")
    clip_run(tmp_path, "replicate", "google/veo-3.1", frames).make()
    assert replicate.paid_jobs == 1


# -- Luma -------------------------------------------------------------------------------------


def test_first_and_last_frame_reach_luma_as_keyframes(
    serve: Any, frames: dict[str, Path], tmp_path: Path
) -> None:
    from tests.fakes import luma as fake

    luma = serve(fake.LumaFake, fake.KEYS)
    big = {"first": tmp_path / "f.png", "last": tmp_path / "l.png"}
    still(big["first"], "640x360")
    from tests.providers.kit import ffmpeg

    ffmpeg("-f", "lavfi", "-i", "color=c=blue:size=640x360", "-frames:v", "1", str(big["last"]))
    settings = {**VIDEO, "width": 640, "height": 360}
    run = Run(
        tmp_path,
        recipe("luma", "draft", settings),
        {"keyframe": big["first"], "last": big["last"]},
    )
    run.make()
    (job,) = luma.jobs.values()
    keyframes = job.input["keyframes"]
    assert set(keyframes) == {"frame0", "frame1"}
    assert decode_data_uri(keyframes["frame1"]["url"]) == big["last"].read_bytes()
    assert luma.paid_jobs == 1
