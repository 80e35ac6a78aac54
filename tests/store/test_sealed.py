"""Sealed caches: a damaged, foreign or cut cache is a miss, the key is private, made once
and agreed on, and a key that cannot be kept only turns caching off."""

from __future__ import annotations

import multiprocessing
import os
import pickle
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from vfbuild.store import sealed

CACHES = ("film.pickle", "shots-items.pickle", "states.pickle", "locks.pickle")


class _Planted:
    """Unpickling this writes `marker`: the code a film could carry."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Callable[..., object], tuple[object, ...]]:
        return (Path.write_text, (self.marker, "the film's code ran"))


def plant(film: Path, markers: Path, names: tuple[str, ...] = CACHES) -> list[Path]:
    """A pickle that writes a marker when loaded, as each cache file of `film`."""
    cache = film / ".vf" / "cache"
    cache.mkdir(parents=True, exist_ok=True)
    made = []
    for name in names:
        marker = markers / f"ran-{name}"
        (cache / name).write_bytes(pickle.dumps(_Planted(marker)))
        made.append(marker)
    return made


@pytest.fixture
def own_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A cache folder of this test's own, its key looked for afresh; the key file's path."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    sealed._forget_key()
    yield tmp_path / "xdg" / "vfbuild" / sealed.KEY_FILE
    sealed._forget_key()


def test_the_planted_pickle_would_run(tmp_path: Path) -> None:
    """The plant is live: what the tests below refuse to load does run when unpickled."""
    (marker,) = plant(tmp_path, tmp_path, ("film.pickle",))
    pickle.loads((tmp_path / ".vf/cache/film.pickle").read_bytes())
    assert marker.read_text() == "the film's code ran"


# --------------------------------------------------------------------------- seal, unseal


def test_a_sealed_cache_reads_back_and_the_key_is_private(own_key: Path) -> None:
    blob = sealed.dumps({"a": (1, b"x")}, "film.pickle")
    assert blob is not None and blob.startswith(sealed.MAGIC)
    assert sealed.loads(blob, "film.pickle") == {"a": (1, b"x")}
    assert sealed.unseal(sealed.seal(b"bytes", "k") or b"", "k") == b"bytes"
    assert len(own_key.read_bytes()) == sealed.KEY_BYTES
    assert stat.S_IMODE(own_key.stat().st_mode) == 0o600


def test_a_changed_or_cut_byte_is_a_miss(own_key: Path) -> None:
    blob = sealed.seal(pickle.dumps({"items": [1, 2, 3]}), "states.pickle")
    assert blob is not None
    for i in range(len(blob)):
        changed = bytearray(blob)
        changed[i] ^= 0x01
        assert sealed.unseal(bytes(changed), "states.pickle") is None, i
        assert sealed.loads(bytes(changed), "states.pickle") is None, i
    for n in range(len(blob)):
        assert sealed.unseal(blob[:n], "states.pickle") is None, n
    assert sealed.unseal(blob + b"\0", "states.pickle") is None
    assert sealed.unseal(blob, "states.pickle") is not None


def test_another_kind_or_another_key_is_a_miss(
    own_key: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blob = sealed.dumps([1, 2], "film.pickle")
    assert blob is not None
    assert sealed.loads(blob, "locks.pickle") is None  # one cache's bytes are not another's
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "another-user"))
    sealed._forget_key()
    assert sealed.loads(blob, "film.pickle") is None
    assert sealed.loads(sealed.dumps([1, 2], "film.pickle") or b"", "film.pickle") == [1, 2]


def test_the_key_is_read_once_per_process(own_key: Path) -> None:
    blob = sealed.dumps("x", "k")
    own_key.unlink()
    assert sealed.loads(blob or b"", "k") == "x"
    assert sealed.dumps("y", "k") is not None
    assert not own_key.exists()  # neither read nor made again


def _race(barrier: multiprocessing.synchronize.Barrier, out: multiprocessing.Queue[str]) -> None:
    sealed._forget_key()
    barrier.wait()
    key = sealed._key()
    out.put(key.hex() if key else "none")


def test_processes_that_race_to_make_the_key_agree_on_one(own_key: Path) -> None:
    ctx = multiprocessing.get_context("fork")
    n = 6
    barrier, out = ctx.Barrier(n), ctx.Queue()
    procs = [ctx.Process(target=_race, args=(barrier, out)) for _ in range(n)]
    for p in procs:
        p.start()
    keys = {out.get(timeout=30) for _ in procs}
    for p in procs:
        p.join(timeout=30)
    assert keys == {own_key.read_bytes().hex()}
    assert [f for f in own_key.parent.iterdir() if f.name != sealed.KEY_FILE] == []


@pytest.mark.parametrize("bad", ["short", "open to others", "symlink"])
def test_an_unusable_key_is_replaced_by_a_private_one(
    own_key: Path, tmp_path: Path, bad: str
) -> None:
    own_key.parent.mkdir(parents=True)
    if bad == "short":
        own_key.write_bytes(b"12345")
        os.chmod(own_key, 0o600)
    elif bad == "open to others":
        own_key.write_bytes(b"k" * sealed.KEY_BYTES)
        os.chmod(own_key, 0o644)  # anyone who reads it could seal a cache
    else:
        (tmp_path / "elsewhere").write_bytes(b"k" * sealed.KEY_BYTES)
        os.chmod(tmp_path / "elsewhere", 0o600)
        own_key.symlink_to(tmp_path / "elsewhere")
    key = sealed._key()
    assert key is not None and key != b"k" * sealed.KEY_BYTES
    assert not own_key.is_symlink() and own_key.read_bytes() == key
    assert stat.S_IMODE(own_key.stat().st_mode) == 0o600
