"""`vf graph`: the build's task graph (`api.Film.graph`) as Graphviz DOT or Mermaid text.

Each task is a node labelled with its shot, step and plan status (the statuses `vf plan`
gives); stale tasks are drawn bold in red, and carry the class `stale` in Mermaid, so
`dot -Tsvg` or a Markdown viewer shows at once what a build would make.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from vfbuild.api import Graph

# Fill and border colour per status.
COLOURS = {
    "done": ("#d9ead3", "#6aa84f"),
    "stale": ("#f4cccc", "#cc0000"),
    "waiting": ("#eeeeee", "#999999"),
    "needs-pick": ("#fff2cc", "#bf9000"),
    "error": ("#ea9999", "#990000"),
}
OTHER = ("#ffffff", "#666666")


def _dot_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def _dot_string(text: str) -> str:
    return '"' + _dot_escape(text) + '"'


def to_dot(graph: Graph) -> str:
    out = [
        "digraph vfbuild {",
        "  rankdir=LR;",
        '  node [shape=box, style="rounded,filled", fontname="Helvetica"];',
    ]
    for n in graph.nodes:
        fill, border = COLOURS.get(n.status, OTHER)
        style = ', style="rounded,filled,bold", penwidth=2' if n.stale else ""
        # A label's lines are broken by Graphviz's own escape, backslash n.
        label = '"' + "\\n".join(_dot_escape(t) for t in (n.name, n.step, n.status)) + '"'
        out.append(
            f"  {_dot_string(n.id)} [label={label}, "
            f'class="{n.status}", fillcolor="{fill}", color="{border}"{style}];'
        )
    out += [f"  {_dot_string(a)} -> {_dot_string(b)};" for a, b in graph.edges]
    out.append("}")
    return "\n".join(out) + "\n"


def _mermaid_text(text: str) -> str:
    # Mermaid's entity codes keep quotes and angle brackets out of its syntax.
    return text.replace('"', "#quot;").replace("<", "#lt;").replace(">", "#gt;")


def to_mermaid(graph: Graph) -> str:
    ids = {n.id: f"t{i}" for i, n in enumerate(graph.nodes)}
    out = ["flowchart LR"]
    for n in graph.nodes:
        label = "<br/>".join(_mermaid_text(t) for t in (n.name, n.step, n.status))
        out.append(f'  {ids[n.id]}["{label}"]:::{n.status.replace("-", "_")}')
    out += [f"  {ids[a]} --> {ids[b]}" for a, b in graph.edges]
    for status, (fill, border) in COLOURS.items():
        width = ",stroke-width:3px" if status == "stale" else ""
        out.append(f"  classDef {status.replace('-', '_')} fill:{fill},stroke:{border}{width}")
    return "\n".join(out) + "\n"
