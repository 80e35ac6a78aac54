"""A fast reader of lock files as vfbuild writes them (ruamel's round trip, block style),
and of shot items written in the same plain style (`spec.load`).

ruamel's safe loader builds every scalar in Python and asks its versioned resolver what each
one is (~5 ms a lock, most of a cold-cache no-op of a big film). A lock vfbuild wrote uses a
small part of YAML: block mappings of `key: value` lines; block sequences of `- value`,
`- key: value` or `- - value` lines (a block as an item) at their key's indent; one-line
scalars (plain, single-quoted, double-quoted without escapes), `{}` and `[]`; comment lines.
`load` reads that part and answers None for anything else (a tag, an anchor, a flow
collection with items, a folded line, a plain scalar it would have to guess the type of, a
duplicate key...), and the caller then takes ruamel's safe loader, which also gives the
positions of errors. Where it answers, it gives what ruamel's safe loader gives (YAML 1.2):
`tests/store/test_lockread.py` compares them.
"""

from __future__ import annotations

import re
from typing import Any

_KEY = re.compile(r"([A-Za-z0-9_][A-Za-z0-9_.-]*):(?: (.*))?$")
_QUOTED_KEY = re.compile(r"'([A-Za-z0-9_.-]*)':(?: (.*))?$")  # a digest the dump quoted
_INT = re.compile(r"-?(?:0|[1-9][0-9]*)$")
_FLOAT = re.compile(r"-?(?:0|[1-9][0-9]*)\.[0-9]+$")
# A plain scalar starting with one of these is not plain text (an indicator, or YAML syntax).
_INDICATORS = frozenset("-?:,[]{}#&*!|>'\"%@`")


def _implicit() -> dict[str, list[tuple[str, Any]]]:
    """ruamel's own table of YAML 1.2's implicit types by first character (what its safe
    loader resolves a plain scalar with): one table, so the two readers cannot disagree."""
    from ruamel.yaml.resolver import VersionedResolver

    table = VersionedResolver(version=(1, 2)).versioned_resolver
    # Its patterns are lazy proxies (an attribute lookup in Python per use): compile them.
    return {
        first: [(tag, re.compile(p.pattern, p.flags)) for tag, p in rules]
        for first, rules in table.items()
    }


_TYPES: dict[str, list[tuple[str, Any]]] = {}


class _Unread(Exception):
    """Outside the part of YAML this reader reads: the caller takes the full loader."""


def load(text: str) -> Any:
    """The data in `text`, or None when it is not laid out as vfbuild writes locks."""
    if text.startswith("%") or "\t" in text or "\r" in text:
        return None
    lines: list[tuple[int, str]] = []
    for raw in text.split("\n"):
        body = raw.lstrip(" ")
        if not body or body.startswith("#"):
            continue
        if body.startswith("---") or body.startswith("..."):
            return None  # document markers: more than one document, or a header
        lines.append((len(raw) - len(body), body))
    if not lines:
        return None  # empty: whatever the full loader says of it
    try:
        value, end = _block(lines, 0, lines[0][0])
    except _Unread:
        return None
    # A document may sit indented as a whole (a shot item cut from its list, `spec.chunks`).
    return value if end == len(lines) else None


def _block(lines: list[tuple[int, str]], i: int, indent: int) -> tuple[Any, int]:
    if lines[i][1] == "-" or lines[i][1].startswith("- "):
        return _sequence(lines, i, indent)
    return _mapping(lines, i, indent)


def _mapping(lines: list[tuple[int, str]], i: int, indent: int) -> tuple[dict[str, Any], int]:
    out: dict[str, Any] = {}
    while i < len(lines) and lines[i][0] == indent:
        m = _KEY.match(lines[i][1])
        if m is not None:
            key, rest = m.group(1), m.group(2)
            if not isinstance(_plain(key), str):
                raise _Unread  # a key read as a number
        else:
            m = _QUOTED_KEY.match(lines[i][1])
            if m is None:
                raise _Unread
            key, rest = m.group(1), m.group(2)
        if key in out:
            raise _Unread  # a duplicate: the loader's error
        i += 1
        if rest is None or rest == "":
            if i < len(lines) and (
                lines[i][0] > indent or (lines[i][0] == indent and lines[i][1].startswith("- "))
            ):
                out[key], i = _block(lines, i, lines[i][0])
            else:
                out[key] = None
        else:
            out[key] = _scalar(rest)
    if i < len(lines) and lines[i][0] > indent:
        raise _Unread
    return out, i


def _sequence(lines: list[tuple[int, str]], i: int, indent: int) -> tuple[list[Any], int]:
    out: list[Any] = []
    while i < len(lines) and lines[i][0] == indent and lines[i][1].startswith("- "):
        item = lines[i][1][2:].lstrip(" ")
        if _KEY.match(item) or _QUOTED_KEY.match(item) or item.startswith("- "):
            # A mapping or a sequence as an item (`- key: value` or `- - value`, the rest of
            # it below at its first entry's column: a subtitle lock's cues): read as the
            # block it starts there.
            lines[i] = (len(lines[i][1]) - len(item) + indent, item)
            value, i = _block(lines, i, lines[i][0])
            out.append(value)
            continue
        out.append(_scalar(item))
        i += 1
    if i < len(lines) and lines[i][0] > indent:
        raise _Unread
    return out, i


def _scalar(text: str) -> Any:
    if text == "{}":
        return {}
    if text == "[]":
        return []
    if text.startswith("'"):
        if len(text) < 2 or not text.endswith("'"):
            raise _Unread
        inner = text[1:-1]
        if "'" in inner.replace("''", ""):
            raise _Unread
        return inner.replace("''", "'")
    if text.startswith('"'):
        inner = text[1:-1]
        if len(text) < 2 or not text.endswith('"') or '"' in inner or "\\" in inner:
            raise _Unread
        return inner
    return _plain(text)


def _plain(text: str) -> Any:
    # The same words recur in every lock (keys, providers, settings): a pure function, kept.
    known = _PLAIN.get(text, _PLAIN)
    if known is not _PLAIN:
        return known
    value = _plain_of(text)
    if len(_PLAIN) < _PLAIN_MAX and len(text) < 64:
        _PLAIN[text] = value
    return value


_PLAIN: dict[str, Any] = {}
_PLAIN_MAX = 1 << 16


def _plain_of(text: str) -> Any:
    if (
        not text
        # `-` starts a plain scalar when a non-space follows (a negative number: loudness).
        or (text[0] in _INDICATORS and not (text[0] == "-" and text[1:2] not in ("", " ")))
        or ": " in text
        or " #" in text
        or text.endswith(":")
        or text != text.strip()
    ):
        raise _Unread
    if not _TYPES:
        _TYPES.update(_implicit())
    for tag, pattern in _TYPES.get(text[0], ()):
        if pattern.match(text):
            if tag.endswith(":int") and _INT.match(text):
                return int(text)
            if tag.endswith(":float") and _FLOAT.match(text):
                return float(text)
            if tag.endswith(":bool"):  # the pattern matched: true/True/TRUE, false/...
                return text.lower() == "true"
            if tag.endswith(":null"):
                return None
            raise _Unread  # a type this reader does not build: the full loader does
    return text
