"""A damaged store object put right from the film's remote cache.

The good bytes are streamed from `cas/<sha256>` into `.vf/tmp` while they are hashed
(`Remote.download_blob`: a blob that is not its name raises RemoteCorrupt, naming it, and
nothing is stored); the damaged bytes are kept as `.vf/damaged/<their sha256><ext>` (a hard
link, taken before anything moves); then the verified file is renamed over the object, so the
object's name always holds a whole file: the damaged one, or the good one.
"""

from __future__ import annotations

import os
import shutil
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from vfbuild.fsutil import fsync_dir
from vfbuild.store import vfdir
from vfbuild.store.objects import ObjectStore
from vfbuild.store.remote import Remote
from vfbuild.store.teamcache import choose_remote


def film_remote(remotes: Mapping[str, Any]) -> Remote | None:
    """The remote a repair fetches from: the film's (or $VF_REMOTE's), None when unset."""
    return choose_remote(remotes)


def repair_object(
    root: Path, store: ObjectStore, remote: Remote, sha256: str, actual: str | None, ext: str
) -> str | None:
    """Put verified bytes of `sha256` back in the store from `remote`. `actual`: what the
    damaged object hashes to now (None: the object is missing). Returns the film-relative
    name the damaged bytes are kept under ("" when there were none), or None when the remote
    does not have the blob. Raises RemoteCorrupt (named, nothing stored) or RemoteError."""
    if remote.blob_size(sha256) is None:
        return None
    obj = store.path(sha256)
    tmp_dir = vfdir.at(root, vfdir.TMP)
    with remote.download_blob(sha256, tmp_dir, resume_dir=vfdir.at(root, vfdir.PARTIAL)) as tmp:
        kept = ""
        if actual is not None and obj.exists():
            kept = f"{vfdir.DAMAGED}/{actual}{ext}"
            dest = vfdir.at(root, kept)
            dest.parent.mkdir(parents=True, exist_ok=True)
            if not dest.exists():
                try:
                    os.link(obj, dest)
                except OSError:  # a filesystem without hard links
                    shutil.copyfile(obj, dest)
        obj.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(tmp, stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
        os.replace(tmp, obj)
        fsync_dir(obj.parent)
    return kept
