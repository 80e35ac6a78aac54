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
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from vfbuild.codesig import code_signature
from vfbuild.fsutil import atomic_write_bytes
from vfbuild.store import sealed, vfdir

CACHE = Path(vfdir.SHOTS_ITEMS)
FORMAT = 1
_SHOTS_KEY = re.compile(r"shots:[ ]*(#.*)?$")
_ITEM = re.compile(r"( *)- ")


def split(text: str) -> tuple[str, list[str]] | None:
    """(the film without the shots' items, each item's text), or None.

    Lines end at "\n" only (str.splitlines would also cut at characters YAML keeps). Only the
    lines that start at or left of the items' column are looked at one by one, found by a
    pattern that begins with "\n" (which the regex engine skips to quickly): a 1000-shot film
    has 16,000 lines and about 1,000 such lines."""
    if "\t" in text:
        return None
    if text.startswith(("%", "---", "...")) or any(m in text for m in ("\n%", "\n---", "\n...")):
        return None  # a directive or a document marker
    keys = [
        at
        for at in _line_starts_with(text, "shots:")
        if _SHOTS_KEY.match(_line_at(text, at).rstrip("\r\n"))
    ]
    if len(keys) != 1:
        return None
    first = _next_line(text, keys[0])
    while first < len(text) and _blank(_line_at(text, first)):
        first = _next_line(text, first)
    m = _ITEM.match(text, first) if first < len(text) else None
    if m is None:
        return None  # an empty or flow-style list: nothing to gain
    indent = len(m.group(1))
    starts = [first]
    end = len(text)
    at_or_left = re.compile("\n {0,%d}[^ \n]" % indent)  # noqa: UP031 - braces in the pattern
    for found in at_or_left.finditer(text, _next_line(text, first) - 1):
        at = found.start() + 1
        line = _line_at(text, at)
        if _blank(line):
            continue
        depth = len(line) - len(line.lstrip(" "))
        if depth == indent and line.startswith("- ", depth):
            starts.append(at)
            continue
        end = at  # the list is over: a key at the top level (or something odd)
        break
    items = [text[a:b] for a, b in zip(starts, [*starts[1:], end], strict=True)]
    return text[:first] + text[end:], items


def _line_starts_with(text: str, prefix: str) -> list[int]:
    """Where the lines that start with `prefix` start."""
    found = [0] if text.startswith(prefix) else []
    at = text.find("\n" + prefix)
    while at >= 0:
        found.append(at + 1)
        at = text.find("\n" + prefix, at + 1)
    return found


def _line_at(text: str, pos: int) -> str:
    """The line starting at `pos`, with its "\n" if it has one."""
    nl = text.find("\n", pos)
    return text[pos:] if nl < 0 else text[pos : nl + 1]


def _next_line(text: str, pos: int) -> int:
    """Where the line after the one holding `pos` starts (the text's end if none)."""
    nl = text.find("\n", pos)
    return len(text) if nl < 0 else nl + 1


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
            payload = {"format": FORMAT, "code": code_signature(), "items": fresh}
            blob = sealed.dumps(payload, CACHE.name)
            if blob is not None:
                (root / CACHE).parent.mkdir(parents=True, exist_ok=True)
                atomic_write_bytes(root / CACHE, blob)
    return data


def _read(path: Path) -> dict[str, Any]:
    # Missing, foreign, damaged, of another shape or of other code (which may parse an item
    # otherwise): only a cache (see `sealed`, and `vfbuild.store.vfdir` for every cache's rule).
    data = sealed.load(path, CACHE.name)
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        return {}
    if data.get("code") != code_signature():
        return {}
    items = data.get("items")
    if not isinstance(items, dict) or not all(type(k) is str for k in items):
        return {}
    return dict(items)
