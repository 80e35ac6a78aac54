"""The provider protocol: the seam between the build and whoever makes takes.

Like httpx's transport, it is small on purpose. The build hands a provider a recipe, the input
files the recipe's hashes stand for, a temp path to write, and a `MakeContext` (the job's name,
its journal, the budget, progress); the store does the rest. Remote providers implement the
finer submit → poll → fetch protocol of `vfbuild.providers.remote`, whose `make` drives it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from vfbuild.providers.pricing import Budget
    from vfbuild.store.journal import Journal, JournalEntry

InputFiles = dict[str, Path | list[Path]]


@dataclass
class MakeContext:
    """What a provider may need besides the recipe to make one take."""

    key: str  # the recipe key
    label: str  # how the job is named to the user: "s010 draft t02"
    progress: Callable[[float], None] | None = None  # hears the fraction done (0..1)
    journal: Journal | None = None
    budget: Budget | None = None
    cost: float | None = None  # the priced cost of this take, None if no price is known
    resubmit: bool = False  # --resubmit: a job whose submit reply was lost may be sent again
    retry_failed: bool = False  # --retry-failed: a job the provider failed may be tried again
    film_root: Path | None = None
    expected_name: str = ""  # the take's layout file name (for manual requests)
    # A remote provider holds `slot` only while its job is at the provider (submit to done),
    # and `transfer` while it downloads the result: `-j` bounds the jobs in flight, and the
    # next job starts while the last result is still coming down. (Local providers run whole
    # in a slot the build holds for them, and leave both as they are.)
    slot: contextlib.AbstractContextManager[object] = field(default_factory=contextlib.nullcontext)
    started: Callable[[], None] = lambda: None  # called once the job is at the provider
    transfer: contextlib.AbstractContextManager[object] = field(
        default_factory=contextlib.nullcontext
    )
    # Told of a journalled job whose submit reply was lost, just before `--resubmit` sends
    # it again: the first was probably taken and billed, and the build ledgers it as lost.
    lost: Callable[[JournalEntry], None] = lambda entry: None
    # Hears where the job is: "submitting", "queued", "running", "downloading" (the words of
    # `vfbuild.plan.events`), for a live display; a provider that cannot tell says nothing.
    state: Callable[[str], None] = lambda state: None


@dataclass(frozen=True)
class Awaiting:
    """What `make` returns instead of writing its file when the take is the user's to make
    (a manual request waiting in the inbox): a to-do, not an error."""

    message: str


class Provider(Protocol):
    """A provider declares what it can do (the capabilities below); the planner asks for those,
    never for a provider by name."""

    name: str
    paid: bool  # a paid provider is never called under --frozen
    deterministic: bool  # same recipe → same bytes; lets --frozen remake a pinned take
    holds_slot: bool  # takes `MakeContext.slot` itself, for the part of `make` that needs it
    labels: bool  # draws the shot's id and camera notes on its takes (they enter the recipe)
    ledgered: bool  # its takes get ledger rows (paid work, or work with a declared cost)
    declares_cost: bool  # its cost per take is the film's `cost_per_take`, not a price table
    versions_early: bool  # needs its take's version before making it (to name the file)
    by_hand: bool  # its takes are files a person saves in the film's inbox
    # Optional capabilities (read with `takes_last_frame` / `takes_reference_video` below, so
    # a provider that says nothing cannot): a video model that is sent the shot's last frame
    # (`inputs["last"]`: Kling's image_tail, Luma's frame1, Veo's last frame on fal), and a
    # motion-control model driven by a reference performance (`inputs["reference"]`). A shot
    # that asks for either from a provider without it is a plan-time error, never a silent drop.
    #   takes_reference_video: bool = False (read through the helper; optional)
    takes_last_frame: bool = False  # sends a clip's last frame (the `last` input) too

    def model(self, step: str, configured: str | None) -> str: ...

    def engine(self, step: str) -> dict[str, Any]:
        """What besides the model decides the bytes (e.g. the local ffmpeg's version)."""
        ...

    def ext(self, step: str) -> str: ...

    def units(self, step: str, seconds: float | None) -> tuple[str, float]:
        """What a take is billed by: ("image", 1), ("second", 5.0), ("take", 1)."""
        ...

    def make(
        self, recipe: dict[str, Any], inputs: InputFiles, out: Path, ctx: MakeContext
    ) -> Awaiting | None:
        """Write the take for `recipe` to exactly `out` (and return None), or say that it
        waits for the user (`Awaiting`); raise a VfError on failure."""
        ...


def takes_last_frame(provider: object) -> bool:
    """Whether `provider` sends a video step's last frame (`inputs["last"]`) to its model."""
    return bool(getattr(provider, "takes_last_frame", False))


def takes_reference_video(provider: object) -> bool:
    """Whether `provider` drives its model with a reference performance
    (`inputs["reference"]`, a video): a motion-control model."""
    return bool(getattr(provider, "takes_reference_video", False))


def default_units(step: str, seconds: float | None) -> tuple[str, float]:
    if step == "keyframe":
        return ("image", 1.0)
    return ("second", float(seconds or 0.0))
