"""What a build tells whoever watches it, as typed events.

A build used to say only lines of text. A live display needs more: which takes are waiting for
a `-j` slot, which are at the provider (queued or running), which are downloading, how many
there are to make, what has been spent. Each of those is a `BuildEvent`; the ones that were a
line before still are one (`str(event)` is that line, `line` empty for the others), so a
caller that prints what it hears prints what `vf build` always printed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

# Kinds of event. Those marked with a line say one; the others are for live displays.
HEADER = "header"  # the build starts (line): its budget and -j
PLANNED = "planned"  # the tasks this build runs (`count`), known before any runs
STEP = "step"  # a step starts: `count` takes to make now
STEP_DONE = "step-done"  # a step's task ran (made, failed, or found nothing to make)
TAKE = "take"  # a take changed `state` (see the states below)
MADE = "made"  # a take was made and stored (line)
FAILED = "failed"  # a take failed (its error is reported at the end, as before)
INBOX = "inbox"  # a take waits for the user's file (manual)
SPENT = "spent"  # the build's spending changed: `spent` is the new total
PROGRESS = "progress"  # a long take's `fraction` done (a line at each quarter)
LINE = "line"  # anything else the build says (line)

# Take states, in the order a take goes through them.
PENDING = "pending"  # waiting for a -j slot
SUBMITTING = "submitting"  # sending the job to the provider
QUEUED = "queued"  # at the provider, not started
RUNNING = "running"  # being made (at the provider, or by the local renderer)
DOWNLOADING = "downloading"  # the result is coming down
STATES = (PENDING, SUBMITTING, QUEUED, RUNNING, DOWNLOADING)


@dataclass(frozen=True)
class BuildEvent:
    kind: str
    line: str = ""  # what the build says of it, "" when it says nothing
    label: str = ""  # the take or step: "s010 draft t02", "s010 final", "edit"
    shot: str = ""  # a shot id, "" for the film's own steps
    step: str = ""
    take: int | None = None
    provider: str = ""
    state: str = ""  # a take's state (TAKE events)
    count: int | None = None  # tasks (PLANNED), or takes to make (STEP)
    cost: float | None = None  # this take's cost (MADE), when it is priced
    spent: float | None = None  # the build's spending so far (SPENT)
    budget: float | None = None  # --budget (HEADER)
    jobs: int | None = None  # -j (HEADER)
    fraction: float | None = None  # PROGRESS
    at: float = field(default_factory=time.monotonic)

    def __str__(self) -> str:
        return self.line
