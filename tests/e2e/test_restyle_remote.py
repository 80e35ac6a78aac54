"""The example's continuity chain with its restyle made on fal (FLUX Kontext, against fal's
fake): s040's first frame is s030's last frame, sent to fal with the restyle's references and
prompt; the take fal makes is s040's first frame-restyle, paid once. A provider that cannot
restyle, and a one-image model given references, are refused before anything is sent."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from tests.conftest import EXAMPLE, copy_film
from tests.e2e.film import vf
from tests.fakes.base import Faults, decode_data_uri
from tests.fakes.fal import KEYS, FalFake
from vfbuild.store.ledger import Ledger

MULTI = "fal-ai/flux-pro/kontext/multi"
OTHERS = ("s010", "s020", "s030", "s050", "s060")


def _set_restyle(film: Path, choice: dict[str, object]) -> None:
    yaml = YAML()
    doc = yaml.load(film / "shots.yaml")
    doc["providers"]["restyle"] = choice
    yaml.dump(doc, film / "shots.yaml")


@pytest.fixture(scope="module")
def chained(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, FalFake, dict]]:
    """The example at thumbnail tiers, restyles on fal's fake, built through its picks."""
    with FalFake(latency=0.05, faults=Faults(retry_after="0")) as fake:
        env = {**KEYS, "VF_FAL_BASE_URL": fake.url}
        film = copy_film(EXAMPLE, tmp_path_factory.mktemp("restyle-fal") / "film")
        for lock in (film / "locks").glob("*.yaml"):
            lock.unlink()
        yaml = YAML()
        doc = yaml.load(film / "shots.yaml")
        doc["film"]["tiers"] = {"draft": "128x72", "final": "256x144"}
        doc["film"]["delivery"] = "256x144"
        for shot in doc["shots"]:
            shot["duration"] = 1
            if "keyframe" in shot:
                shot["keyframe"]["takes"] = 1
            shot["motion"]["takes"] = 1
        doc["providers"]["restyle"] = {"use": "fal", "model": MULTI, "timeout": 5.0}
        yaml.dump(doc, film / "shots.yaml")
        vf(film, "build", "-j", "2", env=env)
        for sid in OTHERS:
            vf(film, "pick", sid, "keyframe", "1", env=env)
        vf(film, "build", "-j", "2", env=env)
        for sid in OTHERS:
            vf(film, "pick", sid, "draft", "1", env=env)
        vf(film, "build", "-j", "2", env=env)  # the finals, then s040's chain
        yield film, fake, env


def test_s040s_first_frame_is_s030s_last_restyled_on_fal(
    chained: tuple[Path, FalFake, dict],
) -> None:
    film, fake, env = chained
    jobs = [j for j in fake.jobs.values() if j.extra["model"] == MULTI]
    assert len(jobs) == 1 == fake.paid_jobs  # every other step is local
    (job,) = jobs
    frame, ref = job.input["image_urls"]
    src = film / "01_Source_Images"
    assert decode_data_uri(frame) == (src / "s040_first_v001.png").read_bytes()  # s030's last
    assert decode_data_uri(ref) == (film / "references/su7_yellow.png").read_bytes()
    spring = (film / "prompts/s040_spring.txt").read_text().split()[0]
    assert spring.lower() in job.input["prompt"].lower()
    assert job.input["output_format"] == "png" and isinstance(job.input["seed"], int)
    # fal's take is s040's restyled frame, and s040's draft starts on it
    assert (src / "s040_first-restyle_v001.png").read_bytes() == fake.media(job).read_bytes()
    assert list((film / "03_Generations/v1_exploration").glob("s040_draft_*"))
    rows = [r for r in Ledger(film).rows() if r.provider == "fal"]
    assert len(rows) == 1 and rows[0].model == MULTI and float(rows[0].cost or 0) == 0.04
    again = vf(film, "build", "-j", "2", env=env)
    assert "  made " not in again.stdout and fake.paid_jobs == 1


def test_a_one_image_model_given_references_stops_before_sending(
    chained: tuple[Path, FalFake, dict], tmp_path: Path
) -> None:
    film0, fake, env = chained
    film = tmp_path / "film"
    shutil.copytree(film0, film, symlinks=True)
    _set_restyle(film, {"use": "fal", "model": "fal-ai/flux-pro/kontext", "timeout": 5.0})
    before = fake.paid_jobs, len(fake.log)
    run = vf(film, "build", "s040", "--tier", "draft", env=env, check=False)
    assert run.returncode != 0
    assert "takes one image" in run.stderr + run.stdout and MULTI in run.stderr + run.stdout
    assert (fake.paid_jobs, len(fake.log)) == before  # nothing was sent


def test_a_provider_that_cannot_restyle_is_a_check_error(
    chained: tuple[Path, FalFake, dict], tmp_path: Path
) -> None:
    film0, _, env = chained
    film = tmp_path / "film"
    shutil.copytree(film0, film, symlinks=True)
    _set_restyle(film, {"use": "kling"})
    run = vf(film, "check", env=env, check=False)
    assert run.returncode != 0 and "Traceback" not in run.stderr
    said = run.stderr + run.stdout
    assert "shots.yaml:" in said and "cannot make restyle takes" in said
    assert "fal" in said and "replicate" in said
