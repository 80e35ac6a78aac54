"""vfbuild: project-as-code for AI films.

The library API (`vfbuild.api`, re-exported here) is what the `vf` command, scripts and the
tests call: `film = vfbuild.open(path)`, then `film.plan()`, `film.build(...)`,
`film.pick(shot, step, take)`, `film.status()`. Everything it raises is a
`vfbuild.errors.VfError`.
"""

from __future__ import annotations

from vfbuild.api import BuildReport, CostReport, Film, Plan, PlanRow, StatusRow, open
from vfbuild.errors import VfError
from vfbuild.version import __version__

__all__ = [
    "BuildReport",
    "CostReport",
    "Film",
    "Plan",
    "PlanRow",
    "StatusRow",
    "VfError",
    "__version__",
    "open",
]
