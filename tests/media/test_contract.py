"""check_result(): a take is held to its step's contract (kind, size, length, sound) before it
may enter the store, on real media made with ffmpeg."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.providers.kit import clip, ffmpeg, still
from vfbuild import steps
from vfbuild.errors import ProviderError, ResultRejected
from vfbuild.media.contract import check_result as check_contract
from vfbuild.providers import get_provider


def check_result(step: str, *args: Any, **kw: Any) -> None:
    """The check the build makes of a take of `step` (its declared contract)."""
    check_contract(steps.get(step).contract, *args, **kw)


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("contract")
    sound = d / "talk.mp4"
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=128x72:rate=24:duration=2",
           "-f", "lavfi", "-i", "sine=frequency=440:duration=2", "-c:v", "libx264",
           "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest",
           str(sound))  # fmt: skip
    (d / "junk.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(300))
    return {
        "still": still(d / "still.png", "256x144"),
        "square": still(d / "square.png", "144x144"),
        "clip2": clip(d / "clip2.mp4", "128x72", 2),
        "clip5": clip(d / "clip5.mp4", "128x72", 5),
        "clip1": clip(d / "clip1.mp4", "128x72", 1),
        "big5": clip(d / "big5.mp4", "256x144", 5),
        "big1": clip(d / "big1.mp4", "256x144", 1),
        "wide": still(d / "wide.png", "168x72"),  # 21:9, Luma's nearest to 2.4:1
        "runway": clip(d / "runway.mp4", "132x56", 5),  # 1584:672, Runway's nearest to 2.4:1
        "talk": sound,
        "junk": d / "junk.mp4",
    }


def recipe(step: str, provider: str = "local", **settings: Any) -> dict[str, Any]:
    return {"step": step, "provider": provider, "model": "m", "settings": settings}


def refused(step: str, rec: dict[str, Any], path: Path, **kw: Any) -> str:
    with pytest.raises(ResultRejected) as e:
        check_result(step, rec, path, label=f"s010 {step}", **kw)
    assert isinstance(e.value, ProviderError)  # a provider's failure, to the build
    return e.value.message


def test_the_contracts_cover_every_step_a_provider_makes() -> None:
    checked = {s.name for s in steps.registered() if s.contract is not None}
    assert checked == {
        "keyframe", "first-restyle", "last-restyle", "draft", "final", "upscale", "lipsync"
    }  # fmt: skip


def test_a_keyframe_is_an_image_at_its_tiers_aspect(media: dict[str, Path]) -> None:
    # The provider's own resolution is fine (Kling's 720p for a 640x360 tier): the aspect counts.
    check_result("keyframe", recipe("keyframe", width=1280, height=720), media["still"], label="k")
    msg = refused("keyframe", recipe("keyframe", "fal", width=256, height=144), media["square"])
    assert msg == (
        "s010 keyframe: fal's result was refused: expected the aspect of 256x144 (1.778), "
        "got 144x144 (1.000)"
    )
    msg = refused("keyframe", recipe("keyframe", width=256, height=144), media["clip1"])
    assert "expected an image, got a video (128x72, 1.00 s)" in msg


def test_a_take_more_than_one_percent_off_its_aspect_is_refused(media: dict[str, Path]) -> None:
    # 128x72 is 1.778; 1.778 * 1.011 asks for a little more than the tolerance allows.
    check_result("draft", recipe("draft", width=1920, height=1088, duration=1), media["clip1"],
                 label="d")  # fmt: skip
    msg = refused("draft", recipe("draft", width=1940, height=1080, duration=1), media["clip1"])
    assert "expected the aspect of 1940x1080" in msg and "got 128x72" in msg


def test_a_clip_is_at_least_as_long_as_asked_less_one_frame(media: dict[str, Path]) -> None:
    ok = recipe("draft", width=128, height=72, fps=24, duration=2.04)  # a frame over 2 s
    check_result("draft", ok, media["clip2"], label="d")
    msg = refused("final", recipe("final", width=128, height=72, fps=24, duration=2.1),
                  media["clip2"])  # fmt: skip
    assert msg == (
        "s010 final: local's result was refused: expected a clip of 2.10 s (one frame less at "
        "most), got 2.00 s"
    )


def test_a_clip_may_be_as_long_as_the_provider_makes_it(media: dict[str, Path]) -> None:
    """Kling (through fal) makes 5 s or 10 s clips, Luma 5 s or 9 s: a 4 s shot's 5 s clip is
    right; a 7 s shot's 5 s clip from fal (which makes and bills 10 s) is cut short; Luma's
    9 s for a 10 s shot is what Luma makes."""
    fal, luma = get_provider("fal"), get_provider("luma")
    check_result("draft", recipe("draft", "fal", duration=4), media["clip5"], label="d",
                 provider=fal)  # fmt: skip
    msg = refused("draft", recipe("draft", "fal", duration=7), media["clip5"], provider=fal)
    assert "expected a clip of 7.00 s" in msg and "got 5.00 s" in msg
    # Luma's 9 s clip for a 10 s shot: asked 9 s, which a 5 s clip is not.
    msg = refused("draft", recipe("draft", "luma", duration=10), media["clip5"], provider=luma)
    assert "expected a clip of 9.00 s" in msg


def test_wan_on_replicate_is_held_to_the_frames_it_makes(media: dict[str, Path]) -> None:
    """Wan 2.1 makes 81 to 100 frames at 16 fps: a 10 s shot gets 6.25 s, not 10."""
    rep = get_provider("replicate")
    wan = recipe("draft", "replicate", duration=10) | {"model": "wavespeedai/wan-2.1-i2v-480p"}
    msg = refused("draft", wan, media["clip5"], provider=rep)
    assert "expected a clip of 6.25 s" in msg
    other = recipe("draft", "replicate", duration=5) | {"model": "owner/other-video"}
    check_result("draft", other, media["clip5"], label="d", provider=rep)


def test_an_upscale_reaches_the_delivery_size_and_keeps_the_clips_length(
    media: dict[str, Path],
) -> None:
    up = recipe("upscale", "fal", width=256, height=144)
    check_result("upscale", up, media["big5"], label="u", clip=media["clip5"])
    msg = refused("upscale", up, media["clip5"], clip=media["clip5"])
    assert msg == (
        "s010 upscale: fal's result was refused: expected at least the delivery size 256x144, "
        "got 128x72"
    )
    msg = refused("upscale", up, media["big1"], clip=media["clip5"])
    assert "expected a clip of 5.00 s" in msg and "got 1.00 s" in msg


def test_a_take_is_held_to_the_ratio_its_provider_makes_for_the_tier(
    media: dict[str, Path],
) -> None:
    """Luma and Runway make fixed ratios, the nearest to the tier's: a 1920x800 (2.4:1) tier
    gets Luma's 21:9 and Runway's 1584:672, which are right, and nothing else is."""
    luma, runway = get_provider("luma"), get_provider("runway")
    tier = {"width": 1920, "height": 800}
    check_result("keyframe", recipe("keyframe", "luma", **tier), media["wide"], label="k",
                 provider=luma)  # fmt: skip
    msg = refused("keyframe", recipe("keyframe", "luma", **tier), media["still"], provider=luma)
    assert "expected the aspect of 21:9, the provider's ratio for 1920x800 (2.333)" in msg
    gen4 = recipe("draft", "runway", duration=5, **tier) | {"model": "gen4_turbo"}
    check_result("draft", gen4, media["runway"], label="d", provider=runway)
    refused("draft", gen4, media["clip5"], provider=runway)
    # Without the provider's word, the tier's aspect is the contract.
    refused("keyframe", recipe("keyframe", "luma", **tier), media["wide"])


def test_an_upscale_keeps_its_clips_shape_and_fills_the_delivery_frame(
    media: dict[str, Path],
) -> None:
    """A 16:9 clip upscaled for a 2:1 delivery: 256x144 fills the frame's width, at the
    clip's shape; stretched to the delivery's 2:1 it is refused."""
    up = recipe("upscale", "fal", width=256, height=128)
    check_result("upscale", up, media["big5"], label="u", clip=media["clip5"])
    msg = refused("upscale", up, media["runway"], clip=media["clip5"])
    assert "expected the aspect of its clip, 128x72 (1.778), got 132x56 (2.357)" in msg


def test_a_lipsync_has_sound(media: dict[str, Path]) -> None:
    check_result("lipsync", recipe("lipsync", fps=24), media["talk"], label="l")
    msg = refused("lipsync", recipe("lipsync", "fal", fps=24), media["clip2"])
    assert msg == (
        "s010 lipsync: fal's result was refused: expected a video with sound (an audio "
        "stream), got a video with no audio"
    )


def test_a_file_that_is_not_media_is_refused(media: dict[str, Path]) -> None:
    msg = refused("draft", recipe("draft", duration=1), media["junk"])
    assert msg.startswith("s010 draft: local's result was refused: expected a video, got no")


def test_a_step_without_a_contract_is_not_probed(media: dict[str, Path]) -> None:
    check_result("edit", recipe("edit"), media["junk"], label="edit")
