"""The Luma provider against its fake: Photon keyframes, Ray video, and which generation a lost
reply's take is (Luma has no seed: takes of one shot send the same request).

What every remote provider keeps (the journal, faults, keys) is in test_contract.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

import vfbuild.providers.luma as luma
from tests.fakes.luma import KEYS, LumaFake
from tests.providers import kit
from tests.providers.kit import key_of, posts, still
from vfbuild.errors import ProviderError
from vfbuild.providers.luma import LumaProvider, nearest_aspect, resolution_for
from vfbuild.providers.remote import RemoteJob
from vfbuild.store.journal import Journal

KEY = KEYS["LUMAAI_API_KEY"]


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("luma-media")
    return {
        "keyframe": still(d / "kf.png", "640x360"),
        "reference": still(d / "ref.png", "256x256"),
    }


@pytest.fixture
def fake(serve: Any) -> LumaFake:
    return serve(LumaFake, KEYS)


def recipe(
    step: str = "draft", *, size: tuple[int, int] = (640, 360), seed: int = 1, **ps: Any
) -> dict[str, Any]:
    """Take `seed` of `step` (Luma takes no seed: takes differ by their number alone)."""
    settings: dict[str, Any] = {"width": size[0], "height": size[1], "fps": 24, "move": "push-in"}
    settings["duration"] = None if step == "keyframe" else 4.0
    prompt = "a yellow car on a snowy mountain road, aerial wide shot"
    return kit.recipe(
        "luma", step, settings, ps=ps, prompt=prompt, negative="blur", seed=seed, take=seed
    )


def inputs_for(step: str, media: dict[str, Path], refs: int = 1) -> dict[str, Any]:
    if step == "keyframe":
        return {"references": [media["reference"]] * refs}
    return {"keyframe": media["keyframe"]}


def make(
    prov: LumaProvider,
    r: dict[str, Any],
    media: dict[str, Path],
    out: Path,
    journal: Journal,
    refs: int = 1,
) -> None:
    kit.make(prov, r, inputs_for(r["step"], media, refs), out, journal)


def submit_only(prov: LumaProvider, r: dict[str, Any], journal: Journal, media: Any) -> str:
    """Journal a job and create it, as a build killed before writing the id would."""
    entry = journal.begin(key_of(r), provider="luma", model=r["model"], label="s010", cost=0.3)
    job = RemoteJob(key_of(r), r, inputs_for(r["step"], media), "s010", entry.client_id)
    return prov.submit(job)


# -- each step makes real media ---------------------------------------------------------------


def test_keyframe_is_a_photon_png(
    prov: LumaProvider, fake: LumaFake, media: dict[str, Path], journal: Journal, tmp_path: Path
) -> None:
    out = tmp_path / "kf.png"
    make(prov, recipe("keyframe", size=(1280, 720)), media, out, journal)  # 1080p: test_contract.py
    (job,) = fake.jobs.values()
    assert job.kind == "image"
    assert job.input["model"] == "photon-1" and job.input["format"] == "png"
    assert job.input["aspect_ratio"] == "16:9" and job.input["generation_type"] == "image"
    (ref,) = job.input["image_ref"]
    assert ref["url"].startswith("data:image/png;base64,")
    assert ("POST", "/dream-machine/v1/generations/image") in fake.log


def test_draft_is_ray_at_540p(
    prov: LumaProvider, fake: LumaFake, media: dict[str, Path], journal: Journal, tmp_path: Path
) -> None:
    out = tmp_path / "draft.mp4"
    make(prov, recipe("draft"), media, out, journal)  # 960x540, 5 s: test_contract.py
    (job,) = fake.jobs.values()
    assert {k: job.input[k] for k in ("model", "duration", "resolution", "aspect_ratio")} == {
        "model": "ray-flash-2",
        "duration": "5s",
        "resolution": "540p",
        "aspect_ratio": "16:9",
    }
    frame0 = job.input["keyframes"]["frame0"]
    assert frame0["type"] == "image" and frame0["url"].startswith("data:image/png;base64,")


def test_final_settings_pass_through(
    prov: LumaProvider, fake: LumaFake, media: dict[str, Path], journal: Journal, tmp_path: Path
) -> None:
    r = recipe("final", size=(1280, 720), loop=True)
    make(prov, r, media, tmp_path / "final.mp4", journal)  # 1280x720: test_contract.py
    (job,) = fake.jobs.values()
    assert job.input["loop"] is True and job.input["resolution"] == "720p"


def test_shapes_sizes_and_units(prov: LumaProvider) -> None:
    assert nearest_aspect(1920, 1080) == "16:9"
    assert nearest_aspect(1080, 1920) == "9:16"
    assert nearest_aspect(1440, 1080) == "4:3"
    assert nearest_aspect(2560, 1080) == "21:9"
    assert nearest_aspect(500, 500) == "1:1"
    assert [resolution_for(w, h) for w, h in ((320, 180), (640, 360), (1280, 720))] == [
        "540p",
        "540p",
        "720p",
    ]
    assert resolution_for(1920, 1080) == "1080p" and resolution_for(7680, 4320) == "4k"
    assert prov.units("keyframe", None) == ("image", 1.0)
    assert prov.units("draft", 4) == ("second", 5.0)
    assert prov.units("final", 7) == ("second", 9.0)


def test_too_many_references_are_refused_before_sending(
    prov: LumaProvider, fake: LumaFake, media: dict[str, Path], journal: Journal, tmp_path: Path
) -> None:
    with pytest.raises(ProviderError, match="at most 4"):
        make(prov, recipe("keyframe"), media, tmp_path / "kf.png", journal, refs=5)
    assert posts(fake) == 0


def test_credits(
    prov: LumaProvider, fake: LumaFake, media: Any, journal: Journal, tmp_path: Path
) -> None:
    before = prov.credits()
    make(prov, recipe("keyframe"), media, tmp_path / "kf.png", journal)
    assert prov.credits() < before


# -- keys -----------------------------------------------------------------------------------


def test_the_fake_refuses_a_wrong_key_as_luma_does(fake: LumaFake) -> None:
    """(What the provider makes of it is test_contract.py's.)"""
    r = httpx.get(f"{fake.url}/dream-machine/v1/credits")
    assert r.status_code == 401 and r.json() == {"detail": "Invalid API key provided"}


# -- the journal ----------------------------------------------------------------------------


def test_lost_takes_never_share_a_generation(
    prov: LumaProvider, fake: LumaFake, media: dict[str, Path], journal: Journal, tmp_path: Path
) -> None:
    # Luma has no seed: three takes send the same request. Take 1 got its id; the build was
    # killed after takes 2 and 3 were created but before their ids were written.
    t1, t2, t3 = (recipe(seed=s) for s in (1, 2, 3))
    make(prov, t1, media, tmp_path / "1.mp4", journal)
    g1 = journal.get(key_of(t1)).job_id
    g2 = submit_only(prov, t2, journal, media)
    g3 = submit_only(prov, t3, journal, media)  # the same request, maybe the same millisecond
    assert fake.paid_jobs == 3

    after = kit.provider("luma", tmp_path)  # the next build
    make(after, t3, media, tmp_path / "3.mp4", journal)
    make(after, t2, media, tmp_path / "2.mp4", journal)
    got = {journal.get(key_of(t)).job_id for t in (t1, t2, t3)}
    assert got == {g1, g2, g3}  # each take its own generation
    assert fake.paid_jobs == 3


def test_lost_reply_does_not_take_a_sibling_takes_generation(
    prov: LumaProvider, fake: LumaFake, media: dict[str, Path], journal: Journal, tmp_path: Path
) -> None:
    t1, t2 = recipe(seed=1), recipe(seed=2)
    make(prov, t1, media, tmp_path / "1.mp4", journal)
    fake.faults.force("create", "drop")
    make(prov, t2, media, tmp_path / "2.mp4", journal)
    assert journal.get(key_of(t2)).job_id != journal.get(key_of(t1)).job_id
    assert fake.paid_jobs == 2


def test_an_older_identical_generation_is_not_taken(
    prov: LumaProvider,
    fake: LumaFake,
    media: dict[str, Path],
    journal: Journal,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    r = recipe()
    job = RemoteJob(key_of(r), r, inputs_for("draft", media), "elsewhere", "")
    old = kit.provider("luma", tmp_path).submit(job)  # the same request, made before this build
    fake.jobs[old].extra["created_at"] = "2020-01-01T00:00:00.000Z"
    monkeypatch.setattr(luma, "FIND_SLACK", 0.0)
    journal.begin(key_of(r), provider="luma", model="ray-flash-2", label="s010", cost=0.3)
    make(prov, r, media, tmp_path / "o.mp4", journal)
    assert journal.get(key_of(r)).job_id != old
    assert fake.paid_jobs == 2


def test_cancel_deletes_the_generation(prov: LumaProvider, fake: LumaFake, media: Any) -> None:
    r = recipe()
    job = RemoteJob(key_of(r), r, inputs_for("draft", media), "s010 draft t01", "")
    gen_id = prov.submit(job)
    prov.cancel(gen_id, job)
    assert ("DELETE", f"/dream-machine/v1/generations/{gen_id}") in fake.log
    with pytest.raises(ProviderError, match="HTTP 404"):
        prov.poll(gen_id, job)
