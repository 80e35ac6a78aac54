"""Bounds on the YAML a film carries, checked before any loader or walk sees it.

A YAML loader shares an anchored node between its aliases, so a 1 KB file with nine levels
of aliases loads at once, and it is every walk over the loaded data (plain copies, the JSON
Schema, pydantic) that meets its 387 million values; a recursive alias makes those walks run
forever, and deep nesting makes the pure-Python loaders (and every recursive walk) end in
RecursionError, ruamel's C loader in a segfault. Safe loaders bound both; so does this.

Every YAML file vfbuild reads from a film (shots.yaml, locks/, prices.yaml) goes through
`problem` first. It is cheap where it can be: a file with no anchor and no deep indentation or
bracket nesting (every real film) costs a few regex passes; only a file that might break a
bound is read event by event, which gives exact counts and the place to report.
"""

from __future__ import annotations

import re
from pathlib import Path

from vfbuild.errors import Location, Problem

MAX_DEPTH = 100  # nested mappings and lists; a film needs fewer than 10, ruamel's rt ~250
# Values the aliases may add to a file, beyond the ones written in it: as many again as it
# holds, or this many, whichever is more (so the walks over the data do at most twice the work).
MAX_ALIAS_VALUES = 100_000

_INDENT = MAX_DEPTH // 2
# A block collection nests one level deeper only by indenting (or by a `- `/`? ` on the
# same line), so a file without a line indented this far nests at most about this deep.
# (A pattern that starts with "\n" is searched for fast; the first line is matched apart.)
_DEEP_LINE = re.compile(r"\n[ \t?-]{%d}" % _INDENT)  # noqa: UP031 - braces in the pattern
_DEEP_FIRST = re.compile(r"[ \t?-]{%d}" % _INDENT)  # noqa: UP031
_NOT_BRACKETS = bytes(c for c in range(256) if c not in b"[]{}")
_ANCHOR_START = frozenset(" \t\r\n[{,")

HINT = "write the values out, or use fewer aliases and less nesting"


def problem(text: str, path: Path | str) -> Problem | None:
    """What breaks a bound in `text` (with its place), or None. Never raises."""
    if not _may_break(text):
        return None
    try:
        return _scan(text, path)
    except RecursionError:  # the scan is a loop, but a parser is a parser
        return Problem(Location(path), f"YAML nested deeper than {MAX_DEPTH} levels", HINT)


def _may_break(text: str) -> bool:
    if _has_anchor(text) or _DEEP_FIRST.match(text) or _DEEP_LINE.search(text):
        return True
    # bytes.translate drops the rest at C speed (a 1000-shot film has a few thousand brackets)
    brackets = text.encode("utf-8", "surrogatepass").translate(None, _NOT_BRACKETS).decode()
    if len(brackets) <= MAX_DEPTH - _INDENT - 2:
        return False
    depth = 0
    for c in brackets:  # an upper bound: brackets in quoted text count too
        if c in "[{":
            depth += 1
            if depth > MAX_DEPTH - _INDENT - 2:
                return True
        elif depth:
            depth -= 1
    return False


def _has_anchor(text: str) -> bool:
    """An `&name` where a node may start; a false alarm (`fish &chips`) only costs a scan."""
    at = text.find("&")
    while at >= 0:
        if (at == 0 or text[at - 1] in _ANCHOR_START) and text[at + 1 : at + 2] not in ("", " "):
            return True
        at = text.find("&", at + 1)
    return False


def _scan(text: str, path: Path | str) -> Problem | None:
    """Exact depth and alias expansion, from the parser's events (no tree is built, nothing
    recurses). A YAML error stops the scan: the loader that follows reports it."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError
    from ruamel.yaml.events import (
        AliasEvent,
        CollectionEndEvent,
        CollectionStartEvent,
        ScalarEvent,
    )

    values = 0  # as the data will hold them, aliases expanded
    written = 0  # as the file writes them
    sizes: dict[str, int] = {}  # anchor -> the values its node stands for
    open_at: list[tuple[str | None, int]] = []  # each open collection: its anchor, `values` then
    biggest: tuple[int, AliasEvent] | None = None  # the alias that stands for the most values
    try:
        for ev in YAML(typ="safe", pure=False).parse(text):
            if isinstance(ev, CollectionStartEvent):
                if len(open_at) >= MAX_DEPTH:
                    return _at(
                        path,
                        ev,
                        f"YAML nested deeper than {MAX_DEPTH} levels",
                        "a film needs a few levels; flatten this part",
                    )
                values += 1
                written += 1
                open_at.append((ev.anchor, values - 1))
            elif isinstance(ev, CollectionEndEvent):
                anchor, before = open_at.pop()
                if anchor is not None:
                    sizes[anchor] = values - before
            elif isinstance(ev, ScalarEvent):
                values += 1
                written += 1
                if ev.anchor is not None:
                    sizes[ev.anchor] = 1
            elif isinstance(ev, AliasEvent):
                if any(anchor == ev.anchor for anchor, _ in open_at):
                    return _at(
                        path,
                        ev,
                        f"the alias *{ev.anchor} is inside the node &{ev.anchor} it stands for "
                        "(a recursive alias)",
                        "an alias may only refer to a node that is complete before it",
                    )
                size = sizes.get(ev.anchor, 1)
                values += size
                if biggest is None or size > biggest[0]:
                    biggest = (size, ev)
    except YAMLError:
        return None
    if biggest is not None and values - written > max(MAX_ALIAS_VALUES, written):
        size, ev = biggest
        return _at(
            path,
            ev,
            f"YAML aliases expand this file to {values:,} values (it writes {written:,}; "
            f"*{ev.anchor} here stands for {size:,}): an alias bomb?",
            HINT,
        )
    return None


def _at(path: Path | str, ev: object, message: str, hint: str) -> Problem:
    mark = getattr(ev, "start_mark", None)
    line = getattr(mark, "line", 0) + 1
    col = getattr(mark, "column", 0) + 1
    return Problem(Location(path, line, col), message, hint)
