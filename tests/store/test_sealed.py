"""The caches a film carries are sealed: a planted pickle never runs, a damaged, foreign or
odd-shaped cache is a miss and is built again, and a key that cannot be kept only turns
caching off."""

from __future__ import annotations

import multiprocessing
import os
import pickle
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.e2e.film import make_film, vf
from tests.spec import write_film
from vfbuild.codesig import code_signature
from vfbuild.plan import states
from vfbuild.plan.states import SAVED_FORMAT, SavedStates
from vfbuild.project import Project
from vfbuild.spec import chunks
from vfbuild.spec.load import CACHE_FILE, _parse_quiet, load_film, load_film_cached
from vfbuild.store import sealed
from vfbuild.store.locks import CachedLock, LockBook, LockFile

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


def test_no_place_for_the_key_turns_caching_off(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The cache folder cannot be made (a file stands where it would be; chmod would not
    stop root): every read misses, nothing is written, nothing fails."""
    (tmp_path / "not-a-folder").write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "not-a-folder"))
    sealed._forget_key()
    try:
        assert sealed.seal(b"x", "k") is None and sealed.dumps(1, "k") is None
        assert sealed.loads(sealed.MAGIC + b"\0" * 40, "k") is None
        root = write_film(tmp_path / "film")
        assert load_film_cached(root) == load_film_cached(root) == load_film(root)
        LockBook(root).allocate_version("s010", "keyframe", "a" * 64)
        assert LockBook(root).version_of("s010", "keyframe", "a" * 64) == 1
        assert not (root / ".vf" / "cache").exists()
    finally:
        sealed._forget_key()


# --------------------------------------------------------------------------- each cache


def _read_film_cache(root: Path) -> None:
    assert load_film_cached(root) == load_film(root)


def _read_items_cache(root: Path) -> None:
    text = (root / "shots.yaml").read_text()
    assert chunks.parse(text, root, _parse_quiet) is not None


def _read_locks_cache(root: Path) -> None:
    assert LockBook(root).get("s010") is None


def _read_states_cache(root: Path) -> None:
    saved = SavedStates(Project.open(root))
    assert saved._load() == {}


READERS = {
    "film.pickle": _read_film_cache,
    "shots-items.pickle": _read_items_cache,
    "locks.pickle": _read_locks_cache,
    "states.pickle": _read_states_cache,
}


@pytest.mark.parametrize("name", CACHES)
def test_a_planted_cache_is_never_unpickled(tmp_path: Path, name: str) -> None:
    root = write_film(tmp_path / "film")
    (marker,) = plant(root, tmp_path, (name,))
    READERS[name](root)
    assert not marker.exists()


@pytest.mark.parametrize(
    "payload",
    [
        123,
        ("key", b"film", ["not", "a", "frozenset"], "tag"),
        ("key", b"film", frozenset(), None),
        (None, b"film", frozenset(), "tag"),
    ],
)
def test_a_film_cache_of_another_shape_is_a_miss_and_rewritten(
    tmp_path: Path, payload: object
) -> None:
    root = write_film(tmp_path)
    cache = root / CACHE_FILE
    cache.parent.mkdir(parents=True)
    cache.write_bytes(sealed.dumps(payload, CACHE_FILE.name) or b"")
    assert load_film_cached(root) == load_film(root)
    again = sealed.loads(cache.read_bytes(), CACHE_FILE.name)
    assert isinstance(again, tuple) and again != payload


@pytest.mark.parametrize(
    "payload",
    [
        ["items"],
        {"format": chunks.FORMAT, "items": ["x"]},
        {"format": chunks.FORMAT, "items": {1: {"id": "s010"}}},
        {"format": chunks.FORMAT + 1, "items": {}},
    ],
)
def test_an_items_cache_of_another_shape_is_a_miss(tmp_path: Path, payload: object) -> None:
    path = tmp_path / "items.pickle"
    path.write_bytes(sealed.dumps(payload, chunks.CACHE.name) or b"")
    assert chunks._read(path) == {}


@pytest.mark.parametrize(
    "payload",
    [
        "entries",
        {"format": SAVED_FORMAT, "entries": [1, 2]},
        {"format": SAVED_FORMAT, "entries": {"s010": (1,) * 8}},
        {"format": SAVED_FORMAT, "entries": {("s010", "keyframe", False): (1, 2)}},
        # the bare 8-tuples of the format before
        {"format": SAVED_FORMAT, "entries": {("s010", "keyframe", False): (1,) * 8}},
        {"format": SAVED_FORMAT - 1, "entries": {}},
    ],
)
def test_a_states_cache_of_another_shape_is_a_miss(payload: object) -> None:
    assert states._saved_entries(payload) == {}


def test_a_states_cache_of_its_own_shape_is_kept() -> None:
    entry = states.SavedState(*(1,) * len(states.SavedState._fields))
    entries = {("s010", "keyframe", False): entry}
    assert states._saved_entries({"format": SAVED_FORMAT, "entries": entries}) == entries


def test_a_locks_cache_of_another_shape_is_a_miss_and_the_lock_is_read(tmp_path: Path) -> None:
    LockBook(tmp_path).allocate_version("s010", "keyframe", "a" * 64)
    st = (tmp_path / "locks" / "s010.yaml").stat()
    cache = tmp_path / ".vf" / "cache" / "locks.pickle"
    sig = (st.st_size, st.st_mtime_ns)
    for entries in (
        {"s010": "not an entry"},
        ["s010"],
        {"code": code_signature(), "locks": {"s010": "not an entry"}},
        # the shape before: no code signature, bare tuples
        {"s010": (sig, pickle.dumps({"shot": "s010"}))},
        # the right stat signature, but what it holds is not a lock model
        {"code": code_signature(), "locks": {"s010": CachedLock(sig, pickle.dumps({"x": 1}))}},
    ):
        cache.write_bytes(sealed.dumps(entries, cache.name) or b"")
        lock = LockBook(tmp_path).get("s010")
        assert isinstance(lock, LockFile)
        assert lock.versions == {"keyframe": {"a" * 64: 1}}


# --------------------------------------------------------------------------- end to end


def test_a_film_that_carries_pickles_runs_none_of_them(tmp_path: Path) -> None:
    """`vf check`, `vf plan` and `vf build` of a film whose `.vf/cache/` holds a planted pickle
    under every cache's name: each runs to the end, no planted code runs, and the caches are
    built again, sealed."""
    film = make_film(tmp_path / "film")
    for command in ("check", "plan", "build"):
        markers = plant(film, tmp_path)
        vf(film, command)
        assert [m.name for m in markers if m.exists()] == [], command
    vf(film, "plan")  # the build's last step states are kept by the run after it
    for name in CACHES:
        blob = (film / ".vf" / "cache" / name).read_bytes()
        assert sealed.loads(blob, name) is not None, name
