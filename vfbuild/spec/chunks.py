"""shots.yaml parsed shot by shot, so that one changed shot is the only one parsed again.

A 1000-shot shots.yaml takes ~0.45 s to parse even with ruamel's C loader; one shot takes well
under a millisecond. When shots.yaml changes, its `shots:` list is cut into its items (a
block sequence under a top-level `shots:` key: each item starts with `- ` at the list's
indentation), each item is parsed on its own, or taken from the last run's parse when its text
is the same, and the rest of the file is parsed once without the items.

This is only a faster road to the same data. Anything it does not plainly understand (tabs,
directives or a second document, a flow-style list, an item whose text does not parse on its
own, such as one using an anchor defined elsewhere) sends the whole file through the usual
parser, which also places every error at its line and column.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import pickle
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from vfbuild.fsutil import atomic_write_bytes

CACHE = Path(".vf") / "cache" / "shots-items.pickle"
FORMAT = 1
_SHOTS_KEY = re.compile(r"shots:[ ]*(#.*)?$")
_ITEM = re.compile(r"( *)- ")


def split(text: str) -> tuple[str, list[str]] | None:
    """(the film without the shots' items, each item's text), or None."""
    if "\t" in text:
        return None
    # Lines end at "\n" only (str.splitlines would also cut at characters YAML keeps).
    parts = text.split("\n")
    lines = [p + "\n" for p in parts[:-1]] + ([parts[-1]] if parts[-1] else [])
    if any(ln.startswith(("%", "---", "...")) for ln in lines):
        return None
    keys = [i for i, ln in enumerate(lines) if _SHOTS_KEY.match(ln.rstrip("\r\n"))]
    if len(keys) != 1:
        return None
    first = keys[0] + 1
    while first < len(lines) and _blank(lines[first]):
        first += 1
    m = _ITEM.match(lines[first]) if first < len(lines) else None
    if m is None:
        return None  # an empty or flow-style list: nothing to gain
    indent = len(m.group(1))
    starts: list[int] = []
    end = len(lines)
    for i in range(first, len(lines)):
        line = lines[i]
        if _blank(line):
            continue
        depth = len(line) - len(line.lstrip(" "))
        if depth > indent:
            continue
        if depth == indent and line.startswith("- ", depth):
            starts.append(i)
            continue
        end = i  # the list is over: a key at the top level (or something odd, see below)
        break
    items = ["".join(lines[a:b]) for a, b in zip(starts, [*starts[1:], end], strict=True)]
    return "".join(lines[:first]) + "".join(lines[end:]), items


def _blank(line: str) -> bool:
    stripped = line.strip()
    return not stripped or stripped.startswith("#")


def parse(text: str, root: Path, parse_one: Callable[[str], Any]) -> Any | None:
    """The document as `parse_one(text)` would give it, parsing only the shots whose text
    changed since the last call for this film; None when it cannot be done safely."""
    cut = split(text)
    if cut is None:
        return None
    rest, items = cut
    cache = _read(root / CACHE)
    known = len(cache)
    parsed: list[Any] = []
    fresh: dict[str, Any] = {}
    try:
        data = parse_one(rest)
        if not isinstance(data, dict) or "shots" not in data or data["shots"] is not None:
            return None
        for item in items:
            key = hashlib.sha1(item.encode("utf-8")).hexdigest()
            if key not in cache:
                value = parse_one(item)
                if not isinstance(value, list) or len(value) != 1:
                    return None
                cache[key] = value[0]
            # The same text twice (a copied shot): its own copy, as a whole parse would give.
            parsed.append(copy.deepcopy(cache[key]) if key in fresh else cache[key])
            fresh[key] = cache[key]
    except Exception:  # noqa: BLE001 - any doubt: the whole file goes through the parser
        return None
    data["shots"] = parsed
    if len(cache) != known or len(fresh) != known:  # items parsed now, or items gone
        with contextlib.suppress(OSError):  # a cache: a read-only film only loads slower
            (root / CACHE).parent.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(root / CACHE, pickle.dumps({"format": FORMAT, "items": fresh}))
    return data


def _read(path: Path) -> dict[str, Any]:
    try:
        data = pickle.loads(path.read_bytes())
    except Exception:  # noqa: BLE001 - missing or corrupt: only a cache
        return {}
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        return {}
    items = data.get("items")
    return dict(items) if isinstance(items, dict) else {}
