"""Done step states of a film's shots, kept between runs in `.vf/cache/states.pickle`.

Working out a step's state means composing prompts, building every take's recipe and hashing
it: a no-op build of 1000 shots did that for 10,000 takes each time. See `SavedStates`, and
`vfbuild.store.vfdir` for this cache among the others.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import os
import pickle
import threading
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

from vfbuild import steps
from vfbuild.codesig import code_signature
from vfbuild.project import Project
from vfbuild.providers.base import InputFiles
from vfbuild.steps import Job, Resolution, StepState
from vfbuild.store import layout, sealed, vfdir

SAVED_FORMAT = 3  # 3: named records (`SavedState`, `SavedJob`), no longer bare tuples

StateKey = tuple[str, str, bool]  # (shot, step, frozen)


class SavedJob(NamedTuple):
    """One take of a saved state: its `Job` but the recipe (which `_Heavy` holds)."""

    name: str
    step: str
    take: int
    key: str
    version_key: str
    version: int | None
    ext: str
    pinned_sha256: str | None
    picked: bool
    seconds: float | None
    from_spec: bool

    def job(self, heavy: _Heavy | None, i: int) -> Job:
        """The `Job` this take was, its recipe read from `heavy` (its i-th) when asked."""
        job = Job.__new__(Job)
        job.__dict__.update(self._asdict())
        if heavy is not None:
            job.__dict__["_heavy"] = (heavy, i)
        return job


class SavedState(NamedTuple):
    """A done step state as the cache keeps it, under the fingerprint it was worked out at.

    What every no-op reads of every state (the fingerprint, the done check's keys and files)
    is plain data here; its jobs are pickled apart, unpickled only when asked for (a no-op of
    1000 shots asks for 1,000 of 10,200: the edit's), so loading the cache makes one record
    per state, not one per take."""

    fingerprint: tuple[Any, ...]
    status: str
    reasons: list[str]
    notes: list[str]
    rough: list[str]
    polished: str | None
    takes: tuple[tuple[str, str], ...]  # each take's (recipe key, artifact sha256)
    targets: tuple[str, ...]  # every layout file of its takes
    jobs: bytes  # its `SavedJob`s, pickled
    heavy: bytes  # its jobs' recipes and its inputs, pickled (see `_Heavy`)


class _Heavy:
    """The recipes and input files of a saved state, unpickled only if someone reads them."""

    __slots__ = ("blob", "data")

    def __init__(self, blob: bytes) -> None:
        self.blob = blob
        self.data: tuple[list[dict[str, Any]], InputFiles] | None = None

    def get(self) -> tuple[list[dict[str, Any]], InputFiles]:
        if self.data is None:
            # Safe: part of an entry whose seal verified and whose fingerprint (which holds the
            # code signature) matched, so written by this very code (see `SavedStates._load`).
            self.data = pickle.loads(self.blob)
        return self.data


class SavedStates:
    """Done step states of a film's shots, kept in `.vf/cache/states.pickle` between runs.

    Working out a step's state means composing prompts, building every take's recipe and
    hashing it: a no-op build of 1000 shots did that for 10,000 takes each time. A saved state
    is used instead when its fingerprint is unchanged: the vfbuild sources, the providers
    (name, model, engine of every step), the film's settings, providers and characters, the
    shot's own spec, the stat of every input file it names, its polished keyframes and its lock
    file. It must still be done: every take's recipe key still in the index with the same
    artifact, the object in the store, and every layout file in place (a stat each, as a full
    resolution would). Only done states are kept; the film's edit is always worked out (from
    the shots' states, so it is cheap). A missing or corrupt file is only a cache.
    """

    def __init__(self, project: Project) -> None:
        self.p = project
        self.path = vfdir.at(project.root, vfdir.STATES)
        self._entries: dict[StateKey, SavedState] | None = None
        self._box: dict[str, Any] = {"dirty": False, "entries": None}
        self._lock = threading.Lock()
        # Saved when this object is collected or at exit; the callback must not hold `self`.
        weakref.finalize(
            self, _save_entries, self.path, self._box, frozenset(project.film.shot_map), self._lock
        )
        self._context: str | None = None
        self._shots: dict[str, tuple[Any, ...]] = {}
        self._stats: dict[str, tuple[int, int, int] | None] = {}
        self._polished: set[str] | None = None

    # -- fingerprints ----------------------------------------------------------------------

    def fingerprint(self, resolver: Resolution, name: str) -> tuple[Any, ...] | None:
        """What a shot's step states are a function of, or None when it cannot be told."""
        static = self._shots.get(name)
        if static is None:
            shot = self.p.film.shot_map.get(name)
            if shot is None:
                return None
            try:
                context = self._film_context(resolver)
            except Exception:  # noqa: BLE001 - e.g. a provider that cannot start: no cache
                return None
            from vfbuild.spec.load import shot_file_names

            root = str(self.p.root)
            files = tuple(
                (f, self._stat(f"{root}/{f}")) for f in shot_file_names(self.p.film, shot)
            )
            digest = hashlib.sha1(shot.model_dump_json().encode("utf-8")).hexdigest()
            polished = tuple(
                (n, self._stat(os.path.join(root, layout.SOURCE_IMAGES, n)))
                for n in self._user_files(name)
            )
            linked = tuple(
                dict.fromkeys(
                    o
                    for st in steps.shot_steps(self.p.film, shot)
                    for o, _ in st.links(self.p.film, shot)
                )
            )
            static = (context, digest, files, polished, linked)
            self._shots[name] = static
        if static[4]:  # continuity: its steps read other shots' picks and outputs
            sigs = tuple(self.p.locks.signature(o) for o in static[4])
            return (static, self.p.locks.signature(name), sigs)
        return (static, self.p.locks.signature(name))

    def _stat(self, path: str) -> tuple[int, int, int] | None:
        if path not in self._stats:
            try:
                st = os.stat(path)
                self._stats[path] = (st.st_size, st.st_mtime_ns, st.st_ino)
            except OSError:
                self._stats[path] = None
        return self._stats[path]

    def _user_files(self, name: str) -> list[str]:
        """The files in 01_Source_Images that the shot's steps read (polished keyframes)."""
        if self._polished is None:
            # Only names of a user's files matter: listing them once keeps 1000 shots cheap.
            self._polished = {n for n in self.p.source_images if layout.POLISHED_SUFFIX in n}
        if not self._polished:
            return []
        return [f for st in steps.registered() for f in st.fingerprint_files(name, self._polished)]

    def _film_context(self, resolver: Resolution) -> str:
        if self._context is None:
            film = self.p.film
            h = hashlib.sha1(f"{SAVED_FORMAT}\0{self.p.root}\0".encode())
            h.update(code_signature().encode())
            h.update(film.film.model_dump_json().encode())
            h.update(film.providers.model_dump_json().encode())
            for cname in sorted(film.characters):
                h.update(f"{cname}={film.characters[cname].model_dump_json()}".encode())
            for declared in steps.registered():
                if declared.scope != "shot":
                    continue
                step = declared.name
                for tier in steps.TIERS:
                    made = resolver.made_by(step, tier)
                    h.update(repr(sorted(made.items())).encode())
                h.update(self.p.provider(step).ext(step).encode())
                choice = resolver.choice(step)
                if choice is not None:
                    for wf in {
                        choice.workflow,
                        *(choice.tier(t).get("workflow") for t in steps.TIERS),
                    }:
                        if wf:
                            h.update(
                                repr(
                                    (wf, self._stat(os.path.join(str(self.p.root), str(wf))))
                                ).encode()
                            )
            self._context = h.hexdigest()
        return self._context

    # -- entries ---------------------------------------------------------------------------

    def _load(self) -> dict[StateKey, SavedState]:
        if self._entries is None:
            with self._lock:
                if self._entries is None:
                    try:
                        with _gc_paused():  # a big graph of small tuples: gc only slows it
                            data = sealed.load(self.path, self.path.name)
                        entries = _saved_entries(data)
                    except Exception:  # noqa: BLE001 - a missing or corrupt cache is only a cache
                        entries = {}
                    self._entries = entries
                    self._box["entries"] = entries
        return self._entries

    def get(
        self, resolver: Resolution, key: StateKey, fingerprint: tuple[Any, ...] | None
    ) -> StepState | None:
        if fingerprint is None:
            return None
        entries = self._load()
        entry = entries.get(key)
        if entry is None:
            return None
        if entry.fingerprint != fingerprint or not self._still_done(resolver, entry):
            with self._lock:
                entries.pop(key, None)
                self._box["dirty"] = True
            return None
        return _thaw(key, entry)

    def _still_done(self, resolver: Resolution, entry: SavedState) -> bool:
        """Every take's key still maps to the same artifact, its object is in the store and
        its layout files are in place (as `job_done` would find)."""
        p = self.p
        lookup, has_object = p.index.lookup, p.has_object
        for key, sha256 in entry.takes:
            art = lookup(key)
            if art is None or art.sha256 != sha256 or not has_object(sha256):
                return False
        has_file = p.has_file
        return all(has_file(t) for t in entry.targets)

    def put(self, key: StateKey, fingerprint: tuple[Any, ...], state: StepState) -> None:
        saved_jobs, takes, targets = [], [], []
        title = self.p.film.film.title
        for j in state.jobs:
            art = self.p.index.lookup(j.key)
            if art is None or j.version is None:
                return  # not done after all (another thread): keep nothing
            saved_jobs.append(
                SavedJob(j.name, j.step, j.take, j.key, j.version_key, j.version, j.ext,
                         j.pinned_sha256, j.picked, j.seconds, j.from_spec)
            )  # fmt: skip
            takes.append((j.key, art.sha256))
            targets += j.targets(title, j.version)
        heavy = pickle.dumps(
            ([j.recipe for j in state.jobs], state.inputs), protocol=pickle.HIGHEST_PROTOCOL
        )
        entry = SavedState(
            fingerprint, state.status, list(state.reasons), list(state.notes),
            list(state.rough), state.polished, tuple(takes), tuple(targets),
            pickle.dumps(saved_jobs, protocol=pickle.HIGHEST_PROTOCOL), heavy,
        )  # fmt: skip
        entries = self._load()
        with self._lock:
            entries[key] = entry
            self._box["dirty"] = True

    def save(self) -> None:
        """Write the kept states now if anything changed (also done at exit)."""
        _save_entries(self.path, self._box, frozenset(self.p.film.shot_map), self._lock)


def _save_entries(
    path: Path, box: dict[str, Any], live: frozenset[str], lock: threading.Lock
) -> None:
    """Write the states of shots still in the film; never fsynced (it is a cache)."""
    with lock:
        if not box["dirty"] or box["entries"] is None:
            return
        entries = {k: v for k, v in box["entries"].items() if k[0] in live}
        box["dirty"] = False
    blob = sealed.dumps({"format": SAVED_FORMAT, "entries": entries}, path.name)
    if blob is None:
        return  # caching is off
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_bytes(blob)
        os.replace(tmp, path)
    except OSError:
        pass


def _saved_entries(data: object) -> dict[StateKey, SavedState]:
    """The entries of a verified states cache, or none when it is not of the shape `put` and
    `_save_entries` write (another vfbuild's): the keys and the parts `get` reads before it
    compares fingerprints. An entry whose fingerprint matches was written by this code."""
    if not isinstance(data, dict) or data.get("format") != SAVED_FORMAT:
        return {}
    entries = data.get("entries")
    if not isinstance(entries, dict):
        return {}
    for k, v in entries.items():
        if not (type(k) is tuple and len(k) == 3 and type(k[0]) is str and type(v) is SavedState):
            return {}
    return entries


def _thaw(key: StateKey, entry: SavedState) -> StepState:
    heavy = _Heavy(entry.heavy)
    state = StepState.__new__(StepState)
    d = state.__dict__
    d["name"], d["step"], d["status"] = key[0], key[1], entry.status
    d["reasons"], d["notes"], d["rough"], d["polished"] = (
        list(entry.reasons),
        list(entry.notes),
        list(entry.rough),
        entry.polished,
    )
    d["_heavy"] = heavy
    blob = entry.jobs
    d["_thaw_jobs"] = lambda: _thaw_jobs(blob, heavy)
    return state


def _thaw_jobs(blob: bytes, heavy: _Heavy) -> list[Job]:
    # Safe: part of an entry whose seal verified and whose fingerprint matched (see `_Heavy`).
    saved: list[SavedJob] = pickle.loads(blob)
    return [s.job(heavy, i) for i, s in enumerate(saved)]


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """No cyclic GC while a large cache is unpickled (it only rescans the new objects)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def saved_states(project: Project) -> SavedStates:
    """The project's saved states, made on first use (written when it is collected or at
    exit)."""
    saved = project.plan_caches.get("saved_states")
    if saved is None:
        with project.plan_caches_lock:
            saved = project.plan_caches.get("saved_states")
            if saved is None:
                saved = project.plan_caches["saved_states"] = SavedStates(project)
    assert isinstance(saved, SavedStates)
    return saved
