"""Restyle (image to image) on fal and Replicate against their fakes: each model's published
fields (restyles.py), a real PNG back, billed per image; references only to models that take
them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.fakes.base import decode_data_uri
from tests.fakes.fal import KEYS as FAL_KEYS
from tests.fakes.fal import FalFake
from tests.fakes.replicate import KEYS as REPLICATE_KEYS
from tests.fakes.replicate import ReplicateFake
from tests.providers import kit
from vfbuild.errors import ProviderError
from vfbuild.media.probe import probe
from vfbuild.store.journal import Journal


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("restyle-media")
    return {"image": kit.still(d / "frame.png", "160x90"), "ref": kit.still(d / "ref.png", "64x64")}


def recipe(provider: str, model: str | None = None) -> dict[str, Any]:
    return kit.recipe(provider, "first-restyle", {"strength": 0.6}, model=model, seed=11)


@pytest.mark.parametrize(
    ("provider", "model", "field"),
    [
        ("fal", None, "image_url"),  # fal-ai/flux-pro/kontext
        ("replicate", None, "input_image"),  # black-forest-labs/flux-kontext-pro
    ],
)
def test_a_frame_restyled_by_each_providers_kontext(
    serve: Any,
    tmp_path: Path,
    journal: Journal,
    media: dict[str, Path],
    provider: str,
    model: str | None,
    field: str,
) -> None:
    fake = serve(FalFake, FAL_KEYS) if provider == "fal" else serve(ReplicateFake, REPLICATE_KEYS)
    prov = kit.provider(provider, tmp_path)
    out = tmp_path / "restyled.png"
    r = recipe(provider, model)
    kit.make(prov, r, {"image": media["image"], "references": []}, out, journal)
    (job,) = fake.jobs.values()
    assert decode_data_uri(job.input[field]) == media["image"].read_bytes()
    assert job.input["prompt"] == r["prompt"] and job.input["seed"] == 11
    assert job.input["output_format"] == "png"
    if provider == "replicate":
        assert job.input["aspect_ratio"] == "match_input_image"
    p = probe(out)
    assert p.is_image and (p.width, p.height) == (160, 90)
    assert prov.units("first-restyle", None) == ("image", 1.0)
    assert prov.ext("last-restyle") == ".png"


def test_references_go_to_a_model_that_takes_several_images(
    serve: Any, tmp_path: Path, journal: Journal, media: dict[str, Path]
) -> None:
    fake = serve(FalFake, FAL_KEYS)
    prov = kit.provider("fal", tmp_path)
    inputs = {"image": media["image"], "references": [media["ref"]]}
    with pytest.raises(ProviderError, match="takes one image") as e:
        kit.make(prov, recipe("fal"), inputs, tmp_path / "a.png", journal)
    assert "kontext/multi" in (e.value.hint or "") and kit.posts(fake) == 0
    for model in ("fal-ai/flux-pro/kontext/multi", "fal-ai/nano-banana/edit"):
        kit.make(prov, recipe("fal", model), inputs, tmp_path / f"{model[-5:]}.png", journal)
    multi, banana = sorted(fake.jobs.values(), key=lambda j: j.created)
    for job in (multi, banana):
        frame, ref = (decode_data_uri(u) for u in job.input["image_urls"])
        assert frame == media["image"].read_bytes() and ref == media["ref"].read_bytes()
    assert "seed" in multi.input and "seed" not in banana.input  # nano-banana takes none
