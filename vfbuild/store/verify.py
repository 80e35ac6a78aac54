"""Is a stored or laid-out file still the artifact it was stored as? Cheaply, and what then.

- `ArtifactHashes`: the sha256 of store objects and layout files, remembered by inode, size and
  mtime_ns (as DVC's state does), so an unchanged file is never hashed twice and the hardlinks
  of one object (the object and its layout names) share one entry. A file changed in the last
  two seconds is hashed but not remembered: a change within one tick of the clock can keep its
  mtime (git's "racy" case), so it is hashed again next time.
- `set_aside`: a damaged file is never deleted: it is moved to `.vf/damaged/<its sha256><ext>`
  (a user may have edited a take in place), whence it can be taken back.
- a damaged object is put right from the film's remote cache by `store.repair`.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import Any

from vfbuild.fsutil import atomic_write_text, sha256_file
from vfbuild.store import vfdir

SETTLE_NS = 2_000_000_000  # a file this fresh is hashed each time (the racy case)


class ArtifactHashes:
    """sha256 by (device, inode), valid while size and mtime_ns are those it was hashed at."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._dirty = False
        try:
            loaded = json.loads(path.read_text())
        except (OSError, ValueError, RecursionError):  # only a cache: files are hashed again
            loaded = {}
        self._entries: dict[str, list[Any]] = loaded if isinstance(loaded, dict) else {}

    def sha256(self, file: Path | str, *, fresh: bool = False) -> str:
        """The file's sha256; `fresh` hashes it whatever the cache says (`vf verify`). A str
        path is for the full check's 14,000 layout files (a `Path` each costs more than the
        stat)."""
        st = os.stat(file)
        key = f"{st.st_dev}:{st.st_ino}"
        sig = [st.st_size, st.st_mtime_ns]
        if not fresh:
            with self._lock:
                hit = self._entries.get(key)
            if isinstance(hit, list) and len(hit) == 3 and hit[:2] == sig:
                return str(hit[2])
        digest = sha256_file(file)
        with self._lock:
            if time.time_ns() - st.st_mtime_ns > SETTLE_NS:
                self._entries[key] = [*sig, digest]
                self._dirty = True
            elif self._entries.pop(key, None) is not None:
                self._dirty = True
        return digest

    def forget(self, file: Path) -> None:
        try:
            st = file.stat()
        except OSError:
            return
        with self._lock:
            if self._entries.pop(f"{st.st_dev}:{st.st_ino}", None) is not None:
                self._dirty = True

    def save(self) -> None:
        with self._lock:
            if not self._dirty:
                return
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                atomic_write_text(self.path, json.dumps(self._entries))
            except OSError:
                return  # a cache (a read-only film keeps none)
            self._dirty = False


def set_aside(root: Path, file: Path, sha256: str, ext: str | None = None) -> str:
    """Move a damaged `file` (whose bytes hash to `sha256`) out of the way, keeping it as
    `.vf/damaged/<sha256><ext>` (`ext`: the file's own, or the media's for a store object);
    returns that film-relative name."""
    rel = f"{vfdir.DAMAGED}/{sha256}{file.suffix if ext is None else ext}"
    dest = vfdir.at(root, rel)
    dest.parent.mkdir(parents=True, exist_ok=True)
    if dest.exists():
        file.unlink()  # the same bytes are kept already
    else:
        os.replace(file, dest)
    return rel
