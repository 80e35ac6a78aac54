"""The Luma Agents provider (Ray 3.2) against its fake: the published request shape with first
and last frame (inline, or hosted URLs), 5 s clips, which failures are refusals.

What every remote provider keeps (the journal, faults, keys) is in test_contract.py."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.luma_agents import KEYS, LumaAgentsFake
from tests.providers import kit
from tests.providers.kit import creates, still
from vfbuild.errors import InputRefused, ProviderError
from vfbuild.providers.luma_agents import LumaAgentsProvider, nearest_aspect, resolution_for
from vfbuild.store.journal import Journal


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("luma-agents-media")
    return {"keyframe": still(d / "kf.png", "640x360"), "last": still(d / "last.png", "640x360")}


@pytest.fixture
def fake(serve: Any) -> LumaAgentsFake:
    return serve(LumaAgentsFake, KEYS)


def recipe(step: str = "draft", *, size: tuple[int, int] = (640, 360), **ps: Any) -> Any:
    settings = {"width": size[0], "height": size[1], "fps": 24, "move": "push-in", "duration": 3}
    return kit.recipe("luma-agents", step, settings, ps=ps)


def test_first_and_last_frame_go_as_start_frame_and_end_frame_inline(
    prov: LumaAgentsProvider,
    fake: LumaAgentsFake,
    media: dict[str, Path],
    journal: Journal,
    tmp_path: Path,
) -> None:
    out = tmp_path / "d.mp4"
    kit.make(prov, recipe(), {"keyframe": media["keyframe"], "last": media["last"]}, out, journal)
    (body,) = fake.requests
    assert {k: body[k] for k in ("model", "type", "aspect_ratio")} == {
        "model": "ray-3.2",
        "type": "video",
        "aspect_ratio": "16:9",
    }
    video = body["video"]
    assert video["resolution"] == "540p" and video["duration"] == "5s"
    for role, field in (("keyframe", "start_frame"), ("last", "end_frame")):
        ref = video[field]
        assert ref["media_type"] == "image/png"
        assert base64.b64decode(ref["data"]) == media[role].read_bytes()
    assert "negative_prompt" not in body and "seed" not in body  # Ray takes neither
    from vfbuild.media.probe import probe

    p = probe(out)
    assert (p.width, p.height) == (960, 540) and abs((p.duration or 0) - 5.0) < 0.2


def test_sizes_and_units(prov: LumaAgentsProvider) -> None:
    assert nearest_aspect(1920, 1080) == "16:9" and nearest_aspect(1080, 1920) == "9:16"
    assert nearest_aspect(2560, 1080) == "21:9" and nearest_aspect(500, 500) == "1:1"
    assert [resolution_for(w, h) for w, h in ((320, 180), (1280, 720), (3840, 2160))] == [
        "540p",
        "720p",
        "1080p",
    ]
    assert prov.units("draft", 3) == ("second", 5.0) and prov.units("final", 9) == ("second", 5.0)
    assert prov.takes_last("draft", "ray-3.2") and not prov.can_find


@pytest.mark.parametrize("code", ["content_moderated", "corrupt_input"])
def test_an_input_failure_code_is_a_refusal(
    prov: LumaAgentsProvider,
    fake: LumaAgentsFake,
    media: dict[str, Path],
    journal: Journal,
    tmp_path: Path,
    code: str,
) -> None:
    fake.refuse_codes.append(code)
    with pytest.raises(InputRefused, match=code):
        kit.make(prov, recipe(), {"keyframe": media["keyframe"]}, tmp_path / "d.mp4", journal)
    assert fake.paid_jobs == 1


def test_a_model_failure_is_a_failure_not_a_refusal(
    prov: LumaAgentsProvider,
    fake: LumaAgentsFake,
    media: dict[str, Path],
    journal: Journal,
    tmp_path: Path,
) -> None:
    fake.refuse_codes.append("generation_failed")
    with pytest.raises(ProviderError, match="generation_failed") as e:
        kit.make(prov, recipe(), {"keyframe": media["keyframe"]}, tmp_path / "d.mp4", journal)
    assert not isinstance(e.value, InputRefused)


def test_a_422_on_create_is_a_refusal_and_a_503_or_429_is_retried(
    prov: LumaAgentsProvider,
    fake: LumaAgentsFake,
    media: dict[str, Path],
    journal: Journal,
    tmp_path: Path,
) -> None:
    fake.faults.force("create", "503", "429")
    kit.make(prov, recipe(), {"keyframe": media["keyframe"]}, tmp_path / "a.mp4", journal)
    assert creates(fake) == 3 and fake.paid_jobs == 1  # two faults, retried, one job
    fake.faults.force("create", "422")
    with pytest.raises(InputRefused, match="recognisable person"):
        r = recipe(size=(1280, 720))
        kit.make(prov, r, {"keyframe": media["keyframe"]}, tmp_path / "b.mp4", journal)
    assert creates(fake) == 4 and fake.paid_jobs == 1  # a refusal is not sent again


def test_anchor_frames_with_ten_seconds_are_refused_by_the_service(
    prov: LumaAgentsProvider,
    fake: LumaAgentsFake,
    media: dict[str, Path],
    journal: Journal,
    tmp_path: Path,
) -> None:
    with pytest.raises(InputRefused, match="5s only"):
        r = recipe(video={"duration": "10s"})
        kit.make(prov, r, {"keyframe": media["keyframe"]}, tmp_path / "d.mp4", journal)
    assert fake.paid_jobs == 0
