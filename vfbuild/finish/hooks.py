"""What the build does after it records a single output: for a new edit version, write its
timeline beside it and run the quick QC, whose warnings become the build's notes.

The build calls `after_output` for every output it records, each build (recording is
idempotent): an edit version whose .otio is there costs one stat.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from vfbuild.finish.cut import EDIT_STEP

if TYPE_CHECKING:
    from vfbuild.finish.cut import Cut
    from vfbuild.project import Project
    from vfbuild.steps import Job


@dataclass(frozen=True)
class Said:
    lines: tuple[str, ...] = ()  # progress lines
    notes: tuple[str, ...] = field(default=())  # for the build's report


def after_output(project: Project, job: Job, version: int, file: str) -> Said:
    """`file`: where the output was put in the layout (film-relative)."""
    if job.step != EDIT_STEP:
        return Said()
    from vfbuild.finish.cut import cut_from_recipe
    from vfbuild.finish.files import put_stored
    from vfbuild.finish.qc import FAIL, check_cut
    from vfbuild.finish.timeline import timeline_path, to_json

    cut = cut_from_recipe(project, version, file, job.recipe.as_dict())
    rel = timeline_path(cut)
    path = project.root / rel
    if path.exists():
        return Said()
    put_stored(project, rel, to_json(cut).encode("utf-8"))
    # The clips of the version before were checked when it was made: only the new ones are
    # probed (a one-shot change of a long film probes one clip, not every one).
    report = check_cut(project, cut, quick=True, skip=_clips_before(project, cut))
    notes = [
        f"qc: {c.shot} {c.check}: {c.value} ({c.verdict}{': ' + c.hint if c.hint else ''})"
        for c in report.checks
        if c.verdict in (FAIL, "warn")
    ]
    if notes:
        notes.append(
            f"qc: `vf qc --version {version}` checks black and frozen frames, dialogue and "
            "loudness too"
        )
    return Said(lines=(f"  timeline {rel}",), notes=tuple(notes))


def _clips_before(project: Project, cut: Cut) -> frozenset[str]:
    """The sha256 of each clip of the previous version's timeline (none if it has none)."""
    import json

    if cut.version <= 1:
        return frozenset()
    stem = cut.stem.rsplit("_v", 1)[0]
    path = project.root / timeline_path_for(stem, cut.version - 1)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        video = doc["tracks"]["children"][0]["children"]
        return frozenset(
            c["metadata"]["vfbuild"]["sha256"]
            for c in video
            if c.get("OTIO_SCHEMA", "").startswith("Clip")
        )
    except (OSError, ValueError, KeyError, TypeError, IndexError):
        return frozenset()


def timeline_path_for(stem: str, version: int) -> str:
    return f"{stem}_v{version:03d}.otio"
