"""A ComfyUI workflow file is checked with the film (`vf check`), not first by the build.

ComfyUI queues the API format: one object whose keys are node ids, each node
`{"class_type": …, "inputs": {…}}` (a saved `/prompt` body, `{"prompt": {…}}`, is accepted
too, as the provider does). The file ComfyUI saves by default is its UI format (`nodes` and
`links` lists), which it cannot queue. Pure JSON work: no HTTP client is imported.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from vfbuild.errors import Location, Problem

EXPORT_HINT = (
    "in ComfyUI export the workflow in API format (Workflow → Export (API), or "
    "'Save (API Format)' with dev mode on in older versions) and save that file here"
)


def workflow_problem(path: Path, shown: Path | str, named_by: str) -> Problem | None:
    """What keeps the workflow at `path` from being queued, at its `file:line:col`; None
    when it is an API-format workflow (or missing: the film's path checks say that)."""
    try:
        raw = path.read_bytes()
    except OSError:
        return None
    where = f" (named by {named_by})"
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        col = e.start - (raw.rfind(b"\n", 0, e.start) + 1) + 1
        return Problem(
            Location(shown, line, col), f"ComfyUI workflow is not UTF-8 text{where}", EXPORT_HINT
        )
    try:
        graph: Any = json.loads(text)
    except json.JSONDecodeError as e:
        return Problem(
            Location(shown, e.lineno, e.colno),
            f"ComfyUI workflow is not valid JSON: {e.msg}{where}",
            EXPORT_HINT,
        )
    except RecursionError:
        return Problem(Location(shown), f"ComfyUI workflow is nested too deep{where}", EXPORT_HINT)
    if isinstance(graph, dict) and isinstance(graph.get("prompt"), dict):
        graph = graph["prompt"]
    if isinstance(graph, list):
        return Problem(
            Location(shown),
            f"ComfyUI workflow is a JSON list, not the API format's object of nodes{where}",
            EXPORT_HINT,
        )
    if not isinstance(graph, dict):
        return Problem(
            Location(shown), f"ComfyUI workflow holds no object of nodes{where}", EXPORT_HINT
        )
    if isinstance(graph.get("nodes"), list) or isinstance(graph.get("links"), list):
        return Problem(
            Location(shown),
            f"ComfyUI workflow is in ComfyUI's UI format (`nodes` and `links`), which cannot "
            f"be queued; vfbuild needs the API format{where}",
            EXPORT_HINT,
        )
    if not graph:
        return Problem(Location(shown), f"ComfyUI workflow holds no nodes{where}", EXPORT_HINT)
    for node_id, node in graph.items():
        if not (isinstance(node, dict) and "class_type" in node and "inputs" in node):
            line, col = _key_place(text, str(node_id))
            return Problem(
                Location(shown, line, col),
                f"node {node_id} of the ComfyUI workflow has no class_type or inputs: "
                f"not the API format{where}",
                EXPORT_HINT,
            )
    return None


def _key_place(text: str, key: str) -> tuple[int, int]:
    """1-based line and column of the first `"key":` in the text (a good guess at where a
    top-level node starts), or 1:1."""
    at = text.find(json.dumps(key))
    if at < 0:
        return 1, 1
    line = text.count("\n", 0, at) + 1
    return line, at - (text.rfind("\n", 0, at) + 1) + 1
