"""Content-addressed, immutable artifacts in `.vf/objects/<aa>/<sha256>`.

An object is written once, by renaming a fully written and hashed temp file into place, and
is made read-only so a tool editing a hardlinked copy in the layout cannot change it.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from vfbuild.errors import StoreError
from vfbuild.fsutil import fsync_dir, sha256_file


@dataclass(frozen=True)
class Artifact:
    """An output file in the store: its hash, its media extension and size in bytes."""

    sha256: str
    ext: str
    size: int


class ObjectStore:
    def __init__(self, root: Path) -> None:
        self.root = root  # the film's `.vf/objects`

    def path(self, sha256: str) -> Path:
        return self.root / sha256[:2] / sha256

    def has(self, sha256: str) -> bool:
        return self.path(sha256).is_file()

    def put(self, src: Path, ext: str, *, expected_sha256: str | None = None) -> Artifact:
        """Move `src` (a finished temp file on the same filesystem) into the store.

        `src` is consumed either way. When `expected_sha256` is given and the bytes differ, the
        file is not stored and StoreError says so.
        """
        with open(src, "rb") as f:
            os.fsync(f.fileno())
        digest = sha256_file(src)
        size = src.stat().st_size
        if expected_sha256 is not None and digest != expected_sha256:
            src.unlink(missing_ok=True)
            raise StoreError(
                f"made {digest[:12]}… but {expected_sha256[:12]}… was expected",
            )
        dest = self.path(digest)
        if dest.exists():
            src.unlink(missing_ok=True)
        else:
            dest.parent.mkdir(parents=True, exist_ok=True)
            os.chmod(src, stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
            os.replace(src, dest)
            fsync_dir(dest.parent)
        return Artifact(digest, ext, size)

    def verify(self, sha256: str) -> bool:
        p = self.path(sha256)
        return p.is_file() and sha256_file(p) == sha256
