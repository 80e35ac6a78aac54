"""The no-op stamp: a build that made nothing remembers the world it saw, so that the next
`vf build` with the same arguments can say "nothing to do" from a few thousand `stat`s, as make
does, without importing the spec models, loading the film or resolving a single step.

The world, as the stamp sees it:

- vfbuild itself: its sources (size and mtime of each file), and the mtime of every folder on
  `sys.path`: installing, upgrading or removing a package (ffmpeg's, PyAV, Pillow…) adds and
  removes entries there;
- the environment vfbuild reads (`VF_*`, `IMAGEIO_FFMPEG_EXE`, `XDG_CACHE_HOME`) and the
  providers and plugin steps registered in this process;
- every file of the film that is not an output (shots.yaml, prompts, references, workflows,
  locks, inbox, prices.yaml, audio…): size, mtime and inode, so an edit or a replaced file
  shows; and polished keyframes, which live among the outputs;
- every folder of the outputs (layout folders, the object store's shards, the journal, the
  recipe index's log): a no-op only asks whether output files are there, and a folder's mtime
  changes whenever a file in it is added, removed or renamed;
- every file of the layout (size, mtime and inode), for the answers that depend on the takes'
  bytes: a take changed in place leaves its folder's mtime alone, and the build that checks it
  must run (`plan.integrity`); a layout file is a hard link of its store object, so this sees
  the object changed in place too. Under `--frozen` the stat of every store object as well: it
  builds only from verified bytes. `vf status`, `vf plan` and `vf check` read only which takes
  are there (their folders' mtimes) and the polished keyframes, and their worlds stop there
  (`contents=False`): at 1000 shots that is 265 folders to stat instead of 14,488 files.

A file whose stat changed but whose bytes did not (touched, checked out again, saved unchanged)
does not cost the stamp: the stamp keeps the sha256 of every input file it saw, and when only
input files' stats differ, `replay` hashes those files and answers if each is what it was
(then writes the stamp again with their new stats, unless they changed too recently to trust).

A stamp is written only by a build that made nothing, failed nothing and waits for no file in
the inbox, when the world it sees at the end is the world it saw at the start and no file in
it changed in the last two seconds (a change within one tick of the clock could keep the same
mtime: git's "racy" case). A killed build (`build.running`) or any difference sends the build
down the usual road. The stamp is a cache: deleting it only costs time.
"""

from __future__ import annotations

import hashlib
import json
import marshal
import os
import sys
import time
from pathlib import Path
from typing import Any

from vfbuild.store import vfdir
from vfbuild.store.layout import (
    EDIT,
    EXPLORATION,
    FINAL,
    POLISHED_SUFFIX,
    PROMPTS_TXT,
    SELECTED,
    SOURCE_IMAGES,
    UPSCALED,
)
from vfbuild.store.ledger import LEDGER

FORMAT = 4  # 4: folders in the order they list, with or without their files' stats; marshalled
STAMP_FORMAT = 2  # the stamp file's own shape (2: with the inputs' stats and sha256)
STAMP = Path(vfdir.NOOP_STAMP)
PLAN_STAMP = Path(vfdir.PLAN_STAMP)  # what `vf plan` last said, the same way
STATUS_STAMP = Path(vfdir.STATUS_STAMP)  # and `vf status`
CHECK_STAMP = Path(vfdir.CHECK_STAMP)  # and that `vf check` passed
# Folders of the film that hold only what builds make (their files are not inputs).
OUTPUT_DIRS = tuple(
    dict.fromkeys(
        d.split("/")[0] for d in (SOURCE_IMAGES, EXPLORATION, SELECTED, FINAL, UPSCALED, EDIT)
    )
)
SKIPPED = frozenset({".git", vfdir.VF, ".hg", ".svn", "__pycache__"})
OUTPUT_FILES = frozenset({PROMPTS_TXT, LEDGER})  # appended by builds, read by none
ENV_PREFIXES = ("VF_", "IMAGEIO_FFMPEG_EXE", "XDG_CACHE_HOME")
RACY_SECONDS = 2.0
HASHED_MAX = 64 << 20  # larger inputs are not hashed: a change of their stat costs the stamp


def _stat(path: str) -> tuple[int, int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_size, st.st_mtime_ns, st.st_ino)


class World:
    """A digest of everything a no-op build's answer depends on (see the module's text)."""

    def __init__(
        self, root: Path, args: tuple[Any, ...], *, objects: bool = False, contents: bool = True
    ) -> None:
        self.root = str(root)
        self.contents = contents
        # Each input file's stat, by film-relative name; and the digest of all but those.
        self.inputs: dict[str, tuple[int, int, int] | None] = {}
        # (name, stat) of everything else, hashed once at the end: at 1000 shots that is
        # 14,000 layout files, and a hash update and a formatted line each cost more than
        # their stat did.
        self._seen: list[tuple[str, tuple[int, int, int] | None]] = []
        head = repr((FORMAT, args, contents, self._code(), self._env()))
        self._inputs(self.root, "")
        for d in OUTPUT_DIRS:
            self._outputs(os.path.join(self.root, d))
        # The store's shard folders hold only objects, the journal only entries: their own
        # mtimes say whether one came or went, without listing them.
        store = os.path.join(self.root, vfdir.OBJECTS)
        seen = self._seen
        for shard in [store, *_subfolders(store)]:
            seen.append((shard, _stat(shard)))
            if objects and shard != store:
                for name in _files(shard):
                    seen.append((name, _stat(os.path.join(shard, name))))
        for f in (vfdir.JOURNAL, vfdir.INDEX_LOG, vfdir.BUILD_RUNNING):
            seen.append((f, _stat(os.path.join(self.root, f))))
        # marshal's version 2 (no back-references, so equal lists give equal bytes): a third
        # of what repr cost for 14,000 entries.
        rest = marshal.dumps(seen, 2)
        self.base = hashlib.sha1(head.encode() + b"\0" + rest).hexdigest()
        inputs = marshal.dumps(sorted(self.inputs.items()), 2)
        self.digest = hashlib.sha1(head.encode() + b"\0" + inputs + b"\0" + rest).hexdigest()
        # The newest mtime seen, in ns (for the racy check).
        self.newest = max(
            (st[1] for st in [*self.inputs.values(), *(st for _, st in seen)] if st is not None),
            default=0,
        )

    def _code(self) -> str:
        from vfbuild.codesig import code_signature

        paths = [(p, _stat(p or ".")) for p in sys.path]
        return repr((code_signature(), [(p, st[1] if st else None) for p, st in paths]))

    def _env(self) -> str:
        env = sorted((k, v) for k, v in os.environ.items() if k.startswith(ENV_PREFIXES))
        from vfbuild import catalog

        names = []
        for name, info in sorted(catalog.REGISTRY.items()):
            f = info.factory
            names.append((name, f if isinstance(f, str) else f"{f.__module__}.{f.__qualname__}"))
        steps = sys.modules.get("vfbuild.steps")  # not imported: no plugin step either
        return repr((env, names, steps.plugins() if steps is not None else []))

    def _inputs(self, folder: str, rel: str) -> None:
        """Every file below `folder` but the outputs: size, mtime and inode, by name."""
        try:
            entries = list(os.scandir(folder))
        except OSError:
            return
        for e in entries:
            name = f"{rel}{e.name}"
            if e.name in SKIPPED or (not rel and (e.name in OUTPUT_DIRS or e.name in OUTPUT_FILES)):
                continue
            if e.is_dir():
                self._inputs(e.path, name + "/")
            else:
                self.inputs[name] = _stat(e.path)

    def _outputs(self, folder: str) -> None:
        """Each folder's mtime and the stat of each of its files, or only of its polished
        keyframes (inputs that live among the outputs) when the answer reads no take's bytes.
        In the order the folder lists: an unchanged folder lists alike, and a folder that
        lists otherwise only costs the stamp (at 1000 shots, sorting 14,000 names cost more
        than their stats)."""
        seen = self._seen
        stat = os.stat
        try:
            st = stat(folder)
        except OSError:
            seen.append((folder, None))
            return
        seen.append((folder, (st.st_size, st.st_mtime_ns, st.st_ino)))
        subfolders = []
        contents = self.contents
        try:
            with os.scandir(folder) as it:
                for e in it:
                    if e.is_dir(follow_symlinks=False):
                        subfolders.append(e.path)
                    elif contents or POLISHED_SUFFIX in e.name:
                        path = e.path
                        try:
                            st = stat(path)
                        except OSError:
                            seen.append((path, None))
                            continue
                        seen.append((path, (st.st_size, st.st_mtime_ns, st.st_ino)))
        except OSError:
            return
        for sub in subfolders:
            self._outputs(sub)


def _sha256(path: Path, size: int) -> str | None:
    if size > HASHED_MAX:
        return None
    try:
        with open(path, "rb") as f:
            return hashlib.file_digest(f, "sha256").hexdigest()
    except OSError:
        return None


def _files(folder: str) -> list[str]:
    try:
        with os.scandir(folder) as it:
            return sorted(e.name for e in it if not e.is_dir(follow_symlinks=False))
    except OSError:
        return []


def _subfolders(folder: str) -> list[str]:
    try:
        with os.scandir(folder) as it:
            return sorted(e.path for e in it if e.is_dir(follow_symlinks=False))
    except OSError:
        return []


def args_key(
    tier: str, frozen: bool, shots: list[str] | None, rough: str | None = None
) -> tuple[Any, ...]:
    key = (tier, frozen, tuple(shots or ()))
    return key if rough is None else (*key, ("rough", rough))


def replay(root: Path, world: World, stamp: Path = STAMP) -> Any:
    """What the last no-op build (or plan) answered (its report as plain data), if nothing
    changed since; else None. The caller checks the shape: a stamp is only a cache."""
    try:
        data = json.loads((root / stamp).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    if data.get("world") == world.digest:
        return data.get("data")
    if data.get("format") != STAMP_FORMAT or data.get("base") != world.base:
        return None
    kept = data.get("inputs")
    if not isinstance(kept, dict) or kept.keys() != world.inputs.keys():
        return None  # a file came or went
    for name, st in world.inputs.items():
        was = kept[name]
        if not (isinstance(was, list) and len(was) == 4) or st is None:
            return None
        if list(st) == was[:3]:
            continue
        # Touched: still the same bytes? (A changed size is a changed file.)
        if st[0] != was[0] or was[3] is None or _sha256(root / name, st[0]) != was[3]:
            return None
        was[:3] = st
    if time.time_ns() - world.newest >= RACY_SECONDS * 1e9:
        # The new stats are old enough to trust: the next answer costs no hashing.
        _write(root / stamp, world, kept, data.get("data"))
    return data.get("data")


def record(root: Path, before: World, after: World, data: Any, stamp: Path = STAMP) -> None:
    """Keep a no-op build's (or a plan's) answer, as JSON data, for the next one, if the world
    held still meanwhile."""
    path = root / stamp
    try:
        if before.digest != after.digest or time.time_ns() - after.newest < RACY_SECONDS * 1e9:
            path.unlink(missing_ok=True)
            return
        inputs: dict[str, Any] = {}
        for name, st in after.inputs.items():
            sha = None if st is None else _sha256(root / name, st[0])
            # Bytes read after a change the world did not see are not the bytes it saw.
            if sha is not None and _stat(os.path.join(root, name)) != st:
                sha = None
            inputs[name] = None if st is None else [*st, sha]
        _write(path, after, inputs, data)
    except OSError:
        pass  # a cache (a read-only film keeps none)


def _write(path: Path, world: World, inputs: dict[str, Any], data: Any) -> None:
    from vfbuild.fsutil import atomic_write_text

    record = {
        "format": STAMP_FORMAT,
        "world": world.digest,
        "base": world.base,
        "inputs": inputs,
        "data": data,
    }
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, json.dumps(record) + "\n")
    except OSError:
        pass  # a cache (a read-only film keeps none)
