"""A film made by a team through a shared remote cache, as two users run it: machine A builds
and picks with a paid provider (fal's fake) and pushes; a fresh clone B rebuilds exactly what
the locks pin for free; B changes one shot and pays for that shot only; A pulls and pays
nothing; A and B starting the same new recipe at once pay once; a corrupt blob is refused."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from tests.conftest import copy_film
from tests.e2e.film import make_film, vf
from tests.fakes.base import Faults
from tests.fakes.fal import KEYS, FalFake
from tests.s3server import S3
from vfbuild.store.ledger import Ledger

SHOTS = ("s010", "s020", "s030")


@pytest.fixture
def fal() -> Iterator[FalFake]:
    with FalFake(latency=0.05, faults=Faults(retry_after="0")) as fake:
        yield fake


def _edit(root: Path, change: dict[str, object]) -> None:
    yaml = YAML()
    doc = yaml.load(root / "shots.yaml")
    for path, value in change.items():
        *parents, last = path.split(".")
        node = doc
        for p in parents:
            node = node[int(p)] if p.isdigit() else node[p]
        node[last] = value
    yaml.dump(doc, root / "shots.yaml")


def _machine_a(tmp_path: Path, url: str, env: dict[str, str]) -> Path:
    """A builds the tiny film with fal making keyframes and video, picks, and pushes."""
    a = make_film(tmp_path / "a")
    _edit(a, {"providers": {"keyframe": {"use": "fal"}, "video": {"use": "fal"}}})
    vf(a, "remote", "add", "team", url, "--lease", "30", env=env)
    vf(a, "build", "--tier", "draft", "-j", "4", env=env)
    for sid in SHOTS:
        vf(a, "pick", sid, "keyframe", "2", env=env)
    vf(a, "build", "--tier", "draft", "-j", "4", env=env)
    for sid in SHOTS:
        vf(a, "pick", sid, "draft", "1", env=env)
    vf(a, "build", "-j", "4", env=env)
    vf(a, "push", env=env)
    return a


def _finals_and_edit(root: Path) -> dict[str, bytes]:
    files = [*(root / "03_Generations/v3_final").glob("*"), *(root / "06_Edit").glob("*.mp4")]
    files += (root / "05_Upscaled").glob("*")
    return {str(p.relative_to(root)): p.read_bytes() for p in files if p.is_file()}


def _sync_text(src: Path, dest: Path) -> None:
    """What git carries between the two: shots.yaml, prompts, locks, the ledger."""
    shutil.copy(src / "shots.yaml", dest / "shots.yaml")
    shutil.copy(src / "ledger.csv", dest / "ledger.csv")
    shutil.rmtree(dest / "locks")
    shutil.copytree(src / "locks", dest / "locks")


def test_a_team_shares_a_film_through_s3_and_never_pays_twice(
    tmp_path: Path, s3: S3, fal: FalFake
) -> None:
    env = {**KEYS, "VF_FAL_BASE_URL": fal.url, **s3.env}
    a = _machine_a(tmp_path, s3.url, env)
    paid_by_a = fal.paid_jobs
    assert paid_by_a == 3 * (2 + 2 + 1)  # keyframes, drafts, a final per shot

    # B: a fresh clone (no store, no .vf): exactly what the locks pin, for nothing.
    b = copy_film(a, tmp_path / "b")
    assert not (b / ".vf").exists()
    run = vf(b, "build", "--frozen", "-j", "4", env=env)
    assert fal.paid_jobs == paid_by_a, run.stdout
    assert "fetched s010 final from the remote team" in run.stdout
    want, got = _finals_and_edit(a), _finals_and_edit(b)
    assert any("06_Edit" in k for k in got) and any("v3_final" in k for k in got), run.stdout
    assert all(want[name] == data for name, data in got.items())  # byte-identical

    # B changes s020's keyframe prompt and builds: s020's new takes only are paid.
    rows_before = len(Ledger(b).rows())
    _edit(b, {"shots.1.keyframe.action": "parked by a frozen lake"})
    run = vf(b, "build", "--tier", "draft", "-j", "4", env=env)
    new_rows = Ledger(b).rows()[rows_before:]
    assert fal.paid_jobs - paid_by_a == len(new_rows) == 2, run.stdout
    assert {r.shot for r in new_rows} == {"s020"}
    vf(b, "pick", "s020", "keyframe", "1", env=env)
    run = vf(b, "build", "-j", "4", env=env)
    new_rows = Ledger(b).rows()[rows_before:]
    assert {r.shot for r in new_rows} == {"s020"} and fal.paid_jobs - paid_by_a == len(new_rows)
    vf(b, "push", env=env)
    paid = fal.paid_jobs

    # A pulls B's text (git) and the takes (vf pull), and builds: nothing is paid.
    _sync_text(b, a)
    pulled = vf(a, "pull", env=env)
    assert "pulled" in pulled.stdout
    run = vf(a, "build", "-j", "4", env=env)
    assert fal.paid_jobs == paid, run.stdout
    mine, theirs = _finals_and_edit(a), _finals_and_edit(b)
    assert all(mine[name] == data for name, data in theirs.items()), run.stdout


def test_two_machines_starting_one_new_recipe_at_once_pay_once(tmp_path: Path) -> None:
    # A NAS folder (file://): its claims are exclusive (link(2)). moto, unlike AWS S3, checks
    # If-None-Match and then stores without a lock, so it cannot referee a true race.
    with FalFake(latency=1.5, faults=Faults(retry_after="0")) as fake:
        env = {**KEYS, "VF_FAL_BASE_URL": fake.url}
        a = make_film(tmp_path / "a")
        _edit(a, {"providers": {"keyframe": {"use": "fal"}}})
        vf(a, "remote", "add", "team", f"file://{tmp_path}/nas", "--lease", "30", env=env)
        b = copy_film(a, tmp_path / "b")
        full = {**os.environ, **env}
        procs = [
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "vfbuild",
                    "-C",
                    str(root),
                    "build",
                    "--tier",
                    "draft",
                    "-j",
                    "6",
                    "s010",
                    "s020",
                    "s030",
                ],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=full,
            )  # fmt: skip
            for root in (a, b)
        ]
        outs = [p.communicate(timeout=300) for p in procs]
        for p, (out, err) in zip(procs, outs, strict=True):
            assert p.returncode == 0, out + err
        assert fake.paid_jobs == 6, outs  # three shots, two keyframe takes: each paid once
        both = "".join(o for o, _ in outs)
        assert "fetched" in both
        takes_a = sorted((a / "03_Generations/v1_exploration").glob("*_keyframe_*"))
        takes_b = sorted((b / "03_Generations/v1_exploration").glob("*_keyframe_*"))
        assert [p.name for p in takes_a] == [p.name for p in takes_b] and len(takes_a) == 6
        assert all(x.read_bytes() == y.read_bytes() for x, y in zip(takes_a, takes_b, strict=True))


def test_a_corrupt_blob_on_the_remote_is_refused_and_nothing_is_built_from_it(
    tmp_path: Path, fal: FalFake
) -> None:
    url = f"file://{tmp_path}/nas"
    env = {**KEYS, "VF_FAL_BASE_URL": fal.url}
    a = _machine_a(tmp_path, url, env)
    final = next((a / "03_Generations/v3_final").glob("s010_*"))
    from vfbuild.fsutil import sha256_file

    sha = sha256_file(final)
    blob = tmp_path / "nas" / "cas" / sha
    data = bytearray(blob.read_bytes())
    data[len(data) // 2] ^= 0x01
    blob.chmod(0o644)
    blob.write_bytes(bytes(data))
    b = copy_film(a, tmp_path / "b")
    paid = fal.paid_jobs
    run = vf(b, "build", "--frozen", env=env, check=False)
    assert run.returncode != 0 and "Traceback" not in run.stderr
    assert f"{url}/cas/{sha}" in run.stderr and "'team'" in run.stderr, run.stderr
    assert "corrupt" in run.stderr and "refused and not stored" in run.stderr
    assert not (b / ".vf/objects" / sha[:2] / sha).exists()
    assert not (b / "03_Generations/v3_final" / final.name).exists()
    assert not list((b / "05_Upscaled").glob("s010_*"))  # nothing downstream of it either
    assert fal.paid_jobs == paid
