"""Files beside an edit version (its timeline, QC report), each written once: atomically, and
never over a file that is already there (a version's report is the record of that version).
The timeline is a layout file like the edit itself: stored, then linked into 06_Edit/."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import TYPE_CHECKING

from vfbuild.fsutil import fsync_dir, temp_path

if TYPE_CHECKING:
    from vfbuild.project import Project


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


def put_stored(project: Project, rel: str, data: bytes) -> bool:
    """Put `data` in the film's store and at `rel` in the layout, as every layout file is (a
    hard link to its object), unless a file is there. True when this call put it."""
    from vfbuild.store import layout, vfdir

    dest = project.root / rel
    if os.path.lexists(dest):
        return False
    with temp_path(vfdir.at(project.root, vfdir.TMP), suffix=dest.suffix) as tmp:
        with open(tmp, "wb") as f:
            f.write(data)
        art = project.store.put(tmp, dest.suffix)
    return layout.materialize(project.store.path(art.sha256), dest)
