"""Continuity: shots that take a frame from another shot (`motion.first`, `motion.last`).

A link names a frame of another shot: `s010.keyframe` (its picked keyframe), or a frame of the
clip it builds: `s010.last`, `s010.first`, `s010.2.5` (seconds) of its final, the same with
`upscale.` of its upscale. Links order the build (the shot whose frame is read comes first),
so they may not go round in a circle; this module reads them, and checks them on every load.
"""

from __future__ import annotations

from dataclasses import dataclass

from vfbuild.spec.issues import Issue
from vfbuild.spec.models import Film, FrameLink, Shot

ROLES = ("first", "last")


@dataclass(frozen=True)
class FrameSource:
    """A parsed frame reference: which shot, which of its steps, which frame."""

    shot: str
    step: str  # keyframe, final or upscale: the step whose pick or output holds the frame
    at: str  # "first", "last", a time in seconds as text ("2.5"), or "" for a keyframe

    @property
    def seconds(self) -> float | None:
        return None if self.at in ("first", "last", "") else float(self.at)


def parse(ref: str) -> FrameSource:
    """`s010.last` → FrameSource("s010", "final", "last"); the schema checked its shape."""
    shot, _, rest = ref.partition(".")
    if rest == "keyframe":
        return FrameSource(shot, "keyframe", "")
    step = "final"
    for stage in ("final.", "upscale."):
        if rest.startswith(stage):
            step, rest = stage[:-1], rest[len(stage) :]
    return FrameSource(shot, step, rest.removesuffix("s"))


def links(shot: Shot) -> dict[str, tuple[FrameLink, FrameSource]]:
    """A shot's links by role (`first`, `last`)."""
    out = {}
    for role in ROLES:
        link = shot.motion.link(role)
        if link is not None:
            out[role] = (link, parse(link.frame))
    return out


def link_issues(film: Film) -> list[Issue]:
    """Links to shots that do not exist or have no keyframe of their own, and circles."""
    index = {s.id: i for i, s in enumerate(film.shots)}
    issues: list[Issue] = []
    edges: dict[str, list[str]] = {}
    for i, shot in enumerate(film.shots):
        for role, (_link, src) in links(shot).items():
            where = ("shots", i, "motion", role)
            if src.shot not in index:
                near = ", ".join(list(index)[:10])
                issues.append(
                    Issue(where, f"{shot.id}: no shot '{src.shot}' to take a frame from",
                          hint=f"name one of: {near}")
                )  # fmt: skip
                continue
            other = film.shots[index[src.shot]]
            if src.step == "keyframe" and other.motion.first is not None:
                issues.append(
                    Issue(
                        where,
                        f"{shot.id}: {src.shot} has no keyframe of its own (its first frame "
                        f"comes from {other.motion.link('first').frame})",  # type: ignore[union-attr]
                        hint=f"name {src.shot}.first instead",
                    )
                )
                continue
            edges.setdefault(shot.id, []).append(src.shot)
    cycle = find_cycle(edges)
    if cycle is not None:
        first = cycle[0]
        role = next(r for r, (_l, s) in links(film.shot(first)).items() if s.shot == cycle[1])
        issues.append(
            Issue(
                ("shots", index[first], "motion", role),
                f"shots take frames from each other in a circle: {' → '.join(cycle)}",
                hint="a shot can only take a frame from a shot that does not need one of its "
                "own frames; break the circle at one of them",
            )
        )
    return issues


def find_cycle(edges: dict[str, list[str]]) -> list[str] | None:
    """A circle in the graph `edges` (shot → the shots it reads), as [a, b, …, a], or None."""
    state: dict[str, int] = {}  # 1: on the path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in edges.get(node, []):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)) is not None:
                return found
        path.pop()
        state[node] = 2
        return None

    for node in edges:
        if node not in state and (found := visit(node)) is not None:
            return found
    return None


def capability_issues(film: Film) -> list[Issue]:
    """A shot that asks for a last frame or a reference performance from a video provider (or
    a fallback of it) whose model cannot take one: said at its place, before anything is
    planned, rather than the input being dropped."""
    video = film.providers.video
    wants = [
        (i, field, what)
        for i, s in enumerate(film.shots)
        for field, what in (("last", "takes_last_frame"), ("reference", "takes_reference_video"))
        if getattr(s.motion, field) is not None
    ]
    if not wants:
        return []
    issues = []
    for i, field, what in wants:
        for choice in (video, *video.fallback):
            able = _capability(choice.use, what)
            if able is False:
                noun = "a last frame" if field == "last" else "a reference performance"
                issues.append(
                    Issue(
                        ("shots", i, "motion", field),
                        f"{film.shots[i].id}: the video provider {choice.use!r} cannot take "
                        f"{noun}; it would be dropped",
                        hint=f"use a provider whose model takes {noun} in providers.video "
                        f"(and its fallback), or remove motion.{field}",
                    )
                )
                break
    return issues


def _capability(provider: str, what: str) -> bool | None:
    """A provider class's declared capability; None when only an instance can tell."""
    from vfbuild import catalog

    try:
        cls = catalog.info(provider).load()
    except Exception:  # noqa: BLE001 - a provider that cannot load is reported by the build
        return None
    value = getattr(cls, what, False)
    return value if isinstance(value, bool) else None
