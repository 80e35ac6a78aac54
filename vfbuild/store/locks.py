"""`locks/<shot>.yaml`: the human picks, and the versions and outputs the build recorded.

`picks` change only through `vf pick`; the build never edits them. `versions` gives each new
step recipe its v001, v002, … so every clone agrees; `outputs` pins the artifact of each
single-output step (final, upscale, lipsync, and the film's edit in `locks/_film.yaml`), which
is what `vf build --frozen` reproduces and checks.

Reads use a reader of the layout vfbuild writes (`lockread`), else the safe loader, cached
by stat; writes use the round-trip loader, so a user's comments and key order survive.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import pickle
import re
import threading
from pathlib import Path
from typing import Annotated, Any, NamedTuple

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from vfbuild import safeyaml
from vfbuild.codesig import code_signature
from vfbuild.errors import LockError
from vfbuild.fsutil import atomic_write_bytes, atomic_write_text, escape_reason
from vfbuild.store import lockread, sealed, vfdir

LOCK_SCHEMA = 1
LOCKS_DIR = "locks"
FILM_LOCK = "_film"  # shot ids cannot start with "_", so this never collides
FIX_HINT = "fix it by hand, or `git checkout` it"

# What a lock holds is read as data and as paths into the store and the film: a digest is
# 64 hex digits (a store path is made of it), a file stays inside the film.
_SHA256 = r"^[0-9a-f]{64}$"
# Every recipe has these (`vfbuild.recipe.make_recipe`), and providers read them.
RECIPE_FIELDS: dict[str, type | tuple[type, ...]] = {
    "format": int,
    "step": str,
    "provider": str,
    "model": str,
    "engine": dict,
    "tier": (str, type(None)),
    "settings": dict,
    "prompt": (str, type(None)),
    "negative": (str, type(None)),
    "seed": (int, type(None)),
    "take": int,
    "inputs": dict,
}


def _film_relative(value: str) -> str:
    escape = escape_reason(value)
    if escape is not None:
        raise ValueError(
            f"the file '{value}' {escape}: a lock names only files inside the film folder"
        )
    return value


def _recipe(value: dict[str, Any]) -> dict[str, Any]:
    missing = [k for k in RECIPE_FIELDS if k not in value]
    if missing:
        raise ValueError(f"the recipe is missing {', '.join(missing)} (a cut or edited lock?)")
    for name, kind in RECIPE_FIELDS.items():
        if not isinstance(value[name], kind) or isinstance(value[name], bool):
            raise ValueError(f"the recipe's {name} has the wrong type")
    odd = _not_json(value)
    if odd is not None:  # a recipe's key is the sha256 of its JSON
        raise ValueError(f"the recipe holds {odd}, which a recipe never does")
    for sha in _strings(value["inputs"]):
        if not re.fullmatch(_SHA256, sha):
            raise ValueError(f"the recipe's inputs hold '{sha[:40]}', not a sha256")
    return value


def _strings(value: Any) -> list[str]:
    """Every string inside `value` (inputs are digests, or lists and maps of them)."""
    found: list[str] = []
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, str):
            found.append(v)
        elif isinstance(v, dict):
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)
    return found


def _not_json(value: Any) -> str | None:
    """What in `value` is not plain JSON data (YAML can also give bytes, dates, NaN), or None."""
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, dict):
            if not all(isinstance(k, str) for k in v):
                return "a key that is not text"
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)
        elif isinstance(v, float) and not math.isfinite(v):
            return f"the number {v}"
        elif not (v is None or isinstance(v, str | int | float)):
            return f"a {type(v).__name__} value"
    return None


FilmFile = Annotated[str, AfterValidator(_film_relative)]
Sha256 = Annotated[str, Field(pattern=_SHA256)]
Recipe = Annotated[dict[str, Any], AfterValidator(_recipe)]


class Polished(BaseModel):
    model_config = ConfigDict(extra="forbid")
    file: FilmFile = Field(description="The user's polished version of the picked take.")
    sha256: Sha256


class Pick(BaseModel):
    """A human choice of one take of a step."""

    model_config = ConfigDict(extra="forbid")
    version: int = Field(ge=1)
    take: int = Field(ge=1)
    key: Sha256 = Field(description="Recipe key (sha256 of the canonical recipe) of the take.")
    sha256: Sha256 = Field(description="sha256 of the picked artifact.")
    file: FilmFile = Field(description="Where the take stands in the versioned layout.")
    recipe: Recipe = Field(description="The whole recipe, so a clone can remake the take.")
    polished: Polished | None = None
    made_by: str | None = Field(
        None, description="The fallback provider and model that made it, when not the recipe's."
    )


class Output(BaseModel):
    """The artifact the build made for a single-output step."""

    model_config = ConfigDict(extra="forbid")
    version: int = Field(ge=1)
    key: Sha256
    sha256: Sha256
    file: FilmFile
    recipe: Recipe
    made_by: str | None = Field(
        None, description="The fallback provider and model that made it, when not the recipe's."
    )


class LockFile(BaseModel):
    """One shot's lock file (`locks/<shot>.yaml`), or the film's (`locks/_film.yaml`)."""

    model_config = ConfigDict(extra="forbid")
    schema_: int = Field(LOCK_SCHEMA, alias="schema", description="Lock format version.")
    shot: str
    picks: dict[str, Pick] = Field(default_factory=dict)
    versions: dict[str, dict[str, int]] = Field(
        default_factory=dict, description="Per step: step recipe key → version number."
    )
    outputs: dict[str, Output] = Field(default_factory=dict)


HEADER = (
    "# vfbuild lock for {shot}. `picks` change only through `vf pick`;\n"
    "# `versions` and `outputs` are recorded by `vf build` so every clone agrees. Track in git.\n"
)


class CachedLock(NamedTuple):
    """One lock file in `.vf/cache/locks.pickle` (see `vfbuild.store.vfdir`)."""

    sig: tuple[int, int]  # the lock file's size and mtime_ns when it was read
    blob: bytes  # its LockFile, pickled: unpickled only when something asks for it


def _sig(st: os.stat_result) -> tuple[int, int, int]:
    return (st.st_size, st.st_mtime_ns, st.st_ino)


_YAMLS = threading.local()


def _yaml(kind: str):  # type: ignore[no-untyped-def]
    """This thread's ruamel loader/dumper of `kind`, made once: making one globs ruamel's
    package folder for plug-ins (~0.85 ms), and every take a build makes updates its lock.
    One per thread: a YAML instance keeps state while it loads or dumps."""
    y = getattr(_YAMLS, kind, None)
    if y is None:
        from ruamel.yaml import YAML

        y = YAML(typ=kind, pure=False) if kind == "safe" else YAML()
        y.width = 4096  # long prompts stay on one line: diffs stay readable
        setattr(_YAMLS, kind, y)
    return y


def _data(text: str) -> Any:
    """A lock text's data: by the fast reader when vfbuild laid it out, else ruamel's."""
    data = lockread.load(text)
    return data if data is not None else _yaml("safe").load(text)


class LockBook:
    """All lock files of a film, read once (stat-cached) and written one at a time."""

    def __init__(self, film_root: Path) -> None:
        self.root = film_root
        self.dir = film_root / LOCKS_DIR
        self._cache_path = vfdir.at(film_root, vfdir.LOCKS_CACHE)
        self._locks: dict[str, LockFile] = {}
        # Each lock file's model, pickled, until something asks for it: a no-op build of a
        # 1000-shot film whose step states are known (see `Resolver`) reads no lock at all.
        self._blobs: dict[str, bytes] = {}
        self._sigs: dict[str, tuple[int, int, int]] = {}  # size, mtime_ns, inode of each file
        self._write_lock = threading.Lock()
        self.generation = 0  # counts writes: what was resolved from the locks before is stale
        # The round-trip document of each lock file this process last wrote, with the file's
        # stat signature then: the next write to it (a build records a version, then an output,
        # for each step) skips re-reading it, the costly half of a round trip.
        self._docs: dict[str, tuple[tuple[int, int, int], Any]] = {}
        self._written: set[str] = set()  # locks this process wrote (see `save_cache`)
        self._load_all()

    def path(self, name: str) -> Path:
        return self.dir / f"{name}.yaml"

    def _load_all(self) -> None:
        # A missing, foreign (unsealed), damaged or odd-shaped cache is only a cache: a miss.
        cached = _cache_entries(sealed.load(self._cache_path, self._cache_path.name))
        known = {} if cached is None else cached
        fresh: dict[str, CachedLock] = {}
        try:
            entries = list(os.scandir(self.dir))
        except (FileNotFoundError, NotADirectoryError):
            entries = []
        for entry in entries:
            name = entry.name
            if not name.endswith(".yaml") or name.startswith(".") or not entry.is_file():
                continue
            stem = name[: -len(".yaml")]
            st = entry.stat()
            sig = (st.st_size, st.st_mtime_ns)
            self._sigs[stem] = (st.st_size, st.st_mtime_ns, st.st_ino)
            hit = known.get(stem)
            if hit is not None and hit.sig == sig:
                fresh[stem] = hit
            else:
                lock = self._parse(Path(entry.path))
                self._locks[stem] = lock
                fresh[stem] = CachedLock(sig, pickle.dumps(lock, protocol=pickle.HIGHEST_PROTOCOL))
        self._blobs = {k: v.blob for k, v in fresh.items()}
        if (
            cached is None
            or fresh.keys() != known.keys()
            or any(known[k].sig != fresh[k].sig for k in fresh)
        ):
            self._write_cache(fresh)

    def save_cache(self) -> None:
        """Put the locks this process wrote in the cache: otherwise the next run (a no-op
        after a build) parses each of them again, ~12 ms of YAML and validation per lock."""
        with self._write_lock:
            if not self._written:
                return
            entries: dict[str, CachedLock] = {}
            for stem, sig in self._sigs.items():
                blob: bytes | None
                if stem in self._written:
                    blob = pickle.dumps(self._locks[stem], protocol=pickle.HIGHEST_PROTOCOL)
                    self._blobs[stem] = blob
                else:
                    blob = self._blobs.get(stem)
                if blob is not None:
                    entries[stem] = CachedLock((sig[0], sig[1]), blob)
            self._write_cache(entries)
            self._written.clear()

    def _write_cache(self, entries: dict[str, CachedLock]) -> None:
        blob = sealed.dumps({"code": code_signature(), "locks": entries}, self._cache_path.name)
        if blob is None:
            return  # caching is off
        with contextlib.suppress(OSError):  # a cache: a read-only film only loads slower
            self._cache_path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(self._cache_path, blob)

    def _get(self, name: str) -> LockFile | None:
        lock = self._locks.get(name)
        if lock is None:
            blob = self._blobs.get(name)
            if blob is not None:
                thawed = _thaw_lock(blob)
                if thawed is None:
                    thawed = self._parse(self.path(name))
                lock = self._locks.setdefault(name, thawed)
        return lock

    def signature(self, name: str) -> tuple[int, int, int] | None:
        """Size, mtime and inode of a lock file as this process last saw or wrote it (None:
        no such lock): what a cached result worked out from this lock is keyed by."""
        return self._sigs.get(name)

    def _parse(self, path: Path) -> LockFile:
        from pydantic import ValidationError
        from ruamel.yaml.error import YAMLError

        text = read_lock_text(path)
        try:
            # A lock as vfbuild writes it is read without ruamel; any other, and errors, by it.
            return LockFile.model_validate(_data(text) or {})
        except YAMLError as e:
            mark = getattr(e, "problem_mark", None)
            where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
            raise LockError(f"{where}: lock file is not valid YAML", hint=FIX_HINT) from None
        except ValidationError as e:
            raise LockError(_invalid(e, text, path), hint=FIX_HINT) from None

    def get(self, name: str) -> LockFile | None:
        return self._get(name)

    def pick(self, shot: str, step: str) -> Pick | None:
        lock = self._get(shot)
        return lock.picks.get(step) if lock else None

    def output(self, name: str, step: str) -> Output | None:
        lock = self._get(name)
        return lock.outputs.get(step) if lock else None

    def version_of(self, name: str, step: str, step_key: str) -> int | None:
        lock = self._get(name)
        return lock.versions.get(step, {}).get(step_key) if lock else None

    # -- writes ---------------------------------------------------------------------------

    def allocate_version(self, name: str, step: str, step_key: str) -> int:
        """The version of a step recipe: the recorded one, or the next unused number."""
        with self._write_lock:
            known = self.version_of(name, step, step_key)
            if known is not None:
                return known
            lock = self._get(name)
            used = lock.versions.get(step, {}).values() if lock else ()
            version = max(used, default=0) + 1
            if not self._add_version(name, step, step_key, version):
                self._update(name, ["versions", step, step_key], version)
            return version

    def set_output(self, name: str, step: str, output: Output) -> None:
        with self._write_lock:
            current = self.output(name, step)
            if current == output:
                return
            self._update(name, ["outputs", step], output.model_dump(exclude_none=True))

    def set_pick(self, shot: str, step: str, pick: Pick) -> None:
        with self._write_lock:
            self._update(shot, ["picks", step], pick.model_dump(exclude_none=True))

    def _add_version(self, name: str, step: str, step_key: str, version: int) -> bool:
        """Record a new version by adding its line where the round trip would put it: a
        round trip of a lock is ~15 ms of pure-Python YAML, and a build records one per step,
        while other takes wait to submit. Used only when the result loads as exactly the old
        lock plus that entry; otherwise (a lock laid out by hand, a new lock) returns False."""
        path = self.path(name)
        try:
            old = read_lock_text(path)
        except LockError:
            return False  # the round trip says what is wrong with it
        text = _with_version_line(old, step, step_key, version)
        if text is None:
            return False
        try:
            before, after = _data(old), _data(text)
            before["versions"].setdefault(step, {})[step_key] = version
        except Exception:  # YAML errors, or not the mappings a lock holds: the round trip decides
            return False
        if before != after:
            return False
        atomic_write_text(path, text)
        self._wrote(name, LockFile.model_validate(after), None)  # a round trip reads it again
        return True

    def _update(self, name: str, keys: list[str], value: Any) -> None:
        """Set one nested key in a lock file, keeping the rest of the file as the user left it."""
        path = self.path(name)
        y = _yaml("rt")
        try:
            st = path.stat()
        except FileNotFoundError:
            st = None
        cached = self._docs.pop(name, None)
        if st is not None and cached is not None and cached[0] == _sig(st):
            doc = cached[1]
        elif st is not None:
            from ruamel.yaml.error import YAMLError

            try:
                doc = y.load(read_lock_text(path))
            except YAMLError as e:
                mark = getattr(e, "problem_mark", None)
                where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
                raise LockError(f"{where}: lock file is not valid YAML", hint=FIX_HINT) from None
        else:
            from ruamel.yaml.comments import CommentedMap

            doc = CommentedMap()
            doc.yaml_set_start_comment(HEADER.format(shot=name).rstrip("\n").replace("# ", "", 1))
            doc["schema"] = LOCK_SCHEMA
            doc["shot"] = name
        node = doc
        for k in keys[:-1]:
            if k not in node or node[k] is None:
                node[k] = {}
            node = node[k]
        node[keys[-1]] = value
        buf = io.StringIO()
        y.dump(doc, buf)
        text = buf.getvalue()
        lock = LockFile.model_validate(_data(text))
        self.dir.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, text)
        self._wrote(name, lock, doc)

    def _wrote(self, name: str, lock: LockFile, doc: Any) -> None:
        """What this process knows of a lock file it has just written: its stat, its model,
        and its round-trip document (`doc`, None if it has none)."""
        sig = _sig(self.path(name).stat())
        if doc is None:
            self._docs.pop(name, None)
        else:
            self._docs[name] = (sig, doc)
        self._sigs[name] = sig
        self._locks[name] = lock
        self._written.add(name)
        self.generation += 1


def _with_version_line(text: str, step: str, key: str, version: int) -> str | None:
    """`text` with `<key>: <version>` added at the end of `versions:` → `<step>:`, as the
    round trip writes it (block style, two-space indents), or None if there is no such block."""
    lines = text.splitlines(keepends=True)
    if not lines or not lines[-1].endswith("\n") or "versions:\n" not in lines:
        return None
    start = lines.index("versions:\n") + 1
    end = start
    while end < len(lines) and lines[end].startswith("  "):
        end += 1
    entry = f"    {key}: {version}\n"
    head = f"  {step}:\n"
    if head in lines[start:end]:
        at = lines.index(head, start, end) + 1
        while at < end and lines[at].startswith("    "):
            at += 1
        lines.insert(at, entry)
    else:
        lines[end:end] = [head, entry]
    return "".join(lines)


def _cache_entries(data: object) -> dict[str, CachedLock] | None:
    """The entries of a verified locks cache, or None when it is not of the shape
    `_write_cache` writes or was written by other code (whose lock models may differ)."""
    if not isinstance(data, dict) or data.get("code") != code_signature():
        return None
    locks = data.get("locks")
    if not isinstance(locks, dict):
        return None
    for stem, v in locks.items():
        if not (type(stem) is str and type(v) is CachedLock and type(v.sig) is tuple):
            return None
        if type(v.blob) is not bytes:
            return None
    return locks


def _thaw_lock(blob: bytes) -> LockFile | None:
    """A lock model from the cache (safe to unpickle: part of a payload whose seal verified),
    or None when it is not one (written by a vfbuild whose models differ)."""
    try:
        lock = pickle.loads(blob)
    except Exception:  # noqa: BLE001 - only a cache: the lock file is parsed instead
        return None
    return lock if isinstance(lock, LockFile) else None


def read_lock_text(path: Path) -> str:
    """A lock file's text, refused with its place when it is not UTF-8 or breaks the bounds
    every film YAML file keeps (`vfbuild.safeyaml`)."""
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise LockError(f"{path}: cannot read the lock file: {e.strerror}", hint=FIX_HINT) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        col = e.start - (raw.rfind(b"\n", 0, e.start) + 1) + 1
        raise LockError(
            f"{path}:{line}:{col}: lock file is not valid UTF-8 text", hint=FIX_HINT
        ) from None
    bound = safeyaml.problem(text, path)
    if bound is not None:
        raise LockError(f"{bound.location}: {bound.message}", hint=FIX_HINT) from None
    return text


def _invalid(error: Any, text: str, path: Path) -> str:
    """Every problem pydantic found in a lock, each at its `file:line:col`."""
    from vfbuild.spec.issues import Issue
    from vfbuild.spec.positions import locate

    issues = []
    for err in error.errors():
        loc = tuple(err["loc"])
        where = ".".join(str(x) for x in loc) or "the top level"
        msg = str(err["msg"]).removeprefix("Value error, ")
        issues.append(Issue(loc, f"lock file is invalid at {where}: {msg}"))
    return "\n".join(p.render() for p in locate(issues, text, path))
