"""The remote cache's backend on a real S3-protocol server (moto, 127.0.0.1) and on a file://
folder: write-if-absent under a race, streamed transfers verified by sha256, exclusive claims
that lapse, and a corrupt blob refused and never stored."""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import pytest

from tests.s3server import S3
from vfbuild.errors import RemoteCorrupt
from vfbuild.store.index import RecipeIndex
from vfbuild.store.objects import ObjectStore
from vfbuild.store.remote import CAS, Remote
from vfbuild.store.teamcache import TeamCache, action_record

KEY = "ab" * 32
LEASE = 2.0  # long enough for a loaded 2-core machine to ask twice within it


@pytest.fixture(params=["file", "s3"])
def remote(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Remote]:
    if request.param == "file":
        yield Remote("nas", f"file://{tmp_path}/remote", lease_seconds=LEASE)
    else:
        server: S3 = request.getfixturevalue("s3")
        yield Remote("team", server.url, lease_seconds=LEASE)


def _team(tmp_path: Path, remote: Remote, name: str) -> TeamCache:
    root = tmp_path / name
    (root / ".vf").mkdir(parents=True)
    return TeamCache(
        root, ObjectStore(root / ".vf/objects"), RecipeIndex(root / ".vf/recipes"), remote
    )


def _blob(tmp_path: Path, size: int) -> tuple[Path, str]:
    data = os.urandom(size)
    path = tmp_path / f"blob-{size}"
    path.write_bytes(data)
    return path, hashlib.sha256(data).hexdigest()


def test_a_name_is_written_once(remote: Remote) -> None:
    def body(f: IO[bytes]) -> None:
        f.write(b"first\n")

    assert remote.create(remote.path("ac", KEY), body) is True
    assert remote.create(remote.path("ac", KEY), lambda f: None) is False  # 412 on S3
    assert remote.fs.cat_file(remote.path("ac", KEY)) == b"first\n"


def test_a_name_is_written_once_whoever_races_for_it(tmp_path: Path) -> None:
    # On file:// only: moto checks If-None-Match and then stores, not atomically, so racing
    # writers can both win there (AWS S3 itself is atomic); the sequential case runs on both.
    remote = Remote("nas", f"file://{tmp_path}/remote")
    wins: list[bool] = []
    start = threading.Barrier(8)

    def write(i: int) -> None:
        def body(f: IO[bytes]) -> None:
            f.write(f"writer {i}\n".encode())

        start.wait()
        wins.append(remote.create(remote.path("ac", KEY), body))

    threads = [threading.Thread(target=write, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(wins) == [False] * 7 + [True]
    text = remote.fs.cat_file(remote.path("ac", KEY)).decode()
    assert text.startswith("writer ") and text.count("\n") == 1


def test_a_write_that_fails_midway_leaves_no_object(remote: Remote) -> None:
    def body(f: IO[bytes]) -> None:
        f.write(b"x" * (6 * 2**20))  # past one part: a multipart upload on S3
        raise OSError("the disk went away")

    with pytest.raises(Exception, match="disk went away"):
        remote.create(remote.path(CAS, KEY), body)
    assert remote.blob_size(KEY) is None


def test_a_take_goes_up_and_comes_back_verified(tmp_path: Path, remote: Remote) -> None:
    a, b = _team(tmp_path, remote, "a"), _team(tmp_path, remote, "b")
    src, sha = _blob(tmp_path, 9 * 2**20 + 17)
    art = a.store.put(src, ".mp4")
    assert art.sha256 == sha
    a.publish(KEY, art, {"step": "draft", "provider": "fal"}, job_id="j1", cost=0.25)
    assert remote.upload_blob(a.store.path(sha), sha) is False  # resumed: already there
    got = b.fetch(KEY, {"step": "draft"}, None, ".mp4")
    assert got == art
    assert b.store.path(sha).read_bytes() == a.store.path(sha).read_bytes()
    assert b.index.lookup(KEY) == art
    record = remote.get_action(KEY)
    assert record is not None and record["job_id"] == "j1" and record["cost"] == 0.25


def test_a_corrupt_blob_is_refused_named_and_never_stored(tmp_path: Path, remote: Remote) -> None:
    a, b = _team(tmp_path, remote, "a"), _team(tmp_path, remote, "b")
    src, sha = _blob(tmp_path, 1000)
    art = a.store.put(src, ".png")
    a.publish(KEY, art, {"step": "keyframe"})
    bad = bytearray(a.store.path(sha).read_bytes())
    bad[500] ^= 1
    remote.fs.rm(remote.path(CAS, sha))
    remote.fs.pipe_file(remote.path(CAS, sha), bytes(bad))
    with pytest.raises(RemoteCorrupt) as e:
        b.fetch(KEY, {"step": "keyframe"}, None, ".png")
    assert remote.where(CAS, sha) in e.value.message and repr(remote.name) in e.value.message
    assert not b.store.has(sha) and b.index.lookup(KEY) is None
    for scratch in (b.root / ".vf/tmp", b.root / ".vf/partial"):
        assert not scratch.exists() or list(scratch.iterdir()) == []


def _cut_off(remote: Remote, after: int) -> Any:
    """`remote.fs.open` whose files fail (a dropped connection) once `after` bytes are read."""
    real = remote.fs.open

    def failing(*args: Any, **kwargs: Any) -> Any:
        f = real(*args, **kwargs)
        read = f.read
        state = {"n": f.tell() if hasattr(f, "tell") else 0}

        def short(n: int = -1) -> bytes:
            if state["n"] >= after:
                raise OSError("connection reset by peer")
            data = read(min(n, after - state["n"]) if n >= 0 else after - state["n"])
            state["n"] += len(data)
            return data

        f.read = short
        return f

    return failing


def test_a_pull_cut_off_midway_goes_on_from_where_it_stopped(
    tmp_path: Path, remote: Remote, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = _team(tmp_path, remote, "a"), _team(tmp_path, remote, "b")
    size = 3 * 2**20 + 5
    src, sha = _blob(tmp_path, size)
    a.store.put(src, ".mp4")
    remote.upload_blob(a.store.path(sha), sha)
    monkeypatch.setattr("vfbuild.store.remote.CHUNK", 2**20)
    with monkeypatch.context() as m:
        m.setattr(remote.fs, "open", _cut_off(remote, 2**20 + 100))
        with (
            pytest.raises(Exception, match="connection reset"),
            remote.download_blob(sha, b.tmp_dir, resume_dir=b.partial_dir),
        ):
            pass
    part = b.partial_dir / f"{sha}.part"
    assert part.stat().st_size == 2**20 + 100  # what was read before the cut is kept
    moved: list[int] = []
    with remote.download_blob(sha, b.tmp_dir, moved.append, resume_dir=b.partial_dir) as tmp:
        b.store.put(tmp, ".mp4", expected_sha256=sha)
    assert sum(moved) == size - (2**20 + 100)  # only the rest came over the wire
    assert b.store.path(sha).read_bytes() == a.store.path(sha).read_bytes()
    assert not part.exists()


def test_a_kept_part_that_is_wrong_is_read_again_not_blamed_on_the_remote(
    tmp_path: Path, remote: Remote
) -> None:
    a, b = _team(tmp_path, remote, "a"), _team(tmp_path, remote, "b")
    src, sha = _blob(tmp_path, 5000)
    a.store.put(src, ".png")
    remote.upload_blob(a.store.path(sha), sha)
    b.partial_dir.mkdir(parents=True)
    (b.partial_dir / f"{sha}.part").write_bytes(b"not these bytes")
    moved: list[int] = []
    with remote.download_blob(sha, b.tmp_dir, moved.append, resume_dir=b.partial_dir) as tmp:
        b.store.put(tmp, ".png", expected_sha256=sha)
    assert b.store.path(sha).read_bytes() == a.store.path(sha).read_bytes()
    assert sum(moved) == 5000 - len(b"not these bytes") + 5000  # the rest, then all again


def test_a_record_naming_other_bytes_than_the_pin_is_not_used(
    tmp_path: Path, remote: Remote
) -> None:
    a, b = _team(tmp_path, remote, "a"), _team(tmp_path, remote, "b")
    src, sha = _blob(tmp_path, 100)
    a.publish(KEY, a.store.put(src, ".png"), {})
    assert b.fetch(KEY, {}, "cd" * 32, ".png") is None
    assert not b.store.has(sha)


def test_a_claim_is_exclusive_and_lapses_when_its_holder_dies(remote: Remote) -> None:
    first = remote.try_claim(KEY, "machine-a")
    assert first is not None and first.generation == 1
    assert remote.try_claim(KEY, "machine-b") is None
    assert remote.try_claim(KEY, "machine-a") is not None  # its own claim: renewed
    time.sleep(LEASE + 0.2)  # machine-a died: its lease lapses
    took = remote.try_claim(KEY, "machine-b")
    assert took is not None and took.generation == 2 and took.holder == "machine-b"
    assert remote.try_claim(KEY, "machine-a") is None


def test_a_waiting_teammate_takes_what_the_holder_publishes(tmp_path: Path, remote: Remote) -> None:
    a, b = _team(tmp_path, remote, "a"), _team(tmp_path, remote, "b")
    claim = a.claim(KEY, {}, None, ".png", say=lambda line: None)
    assert not isinstance(claim, type(None)) and hasattr(claim, "stop")
    said: list[str] = []
    got: list[object] = []
    waiter = threading.Thread(
        target=lambda: got.append(b.claim(KEY, {}, None, ".png", say=said.append))
    )
    waiter.start()
    time.sleep(LEASE * 1.5)  # longer than the lease: the holder's renewals keep it
    assert waiter.is_alive() and said and "teammate" in said[0]
    src, _ = _blob(tmp_path, 300)
    art = a.store.put(src, ".png")
    a.publish(KEY, art, {})
    claim.stop(release=False)  # type: ignore[union-attr]
    waiter.join(timeout=10)
    assert got == [art] and b.store.has(art.sha256)


def test_records_are_what_a_recipe_produced(tmp_path: Path) -> None:
    from vfbuild.store.objects import Artifact

    art = Artifact("ef" * 32, ".mp4", 10)
    rec = action_record(KEY, art, {"provider": "fal", "model": "m"}, by="x", job_id="j", cost=1.0)
    assert rec["outputs"] == [{"sha256": art.sha256, "ext": ".mp4", "size": 10}]
    assert (rec["provider"], rec["model"], rec["job_id"], rec["cost"]) == ("fal", "m", "j", 1.0)


_SLOW_PULL = """
import sys, time
from pathlib import Path
import vfbuild.store.remote as remote_mod
from vfbuild.store.remote import Remote

remote_mod.CHUNK = 64 * 1024
remote = Remote("nas", sys.argv[1])
with remote.download_blob(sys.argv[2], Path(sys.argv[3]), lambda n: time.sleep(0.02),
                          resume_dir=Path(sys.argv[4])):
    pass
"""


def test_a_pull_killed_midway_goes_on_from_its_part(tmp_path: Path) -> None:
    """A real kill -9 of a process pulling (file://, 64 KiB pieces, slowed): what it wrote
    stays in its part, and the next pull moves only the rest."""
    import signal
    import subprocess
    import sys

    remote = Remote("nas", f"file://{tmp_path}/remote")
    src, sha = _blob(tmp_path, 8 * 2**20)
    remote.upload_blob(src, sha)
    tmp_dir, partial = tmp_path / "tmp", tmp_path / "partial"
    child = subprocess.Popen(
        [sys.executable, "-c", _SLOW_PULL, remote.url, sha, str(tmp_dir), str(partial)]
    )
    part = partial / f"{sha}.part"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (part.exists() and part.stat().st_size > 2**20):
        time.sleep(0.02)
    child.send_signal(signal.SIGKILL)
    child.wait()
    kept = part.stat().st_size
    assert 2**20 < kept < 8 * 2**20, kept
    moved: list[int] = []
    with remote.download_blob(sha, tmp_dir, moved.append, resume_dir=partial) as got:
        assert got.read_bytes() == src.read_bytes()
    assert sum(moved) == 8 * 2**20 - kept
    assert not part.exists()
