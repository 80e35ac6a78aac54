"""A damaged store object put right from the film's remote cache (moto's S3 and a file://
folder): `vf build --frozen` repairs a flipped byte in a pinned keyframe from `cas/` (the
damaged bytes kept aside, the layout linked again), `vf verify --repair` does the same, and a
remote blob that is not its name is refused and named, and nothing is built from it."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from tests.e2e.film import make_film, vf
from tests.e2e.test_integrity import flip_byte
from tests.s3server import S3
from vfbuild.fsutil import sha256_file
from vfbuild.store import vfdir


@pytest.fixture(scope="module")
def pinned(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """s010's keyframe and draft built and picked (the local renderer)."""
    film = make_film(tmp_path_factory.mktemp("repair") / "film")
    vf(film, "build", "--tier", "draft", "s010")
    vf(film, "pick", "s010", "keyframe", "1")
    vf(film, "build", "--tier", "draft", "s010")
    vf(film, "pick", "s010", "draft", "1")
    return film


@pytest.fixture(params=["file", "s3"])
def remote(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    if request.param == "file":
        yield (tmp_path / "nas").as_uri(), {}
    else:
        server: S3 = request.getfixturevalue("s3")
        yield server.url, server.env


def _film(pinned: Path, dest: Path, url: str, env: dict[str, str]) -> Path:
    subprocess.run(["cp", "-a", str(pinned), str(dest)], check=True)  # keeps the hard links
    vf(dest, "remote", "add", "team", url, env=env)
    vf(dest, "push", env=env)
    return dest


def _keyframe(film: Path) -> tuple[str, Path, Path]:
    pick = YAML(typ="safe").load((film / "locks" / "s010.yaml").read_text())["picks"]["keyframe"]
    sha = str(pick["sha256"])
    return sha, film / vfdir.OBJECTS / sha[:2] / sha, film / str(pick["file"])


def test_frozen_repairs_a_damaged_pinned_object_from_the_remote(
    pinned: Path, tmp_path: Path, remote: tuple[str, dict[str, str]]
) -> None:
    url, env = remote
    film = _film(pinned, tmp_path / "film", url, env)
    sha, obj, layout_file = _keyframe(film)
    flip_byte(obj)
    damaged = sha256_file(obj)
    proc = vf(film, "build", "--frozen", "--tier", "draft", "s010", env=env)
    assert f"its store object {sha[:12]}… was damaged" in proc.stdout
    assert "repaired from the remote" in proc.stdout and "making it again" not in proc.stdout
    assert sha256_file(obj) == sha and sha256_file(layout_file) == sha
    assert sha256_file(film / vfdir.DAMAGED / f"{damaged}.png") == damaged  # nothing is lost
    assert obj.stat().st_mode & 0o222 == 0  # read-only, as every object
    assert vf(film, "verify", env=env).returncode == 0


def test_verify_repair_fetches_the_object_and_relinks_the_layout(
    pinned: Path, tmp_path: Path, remote: tuple[str, dict[str, str]]
) -> None:
    url, env = remote
    film = _film(pinned, tmp_path / "film", url, env)
    sha, obj, layout_file = _keyframe(film)
    flip_byte(obj)
    assert vf(film, "verify", env=env, check=False).returncode == 1
    proc = vf(film, "verify", "--repair", env=env)
    assert f"repaired: {vfdir.OBJECTS}/{sha[:2]}/{sha}: from the remote team" in proc.stdout
    assert f"repaired: {layout_file.relative_to(film)}: linked again" in proc.stdout
    assert "every one is what it should be" in proc.stdout
    assert sha256_file(obj) == sha and sha256_file(layout_file) == sha
    assert vf(film, "verify", env=env).returncode == 0


def test_a_corrupt_remote_blob_is_refused_named_and_not_used(
    pinned: Path, tmp_path: Path, remote: tuple[str, dict[str, str]]
) -> None:
    url, env = remote
    film = _film(pinned, tmp_path / "film", url, env)
    sha, obj, _ = _keyframe(film)
    import fsspec

    fs, base = fsspec.core.url_to_fs(url)
    blob = f"{base.rstrip('/')}/cas/{sha}"
    good = fs.cat_file(blob)
    if url.startswith("file:"):
        Path(blob).chmod(0o644)
        Path(blob).unlink()
    fs.pipe_file(blob, good[:-1] + bytes([good[-1] ^ 1]))
    flip_byte(obj)
    damaged = sha256_file(obj)
    for args in (("build", "--frozen", "--tier", "draft", "s010"), ("verify", "--repair")):
        proc = vf(film, *args, env=env, check=False)
        assert proc.returncode != 0, proc.stdout
        said = proc.stdout + proc.stderr
        assert f"cas/{sha}" in said and "is corrupt" in said and "refused" in said, said
        assert "Traceback" not in said
        assert sha256_file(obj) == damaged  # nothing was stored from it
    assert not list((film / vfdir.TMP).glob("*"))
