"""`vf remote add NAME URL`: a remote cache written into shots.yaml's `remotes:`.

In shots.yaml, not in a file of its own: the remote is the team's, so it travels with the film
through git as the providers do, the JSON Schema checks it in the editor, and there is one file
to read to know how a film is made and shared. The round-trip loader keeps every comment and
the key order; only the `remotes:` mapping gains an entry (appended at the end when new).
"""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

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
    had = "remotes" in doc
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
    text = shots_yaml.read_text(encoding="utf-8")
    added = _insert(text, doc, name, entry, had)
    if added is None:
        # A `remotes:` this cannot extend by lines (a flow mapping): the round-trip dump,
        # which keeps comments and order but may re-indent.
        remotes[name] = entry
        out = io.StringIO()
        yaml.dump(doc, out)
        added = out.getvalue()
    atomic_write_text(shots_yaml, added)
    return True


def _insert(text: str, doc: Any, name: str, entry: dict[str, Any], had: bool) -> str | None:
    """shots.yaml's text with the new remote's lines added, every other line as it was; None
    when that cannot be done by adding lines (checked by reading the result back)."""
    from ruamel.yaml import YAML

    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    unit = _indent_unit(doc)
    remotes = doc.get("remotes") if had else None
    if not had:
        at, col = len(lines), unit
        while at > 0 and not lines[at - 1].strip():
            at -= 1
        block = ["remotes:\n"]
    else:
        start = doc.lc.key("remotes")[0]
        if remotes is None:
            if not re.fullmatch(r"remotes:\s*(#.*)?\n", lines[start]):
                return None
            col = unit
        elif hasattr(remotes, "fa") and not remotes.fa.flow_style() and remotes:
            first = next(iter(remotes))
            col = remotes.lc.key(first)[1]
            sib = remotes[first]
            if hasattr(sib, "fa") and not sib.fa.flow_style() and sib:
                unit = sib.lc.key(next(iter(sib)))[1] - col  # as its siblings are
        else:
            return None
        later = [doc.lc.key(k)[0] for k in doc if doc.lc.key(k)[0] > start]
        end = min(later, default=len(lines))
        at = end
        while at > start + 1 and (not lines[at - 1].strip() or lines[at - 1].lstrip()[:1] == "#"):
            at -= 1
        block = []
    pad, inner = " " * col, " " * (col + unit)
    block.append(f"{pad}{name}:\n")
    block += [f"{inner}{k}: {_scalar(v)}\n" for k, v in entry.items()]
    new = "".join(lines[:at] + block + lines[at:])
    try:
        before, after = YAML(typ="safe").load(text), YAML(typ="safe").load(new)
    except Exception:
        return None
    want = dict(before or {})
    want["remotes"] = {**(want.get("remotes") or {}), name: dict(entry)}
    return new if after == want else None


def _indent_unit(doc: Any) -> int:
    """The file's mapping indentation: that of the first nested block mapping (2 if none)."""
    for key in doc:
        value = doc[key]
        if hasattr(value, "lc") and hasattr(value, "keys") and value:
            col = value.lc.key(next(iter(value)))[1]
            if col > 0 and not value.fa.flow_style():
                return int(col)
    return 2


def _scalar(value: Any) -> str:
    if isinstance(value, str) and not re.fullmatch(r"[A-Za-z0-9+.:/_~%@=?&,-]+", value):
        return json.dumps(value)  # a JSON string is a YAML double-quoted one
    return str(value)
