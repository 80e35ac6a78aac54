"""Positions: an `Issue`'s path in the data turned into the `file:line:col` of the round-trip
YAML tree (ruamel's `lc`), only when there is something to report."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from vfbuild.errors import Location, Problem
from vfbuild.spec.issues import Issue, YamlPath

# --------------------------------------------------------------------------- positions


def locate(issues: Iterable[Issue], text: str, path: Path) -> list[Problem]:
    """Turn issues into Problems at `file:line:col`, one per place."""
    try:
        tree = _parse_roundtrip(text)
    except Exception:  # noqa: BLE001 - the fast parser accepted it; never hide the real problem
        tree = None
    problems: list[Problem] = []
    seen: set[tuple[int, int]] = set()
    for issue in issues:
        line, col = _position(tree, issue.path, issue.at)
        if (line, col) in seen:
            continue
        seen.add((line, col))
        message = issue.message
        if issue.first is not None:
            message += f" (first used at line {_position(tree, issue.first, 'value')[0]})"
        problems.append(Problem(Location(path, line, col), message, issue.hint))
    return problems


def _position(tree: Any, path: YamlPath, at: str) -> tuple[int, int]:
    """1-based (line, col) of `path` in the round-trip tree; the deepest existing parent when
    the path does not exist (a missing key points at its mapping)."""
    node = tree
    pos = _node_pos(tree)
    for i, key in enumerate(path):
        step = _step(node, key)
        if step is None:
            break
        key_pos, value_pos, node = step
        last = i == len(path) - 1
        # An empty value has no position of its own (ruamel gives the next token's): use the key.
        pos = key_pos if (last and at == "key") or node is None or value_pos is None else value_pos
    return pos[0] + 1, pos[1] + 1


def _node_pos(node: Any) -> tuple[int, int]:
    lc = getattr(node, "lc", None)
    if lc is None or lc.line is None:
        return (0, 0)
    return (lc.line, lc.col)


def _step(node: Any, key: str | int) -> tuple[tuple[int, int], tuple[int, int] | None, Any] | None:
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    try:
        if isinstance(node, CommentedMap):
            real = key if key in node else next((k for k in node if str(k) == str(key)), None)
            if real is None:
                return None
            return tuple(node.lc.key(real)), tuple(node.lc.value(real)), node[real]
        if isinstance(node, CommentedSeq) and isinstance(key, int) and 0 <= key < len(node):
            pos = tuple(node.lc.item(key))
            return pos, pos, node[key]
    except (KeyError, TypeError, IndexError):  # merged keys (<<) carry no positions
        return None
    return None


def display_path(path: Path) -> Path:
    """`path` relative to the working directory when inside it (short, clickable), else absolute."""
    absolute = Path(os.path.abspath(path))
    try:
        return absolute.relative_to(Path.cwd())
    except ValueError:
        return absolute


def _parse_roundtrip(text: str) -> Any:
    from ruamel.yaml import YAML

    return YAML(typ="rt").load(text)
