"""The step interface: what one kind of work on a shot (or on the film) declares, and the jobs
and state a step resolves to.

A step is one module of `vfbuild.steps` holding one `Step` subclass. It says, in one place, its
name and its place in the golden-rule order, which `providers:` slot makes it and at which
tier, whether it has takes that a human picks, which layout folder its files go to, and how
its recipe is made from the shot's fields and the upstream picks or outputs (`resolve`). The
planner, the task graph, the runner, the report and the layout iterate over the registered
steps (`vfbuild.steps.registered`); none of them names one.

`resolve` is given a `Resolution`: the engine's side of the bargain (the film, its locks and
store, and the helpers every step shares: who makes a step, its takes, its picks, its single
output). The engine implements it in `vfbuild.plan.resolve`; the steps never import the plan.

The inputs of a video step (`draft`, `final`), in its recipe's `inputs` (sha256s) and in its
state's `inputs` (files), by role, which is what providers read:

    keyframe    the image the clip starts from: the picked keyframe, or the shot's
                `motion.first` frame (restyled when asked) when it comes from another shot
    last        optional: the frame the clip must end on (`motion.last`); sent only to a
                provider with `takes_last_frame` (see `vfbuild.providers.base`)
    reference   optional: a reference performance video (`motion.reference`) for a
                motion-control model; sent only to a provider with `takes_reference_video`

A recipe without `last` or `reference` is exactly the recipe of before they existed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol

from vfbuild.recipe import Recipe
from vfbuild.store import layout

if TYPE_CHECKING:
    from vfbuild.media.contract import Contract
    from vfbuild.providers.base import InputFiles, Provider
    from vfbuild.spec.models import Film, ProviderChoice, Shot
    from vfbuild.store.locks import LockBook
    from vfbuild.store.objects import Artifact

# A step's state. `needs-pick`: a human must pick an upstream take first; `waiting`: an
# upstream output is not built yet.
DONE, STALE, WAITING, NEEDS_PICK = "done", "stale", "waiting", "needs-pick"

Tier = Literal["draft", "final"]
# Build tiers in order: a `--tier draft` build makes only the steps of the draft tier.
TIERS: tuple[Tier, ...] = ("draft", "final")


# Generators make clips of at most this many seconds; a longer shot loops its clip in the edit.
CLIP_MAX_SECONDS = 10.0


def clip_seconds(shot: Shot) -> float:
    """How long a shot's generated clips are."""
    return min(shot.duration, CLIP_MAX_SECONDS)


@dataclass
class Job:
    """One take to have: its recipe, key, version and where it must appear in the layout."""

    name: str  # the lock it belongs to: a shot id, or FILM_LOCK for the film's steps
    step: str
    take: int
    recipe: Recipe
    key: str
    version_key: str
    version: int | None
    ext: str
    pinned_sha256: str | None = None  # a pick's or a frozen output's bytes
    picked: bool = False
    seconds: float | None = None  # clip length a provider bills for (video steps)
    from_spec: bool = True  # False for an out-of-date pick kept from the lock's recipe

    def __getattr__(self, attr: str) -> Any:
        # A job of a saved step state (see `vfbuild.plan.states`) reads its recipe when asked.
        if attr == "recipe" and "_heavy" in self.__dict__:
            heavy, i = self.__dict__["_heavy"]
            self.recipe = heavy.get()[0][i]
            return self.recipe
        raise AttributeError(attr)

    @property
    def is_output(self) -> bool:
        """A single output (final, upscale, …), not one of several takes to pick from."""
        return not step_of(self.step).picked

    def targets(self, title: str, version: int) -> list[str]:
        """Layout paths this job's artifact must appear at, once its version is known."""
        return step_of(self.step).targets(self, title, version)


@dataclass
class StepState:
    name: str
    step: str
    status: str
    reasons: list[str] = field(default_factory=list)
    jobs: list[Job] = field(default_factory=list)
    inputs: InputFiles = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # e.g. "pick is out of date"
    rough: list[str] = field(default_factory=list)  # a film step: shots not at their last stage
    polished: str | None = None  # a user's file the lock will pin (see `Step.after_run`)

    @property
    def current_version(self) -> int | None:
        return next((j.version for j in self.jobs if j.from_spec), None)

    def __getattr__(self, attr: str) -> Any:
        # A saved state (see `vfbuild.plan.states`) makes its jobs and reads its inputs when
        # asked.
        d = self.__dict__
        if attr == "jobs" and "_thaw_jobs" in d:
            self.jobs = d["_thaw_jobs"]()
            return self.jobs
        if attr == "inputs" and "_heavy" in d:
            self.inputs = d["_heavy"].get()[1]
            return self.inputs
        raise AttributeError(attr)


class Resolution(Protocol):
    """What the engine gives a step's `resolve` (implemented by `plan.resolve.Resolver`)."""

    @property
    def film(self) -> Film: ...
    @property
    def root(self) -> Path: ...
    @property
    def locks(self) -> LockBook: ...

    frozen: bool

    def object_path(self, sha256: str) -> Path: ...
    def input_sha(self, relpath: str) -> str:
        """sha256 of a film input file, stat-cached."""
        ...

    def file_sha(self, path: Path) -> str: ...
    def source_images(self) -> set[str]: ...
    def provider(self, step: str) -> Provider: ...
    def choice(self, step: str) -> ProviderChoice | None: ...
    def tier_size(self, tier: str) -> tuple[int, int]: ...
    def delivery_size(self) -> tuple[int, int]: ...
    @property
    def rough(self) -> str:
        """The size a rough cut is made at: `draft`, `final` or `delivery` (the build's ask,
        e.g. `vf build --tier final`, else the film's `rough:`)."""
        ...

    def tier_settings(self, step: str, tier: str) -> dict[str, Any]: ...
    def made_by(self, step: str, tier: str = "final") -> dict[str, Any]: ...
    def resolve(self, name: str, step: str) -> StepState: ...
    def artifact(self, key: str) -> Artifact | None: ...
    def take_jobs(
        self, name: str, step: str, base: dict[str, Any], seed0: int, takes: int
    ) -> list[Job]: ...
    def pick_jobs(
        self, shot: Shot, step: str, current: list[Job], state: StepState
    ) -> list[Job]: ...

    def frozen_pick(self, shot: Shot, step: str, state: StepState) -> StepState: ...
    def needs_pick(self, shot: Shot, step: str, state: StepState) -> StepState: ...
    def output_artifact(self, shot: Shot, upstream: str, state: StepState) -> Artifact | None: ...

    def output(self, state: StepState, recipe: Recipe) -> StepState: ...
    def pinned_recipe(self, name: str, step: str, recorded: dict[str, Any]) -> Recipe:
        """A recipe a lock recorded (a pick's), read back; a LockError when it is not one."""
        ...

    def finish(self, state: StepState) -> StepState: ...
    def edit_material(self, shot: Shot) -> tuple[Artifact, bool, str, bool] | None:
        """A shot's most advanced material: (artifact, is a still, stage, finished)."""
        ...


class Step:
    """One kind of work. Subclass it in a module of `vfbuild.steps` and `register` one instance
    (the built-in steps are found by their modules); the class attributes are the declaration."""

    name: ClassVar[str]
    order: ClassVar[int]  # place in the golden-rule order (keyframe 10, draft 20, …)
    scope: ClassVar[Literal["shot", "film"]] = "shot"
    # The `providers:` entry of shots.yaml that makes it; None: the local renderer.
    slot: ClassVar[str | None] = None
    # The first build tier that makes it: `vf build --tier draft` stops before final ones.
    tier: ClassVar[Tier] = "final"
    picked: ClassVar[bool] = False  # it makes takes that a human picks
    kind: ClassVar[Literal["image", "video", "audio"]] = "video"
    # The step of the same shot whose pick or output it reads.
    upstream: ClassVar[str | None] = None
    # It also reads the step just before it in the shot (lipsync, a voice take): its task
    # follows that step rather than `upstream`.
    after_previous: ClassVar[bool] = False
    # Its provider bills it by the clip's length (video steps of a shot).
    billed_by_seconds: ClassVar[bool] = False
    # Where its single output goes in the layout (steps that are not picked).
    output_dir: ClassVar[str | None] = None
    # Its artifact is finished material for the edit (a cut of those is not a rough cut).
    finished: ClassVar[bool] = False
    # Its output is the film's cut, the film the build reports (a film step: the edit).
    cut: ClassVar[bool] = False
    # Its artifact can stand for its shot in the edit (a film step uses the most advanced).
    edit_material: ClassVar[bool] = True
    # What its result must be before the store takes it (kind, size, length, sound); None:
    # not checked (see `vfbuild.media.contract`).
    contract: ClassVar[Contract | None] = None

    def applies(self, film: Film, shot: Shot) -> bool:
        """Whether `shot` goes through this step (lipsync: only shots with dialogue)."""
        return True

    def in_film(self, film: Film) -> bool:
        """Whether a film step has work in `film` (the music: only a film with `music:`)."""
        return True

    def takes(self, shot: Shot) -> int:
        """How many takes a picked step makes of `shot`."""
        return 1

    def maker(self) -> Provider | None:
        """A step with no `providers:` slot may make its artifacts itself: return a provider
        (the `vfbuild.providers.base.Provider` protocol) that does. None: the embedded `local`
        provider makes it."""
        return None

    def seconds(self, shot: Shot | None) -> float | None:
        """The clip length a provider bills this step's takes by (None: not by length)."""
        return clip_seconds(shot) if self.billed_by_seconds and shot is not None else None

    def resolve(self, r: Resolution, shot: Shot | None) -> StepState:
        """The state of this step for `shot` (None for a film step): its jobs and recipes."""
        raise NotImplementedError

    def targets(self, job: Job, title: str, version: int) -> list[str]:
        """Layout paths a job's artifact must appear at."""
        ext = job.ext
        if not self.picked:
            folder = self.output_dir or layout.UPSCALED
            return [layout.output_path_in(folder, job.name, job.step, version, ext)]
        paths = [layout.take_path(job.name, job.step, version, job.take, ext)]
        if job.picked:
            paths.append(layout.selected_path(job.name, job.step, version, job.take, ext))
        return paths

    def links(self, film: Film, shot: Shot) -> list[tuple[str, str]]:
        """Steps of other shots whose pick or output this step of `shot` reads, as (shot id,
        step name): the graph runs them first, and a change to their shot's lock makes this
        step be worked out again (continuity: a frame of another shot)."""
        return []

    def fingerprint_files(self, shot: str, names: set[str]) -> list[str]:
        """Names in 01_Source_Images that are inputs of this step for `shot` (a user's
        polished keyframe): a saved state of the shot is stale when one changes."""
        return []

    def __repr__(self) -> str:
        return f"<step {self.name}>"


def step_of(name: str) -> Step:
    from vfbuild.steps import get

    return get(name)
