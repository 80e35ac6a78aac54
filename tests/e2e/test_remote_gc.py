"""`vf gc --remote` on moto's S3 and a file:// folder: it removes the cas/ and ac/ objects no
lock uses, only when older than the grace, says how much that frees, keeps every pinned blob
(even one whose action record is gone) and every take of a version the locks record, and a
fresh clone still pulls all the locks pin afterwards."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import fsspec
import pytest
from ruamel.yaml import YAML

from tests.conftest import copy_film
from tests.e2e.film import make_film, vf
from tests.s3server import S3
from vfbuild.recipe import key_of


@pytest.fixture(scope="module")
def pinned(tmp_path_factory: pytest.TempPathFactory) -> Path:
    film = make_film(tmp_path_factory.mktemp("rgc") / "film")
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


def _names(fs: Any, base: str, kind: str) -> set[str]:
    fs.invalidate_cache()  # s3fs keeps listings: the `vf` processes changed the bucket
    try:
        return {p.rstrip("/").rsplit("/", 1)[-1] for p in fs.ls(f"{base}/{kind}", detail=False)}
    except FileNotFoundError:
        return set()


def _garbage(fs: Any, base: str, recipe: dict[str, Any], tag: str) -> tuple[str, str, int]:
    """An action record of a recipe no lock records, and its blob: (key, sha256, size)."""
    body = f"a take nobody pinned {tag}".encode() * 100
    sha = hashlib.sha256(body).hexdigest()
    other = {**recipe, "seed": f"unused-{tag}"}
    key = key_of(other)
    record = {
        "format": 1,
        "key": key,
        "recipe": other,
        "outputs": [{"sha256": sha, "ext": ".png", "size": len(body)}],
    }
    fs.pipe_file(f"{base}/cas/{sha}", body)
    fs.pipe_file(f"{base}/ac/{key}", json.dumps(record).encode())
    return key, sha, len(body)


def test_gc_remote_removes_only_old_unused_objects_and_never_a_pin(
    pinned: Path, tmp_path: Path, remote: tuple[str, dict[str, str]]
) -> None:
    url, env = remote
    film = tmp_path / "film"
    subprocess.run(["cp", "-a", str(pinned), str(film)], check=True)
    vf(film, "remote", "add", "team", url, env=env)
    vf(film, "push", "--all", env=env)  # both takes of each version: all used by the locks
    for k, v in env.items():
        os.environ[k] = v
    fs, base = fsspec.core.url_to_fs(url)
    base = base.rstrip("/")
    lock = YAML(typ="safe").load((film / "locks" / "s010.yaml").read_text())
    pick = lock["picks"]["keyframe"]
    recipe = json.loads(fs.cat_file(f"{base}/ac/{pick['key']}"))["recipe"]
    fs.rm(f"{base}/ac/{pick['key']}")  # a pinned blob without its record is still pinned
    pinned_blobs = {pick["sha256"], lock["picks"]["draft"]["sha256"]}
    before_cas, before_ac = _names(fs, base, "cas"), _names(fs, base, "ac")
    assert len(before_cas) == 4 and pinned_blobs <= before_cas
    old_key, old_sha, old_size = _garbage(fs, base, recipe, "old")
    orphan = "0" * 64
    fs.pipe_file(f"{base}/cas/{orphan}", b"x" * 1000)  # a blob no record names
    time.sleep(3.5)  # the old ones are past a 3 s grace (a slow machine only ages them more)
    young_key, young_sha, young_size = _garbage(fs, base, recipe, "young")

    # Nothing is younger than an hour's grace: nothing goes.
    proc = vf(film, "gc", "--remote", "--grace", "1h", "--dry-run", env=env)
    assert "would remove 0 blob(s), 0 action record(s)" in proc.stdout
    assert "(3 unused but younger than 1h)" in proc.stdout  # 2 records, the orphan blob
    # Past a 3 s grace: what was written before the sleep, by its mtime or LastModified.
    proc = vf(film, "gc", "--remote", "--grace", "3s", "--dry-run", env=env)
    assert f"would remove cas/{old_sha}" in proc.stdout
    assert f"would remove ac/{old_key}" in proc.stdout
    assert f"would remove cas/{orphan}" in proc.stdout
    assert not set(proc.stdout.split()) & {f"cas/{s}" for s in before_cas}
    assert old_sha in _names(fs, base, "cas")  # a dry run removes nothing

    # No grace: every unused object goes, and only those.
    proc = vf(film, "gc", "--remote", "team", "--grace", "0s", "--json", env=env)
    doc = json.loads(proc.stdout)
    assert set(doc["removed"]) == {old_sha, orphan, young_sha}
    assert doc["freed"] == old_size + 1000 + young_size
    assert doc["remote"]["actions"] == sorted([old_key, young_key])
    assert _names(fs, base, "cas") == before_cas
    assert _names(fs, base, "ac") == before_ac - {pick["key"]}
    again = vf(film, "gc", "--remote", "--grace", "0s", env=env).stdout
    assert "removed 0 blob(s), 0 action record(s)" in again

    # What is left is all the locks need: a fresh clone pulls every pin, verified.
    clone = copy_film(film, tmp_path / "clone")
    pulled = vf(clone, "pull", env=env).stdout
    assert "pulled 2 take(s)" in pulled and "missing" not in pulled
    assert vf(clone, "verify", env=env).returncode == 0


def test_a_bad_grace_is_a_usage_error(pinned: Path, tmp_path: Path) -> None:
    film = tmp_path / "film"
    subprocess.run(["cp", "-a", str(pinned), str(film)], check=True)
    vf(film, "remote", "add", "team", (tmp_path / "nas").as_uri())
    proc = vf(film, "gc", "--remote", "--grace", "soon", check=False)
    assert proc.returncode == 2 and "--grace 'soon' is not a duration" in proc.stderr
    assert "Traceback" not in proc.stderr
