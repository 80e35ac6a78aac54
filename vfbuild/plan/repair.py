"""`vf verify --repair`: put right what `vf verify` found damaged, then verify again.

- a damaged store object (pinned or not) is fetched from the film's remote cache, verified by
  sha256, and renamed over the damaged one, whose bytes are kept in `.vf/damaged/`
  (`store.repair`); a remote blob that is not its name is refused, named, and not stored;
- a layout file that is not its take while the store object is sound is kept aside and linked
  again from the store, as a build does.

A missing object (a fresh clone) is not damage: `vf pull` fetches it.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from vfbuild.errors import RemoteError
from vfbuild.plan.integrity import Mismatch, VerifyResult, verify_film
from vfbuild.project import Project
from vfbuild.store import layout, vfdir
from vfbuild.store.repair import film_remote, repair_object
from vfbuild.store.verify import set_aside


def repair_film(project: Project, specs: list[tuple[str, str, str | None]]) -> VerifyResult:
    """Verify, repair each damaged file that can be, and verify again: the result names what
    was repaired (`repaired`) and what could not be (`unrepaired`, with why)."""
    first = verify_film(project, specs)
    if first.ok:
        return first
    root = project.root
    repaired: list[str] = []
    unrepaired: list[str] = []
    exts = {m.expected: Path(m.file).suffix for m in first.mismatches if m.what != "store object"}
    objects = [m for m in first.mismatches if m.file.startswith(vfdir.OBJECTS + "/")]
    remote = film_remote(project.film.remotes) if objects else None
    for m in dict((m.expected, m) for m in objects).values():
        if remote is None:
            unrepaired.append(f"{m.file}: the film has no remote cache to repair it from")
            continue
        try:
            kept = repair_object(
                root, project.store, remote, m.expected, m.actual, exts.get(m.expected, "")
            )
        except RemoteError as e:  # RemoteCorrupt too: refused, named, nothing stored
            unrepaired.append(f"{m.file}: {e.message}")
            continue
        if kept is None:
            unrepaired.append(f"{m.file}: the remote {remote.name} does not have it")
            continue
        repaired.append(f"{m.file}: from the remote {remote.name} (damaged bytes kept as {kept})")
    project.forget_listings()
    for m in first.mismatches:
        if m.what in ("layout file", "polished keyframe") and _relink(project, m):
            repaired.append(f"{m.file}: linked again from the store (your file kept aside)")
    second = verify_film(project, specs)
    return replace(second, repaired=tuple(repaired), unrepaired=tuple(unrepaired))


def _relink(project: Project, m: Mismatch) -> bool:
    """Put the take back at a layout file whose object is sound; False when it is not."""
    obj = project.store.path(m.expected)
    path = project.root / m.file
    try:
        sound = obj.is_file() and project.artifact_hashes.sha256(obj, fresh=True) == m.expected
        got = project.artifact_hashes.sha256(path, fresh=True) if path.exists() else None
    except OSError:
        return False
    if not sound or got == m.expected:
        return False
    if got is not None:
        set_aside(project.root, path, got)
    project.forget_listings()
    layout.materialize(obj, path)
    return True
