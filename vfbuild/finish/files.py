"""Files beside an edit version (its timeline, QC report), each written once: atomically, and
never over a file that is already there (a version's report is the record of that version)."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from vfbuild.fsutil import fsync_dir, temp_path


def put_new(path: Path, data: bytes) -> bool:
    """Write `data` at `path` unless a file is there. True when this call wrote it."""
    if os.path.lexists(path):
        return False
    with temp_path(path.parent, suffix=path.suffix, shared=True) as tmp:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(tmp, path)  # fails if another process put one there meanwhile
        except FileExistsError:
            return False
        except OSError:
            # A file system with no hard links: a rename, after one more look.
            if os.path.lexists(path):
                return False
            os.replace(tmp, path)
    with contextlib.suppress(OSError):
        fsync_dir(path.parent)
    return True
