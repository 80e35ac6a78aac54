"""sha256 of the film's input files, remembered by stat so a no-op build re-hashes nothing."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

from vfbuild.fsutil import atomic_write_text, sha256_file


class HashCache:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._dirty = False
        try:
            loaded = json.loads(path.read_text())
        except (OSError, ValueError, RecursionError):  # only a cache: files are hashed again
            loaded = {}
        self._entries: dict[str, list[Any]] = loaded if isinstance(loaded, dict) else {}

    def sha256(self, file: Path) -> str:
        st = file.stat()
        sig = [st.st_size, st.st_mtime_ns, st.st_ino]
        key = str(file)
        with self._lock:
            hit = self._entries.get(key)
            if isinstance(hit, list) and len(hit) == 4 and hit[:3] == sig and _digest(hit[3]):
                return str(hit[3])
        digest = sha256_file(file)
        with self._lock:
            self._entries[key] = [*sig, digest]
            self._dirty = True
        return digest

    def save(self) -> None:
        with self._lock:
            if not self._dirty:
                return
            self.path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_text(self.path, json.dumps(self._entries))
            self._dirty = False


def _digest(value: object) -> bool:
    return (
        isinstance(value, str) and len(value) == 64 and all(c in "0123456789abcdef" for c in value)
    )
