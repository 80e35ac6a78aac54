"""`vf remote add NAME URL`: a remote cache written into shots.yaml's `remotes:`.

In shots.yaml, not in a file of its own: the remote is the team's, so it travels with the film
through git as the providers do, the JSON Schema checks it in the editor, and there is one file
to read to know how a film is made and shared. The round-trip loader keeps every comment and
the key order; only the `remotes:` mapping gains an entry (appended at the end when new).
"""

from __future__ import annotations

import io
import re
from pathlib import Path

from pydantic import ValidationError

from vfbuild.errors import UsageError
from vfbuild.fsutil import atomic_write_text
from vfbuild.spec.models import REMOTE_NAME, Remote


def add_remote(shots_yaml: Path, name: str, url: str, lease: float | None = None) -> bool:
    """Add remote `name` at `url` to the film; False when it is already there, alike."""
    from ruamel.yaml import YAML
    from ruamel.yaml.comments import CommentedMap

    if not re.fullmatch(REMOTE_NAME, name):
        raise UsageError(
            f"{name!r} is not a remote name",
            hint="use letters, digits, `_`, `-` and `.` (e.g. team, nas, r2)",
        )
    try:
        spec = Remote(url=url) if lease is None else Remote(url=url, lease=lease)
    except ValidationError:
        raise UsageError(
            f"{url!r} is not a remote URL",
            hint="give an fsspec URL: s3://bucket/prefix, gs://bucket/prefix, "
            "az://container/prefix or file:///mnt/nas/film-cache",
        ) from None
    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.width = 4096
    doc = yaml.load(shots_yaml.read_text(encoding="utf-8"))
    if not isinstance(doc, CommentedMap):
        raise UsageError(f"{shots_yaml}: not a film (its top level is not a mapping)")
    remotes = doc.get("remotes")
    if remotes is None:
        remotes = CommentedMap()
        doc["remotes"] = remotes
    elif not isinstance(remotes, CommentedMap):
        raise UsageError(
            f"{shots_yaml}: `remotes:` is not a mapping",
            hint="write it as `remotes: {team: {url: s3://bucket/prefix}}`",
        )
    entry = CommentedMap(url=spec.url)
    if lease is not None:
        entry["lease"] = spec.lease
    old = remotes.get(name)
    if old is not None:
        if dict(old) == dict(entry):
            return False
        raise UsageError(
            f"shots.yaml already has a remote named {name!r} ({old.get('url')})",
            hint="edit it in shots.yaml, or choose another name",
        )
    remotes[name] = entry
    out = io.StringIO()
    yaml.dump(doc, out)
    atomic_write_text(shots_yaml, out.getvalue())
    return True
