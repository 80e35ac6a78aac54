"""Run one step of one shot: make the missing takes, store them, put them in the layout.

Order of writes for each take, so a killed build loses nothing and leaves nothing half-made:
the provider writes a temp file under `.vf/tmp`; the store hashes it and renames it into
`.vf/objects`; the recipe index records it; the version is allocated in the lock; the take is
hardlinked into the layout; prompts.txt is appended. Each of those is atomic, and every one of
them is redone from the store (for free) if the process dies before the next.
"""

from __future__ import annotations

import contextlib
import functools
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vfbuild import steps
from vfbuild.errors import (
    FrozenError,
    InputRefused,
    PinnedMissing,
    ResultRejected,
    StepFailed,
    StoreError,
    VfError,
)
from vfbuild.fsutil import is_within, temp_path
from vfbuild.plan import events as ev
from vfbuild.plan.cost import Coster
from vfbuild.plan.events import BuildEvent
from vfbuild.plan.fallback import Attempt, attempts, journal_keys
from vfbuild.plan.maker import cannot_remake, job_provider, remake_hint
from vfbuild.plan.resolve import DONE, STALE, Job, Resolver, StepState
from vfbuild.plan.slots import Download, Slots
from vfbuild.project import Project
from vfbuild.providers.base import Awaiting, InputFiles, MakeContext, Provider
from vfbuild.providers.pricing import Budget
from vfbuild.store import layout, vfdir
from vfbuild.store.journal import (
    FAILED,
    LEDGERED,
    REFUSED,
    STORED,
    SUBMITTED,
    SUBMITTING,
    Journal,
    JournalEntry,
)
from vfbuild.store.ledger import Ledger, lost_job_id
from vfbuild.store.locks import FILM_LOCK, Output, Polished
from vfbuild.store.objects import Artifact

if TYPE_CHECKING:
    from vfbuild.store.teamcache import TeamCache


@dataclass
class BuildOptions:
    """How a build may spend: how many jobs at once, the budget, and the two explicit
    permissions to send a job again."""

    jobs: int = 1
    frozen: bool = False
    budget: float | None = None
    resubmit: bool = False  # a job whose submit reply was lost may be sent again
    retry_failed: bool = False  # a job the provider failed may be tried again
    wait: bool = True  # for another command that holds the film's lock (else FilmBusy)
    rough: str | None = None  # a rough cut's size for this build (None: the film's `rough:`)


@dataclass
class BuildEvents:
    """What happened, for the CLI to report. Shared by the build's threads."""

    made: list[str] = field(default_factory=list)
    spent: float = 0.0  # dollars of the paid jobs this build made
    inbox: list[str] = field(default_factory=list)  # manual takes waiting for the user
    notes: list[str] = field(default_factory=list)
    errors: list[VfError] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    # Bound when the build starts: doit swaps sys.stdout while an action runs.
    echo: Callable[[str], None] = field(
        default_factory=lambda: functools.partial(print, file=sys.stdout, flush=True)
    )
    # Hears every event, typed (a live display); without it, the events' lines go to `echo`.
    listen: Callable[[BuildEvent], None] | None = None

    def say(self, line: str) -> None:
        self.emit(BuildEvent(ev.LINE, line))

    def emit(self, event: BuildEvent) -> None:
        with self.lock:
            if self.listen is not None:
                self.listen(event)
            elif event.line:
                self.echo(event.line)


def _blocks_downstream(state: StepState, failed: set[str]) -> bool:
    """Whether the steps after this one must wait: the next step reads only this one's pick
    (a draft, its keyframe pick; a final, its draft pick), so takes that failed beside a pick
    that is made hold nothing back. Each failure is still reported, and the build still ends
    non-zero. A step with no pick, or an output step, blocks what follows as before."""
    picked = [j for j in state.jobs if j.picked]
    return not picked or any(j.key in failed for j in picked)


def job_label(job: Job) -> str:
    """How a job is named to the user: `s010 draft t02`, `s010 final`, `edit`."""
    if job.name == FILM_LOCK:  # the film's music takes: `music t02`
        return job.step + ("" if job.is_output else f" t{job.take:02d}")
    return f"{job.name} {job.step}" + ("" if job.is_output else f" t{job.take:02d}")


def take_event(
    kind: str,
    job: Job,
    *,
    line: str = "",
    state: str = "",
    provider: str = "",
    cost: float | None = None,
    fraction: float | None = None,
) -> BuildEvent:
    """An event about one take (or one output) of a step."""
    return BuildEvent(
        kind,
        line,
        label=job_label(job),
        shot="" if job.name == FILM_LOCK else job.name,
        step=job.step,
        take=None if job.is_output else job.take,
        provider=provider,
        state=state,
        cost=cost,
        fraction=fraction,
    )


class InOrder:
    """A step's takes, recorded in take order, each as soon as it and every take before it
    are done. Whoever finishes a take records those now ready, one recorder at a time."""

    def __init__(self, jobs: list[Job], record: Callable[[Job], object]) -> None:
        self.jobs = jobs
        self.record = record
        self.finished: set[str] = set()
        self.next = 0
        self.turn = threading.Lock()
        self.errors: list[Exception] = []

    def done(self, job: Job) -> None:
        with self.turn:
            self.finished.add(job.key)
            while self.next < len(self.jobs) and self.jobs[self.next].key in self.finished:
                ready = self.jobs[self.next]
                self.next += 1
                try:
                    self.record(ready)
                except Exception as e:  # raised in the step's own thread (`raise_error`)
                    self.errors.append(e)

    def raise_error(self) -> None:
        if self.errors:
            raise self.errors[0]


class StepRunner:
    def __init__(
        self, project: Project, events: BuildEvents, options: BuildOptions | None = None
    ) -> None:
        self.p = project
        self.events = events
        self.options = options or BuildOptions()
        self.frozen = self.options.frozen
        self.tmp_dir = vfdir.at(project.root, vfdir.TMP)
        self.journal = Journal(project.journal_dir)
        self.ledger = Ledger(project.root)
        self.coster = Coster(project)
        self.budget = Budget(self.options.budget) if self.options.budget is not None else None
        # Every take, whoever makes it, runs in one of `jobs` slots: takes of one step run
        # side by side, and the build never has more than `-j` jobs in flight (see `slots`).
        self.slots = Slots(self.options.jobs)
        self.early: dict[tuple[str, str], Future[StepState]] = {}
        # Recipe key -> the take that makes it in this build, and a lock per key (`_make`).
        self._makers: dict[str, str] = {}
        self._claims: dict[str, threading.Lock] = {}
        self._claims_lock = threading.Lock()
        # Recipe key -> "provider model" of the fallback that made it (see `plan.fallback`).
        self._made_by: dict[str, str] = {}
        self._team: TeamCache | None = None  # the film's remote cache, opened when needed
        self._team_opened = False
        # The steps whose inputs were found sound: a step's inputs are its takes' too, and the
        # segment step of a 1000-shot film has 1000 takes reading 1000 clips (checked per take,
        # a million stats and realpaths, with 1000 threads fighting for the GIL).
        self._inputs_checked: dict[int, StepState] = {}  # held, so no id is reused
        self._inputs_lock = threading.Lock()  # the takes started together wait for one check

    def resolver(self) -> Resolver:
        return Resolver(self.p, frozen=self.frozen, rough=self.options.rough)

    def start(self, name: str, step: str) -> None:
        """Begin a step now, in a thread of its own; `run` of that step waits for it and
        returns (or raises) what it did. For a step whose inputs are all made: its first
        jobs reach the provider while the task runner is still being imported and started
        (~0.15 s), instead of after."""
        done: Future[StepState] = Future()
        self.early[(name, step)] = done

        def work() -> None:
            try:
                done.set_result(self._run(name, step))
            except BaseException as e:  # handed to whoever runs the step
                done.set_exception(e)

        threading.Thread(target=work, name=f"{name}:{step}", daemon=True).start()

    def run(self, name: str, step: str) -> StepState:
        try:
            started = self.early.pop((name, step), None)
            if started is not None:
                return started.result()
            return self._run(name, step)
        finally:
            who = "" if name == FILM_LOCK else name
            self.events.emit(BuildEvent(ev.STEP_DONE, shot=who, step=step))

    def _run(self, name: str, step: str) -> StepState:
        state = self.resolver().resolve(name, step)
        if state.status not in (STALE, DONE):
            return state
        missing = [j for j in state.jobs if self.artifact(j) is None]
        if missing:
            who = "" if name == FILM_LOCK else name
            self.events.emit(BuildEvent(ev.STEP, shot=who, step=step, count=len(missing)))
        failed = self._make_all(missing, state)
        if failed and _blocks_downstream(state, failed):
            raise StepFailed(f"{name} {step}: {len(failed)} take(s) not made")
        if state.polished is not None and not self.frozen:
            self._adopt_polished(state)
        return state

    def artifact(self, job: Job) -> Artifact | None:
        art = self.p.index.lookup(job.key)
        return art if art is not None and self.p.store.has(art.sha256) else None

    def _make_all(self, jobs: list[Job], state: StepState) -> set[str]:
        """Make the missing takes, side by side, and record every take of the step (layout,
        locks, ledger, prompts.txt) in take order, each as soon as it and the takes before
        it are made: a step's last take is not followed by the bookkeeping of all the others.
        Returns the keys of the takes that failed (each failure is reported on its own, and
        the other takes are kept)."""
        failed: set[str] = set()

        def record(job: Job) -> None:
            if job.key not in failed:
                self._ensure(job, state)

        made = InOrder(state.jobs, record)
        to_make = {j.key for j in jobs}
        for job in state.jobs:
            if job.key not in to_make:
                made.done(job)  # made by an earlier build

        def one(job: Job) -> None:
            try:
                result = self._make(job, state)
                if isinstance(result, Awaiting):
                    with self.events.lock:
                        self.events.inbox.append(result.message)
                        failed.add(job.key)
                    self.events.emit(take_event(ev.INBOX, job))
                elif job.version is None:
                    # A step's takes share its version: the first take made records it,
                    # while the others may still be at the provider.
                    self.p.locks.allocate_version(job.name, job.step, job.version_key)
            except VfError as e:
                with self.events.lock:
                    self.events.errors.append(e)
                    failed.add(job.key)
                self.events.emit(take_event(ev.FAILED, job))
            except Exception as e:  # a bug: raised in the step's own thread, after the others
                with self.events.lock:
                    failed.add(job.key)
                made.errors.append(e)
                self.events.emit(take_event(ev.FAILED, job))
            made.done(job)

        if len(jobs) == 1 or self.options.jobs == 1:
            for job in jobs:
                one(job)
        else:
            threads = [threading.Thread(target=one, args=(j,), daemon=True) for j in jobs]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        made.raise_error()
        return failed

    def _ensure(self, job: Job, state: StepState) -> None:
        art = self.artifact(job)
        if art is None:
            made = self._make(job, state)
            if isinstance(made, Awaiting):
                return  # its file is not in the inbox (any more): nothing to record yet
            art = made
        version = job.version
        if version is None:
            version = self.p.locks.allocate_version(job.name, job.step, job.version_key)
        self._record_cost(job, version, art)
        title = self.p.film.film.title
        obj = self.p.store.path(art.sha256)
        for target in job.targets(title, version):
            layout.materialize(obj, self.p.root / target)
        if job.is_output:
            target = job.targets(title, version)[0]
            self.p.locks.set_output(
                job.name,
                job.step,
                Output(
                    version=version,
                    key=job.key,
                    sha256=art.sha256,
                    file=target,
                    recipe=job.recipe.as_dict(),
                    made_by=self._made_by.get(job.key),
                ),
            )
            from vfbuild.finish.hooks import after_output

            said = after_output(self.p, job, version, target)  # the edit's timeline, quick QC
            for line in said.lines:
                self.events.say(line)
            with self.events.lock:
                self.events.notes.extend(said.notes)
        if job.recipe.prompt:
            r = job.recipe
            self.p.prompts.append(
                key=job.key,
                shot=job.name,
                step=job.step,
                version=version,
                take=job.take,
                seed=r.get("seed"),
                provider=r["provider"],
                model=r["model"],
                prompt=r["prompt"],
                negative=r.get("negative"),
            )

    def _make(self, job: Job, state: StepState) -> Artifact | Awaiting:
        # Two shots can share a recipe (the same keyframe prompt and seed, two clips that came
        # back as the same bytes and are upscaled alike), and their steps may run side by
        # side: one of them makes the take, the other waits for it and takes it too. Without
        # this both would submit (the journal then stops the second as a lost reply).
        label = job_label(job)
        with self._claim(job.key):
            first = self._makers.setdefault(job.key, label)
            if first != label:
                art = self.artifact(job)
                if art is not None:
                    line = f"  {label}: the same recipe as {first}, made once"
                    self.events.emit(take_event(ev.MADE, job, line=line))
                    return art
                if job_provider(self.p, job).paid:
                    raise VfError(
                        f"{label}: not made: it is the same recipe as {first}, which this "
                        "build did not make",
                        hint=f"see what was said of {first}; the two are made together",
                    )
                # Free work (a local render, a manual request) is simply asked for again.
            return self._make_new(job, state, label)

    def _claim(self, key: str) -> threading.Lock:
        with self._claims_lock:
            return self._claims.setdefault(key, threading.Lock())

    def team(self) -> TeamCache | None:
        """The film's remote cache (`remotes:`), or None; opened at the first take to make."""
        with self._claims_lock:
            if not self._team_opened:
                from vfbuild.store.teamcache import TeamCache, choose_remote

                remote = choose_remote(self.p.film.remotes)
                if remote is not None:
                    self._team = TeamCache(self.p.root, self.p.store, self.p.index, remote)
                self._team_opened = True
            return self._team

    def _make_new(self, job: Job, state: StepState, label: str) -> Artifact | Awaiting:
        # Before anything is made (or paid for), the remote cache may have the take: a
        # teammate's, verified by sha256 on the way in.
        team = self.team()
        if team is not None:
            art = team.fetch(job.key, job.recipe.as_dict(), job.pinned_sha256, job.ext)
            if art is not None:
                self._fetched(job, label, team)
                return art
        # A pinned artifact may only be remade by a deterministic (free) provider, and must
        # come out with the pinned bytes: the provider its recipe names, which made it, not
        # the slot's provider of today (`vf plan` says the same, see `plan.maker`).
        why = cannot_remake(self.p, job)
        if why is not None and not self.frozen:
            raise PinnedMissing(
                f"{label}: the pinned take {(job.pinned_sha256 or '')[:12]}… is not in the store, "
                f"and cannot be made again: {why}; nothing was sent",
                hint=remake_hint(job),
            )
        prov = job_provider(self.p, job)
        if self.frozen and (prov.paid or not prov.deterministic):
            raise FrozenError(
                f"{label}: the pinned artifact {job.pinned_sha256 or '?'} is not in the store, "
                f"and {prov.name} is a paid provider that --frozen never calls",
                hint="fetch it from the remote cache, or build without --frozen",
            )
        self._check_inputs(job, state)
        if team is None or not prov.paid:
            return self._make_checked(job, state, prov, label)
        # Never pay twice across the team: claim the recipe on the remote first; a teammate
        # holding it makes it, and this build takes what they publish.
        claim = team.claim(
            job.key,
            job.recipe.as_dict(),
            job.pinned_sha256,
            job.ext,
            lambda line: self.events.say(f"  {label}: {line}"),
        )
        if isinstance(claim, Artifact):
            self._fetched(job, label, team)
            return claim
        made = False
        try:
            result = self._make_checked(job, state, prov, label)
            if isinstance(result, Artifact):
                self._publish(team, job, prov, result, label)
            made = True
        finally:
            claim.stop(release=not made)
        return result

    def _fetched(self, job: Job, label: str, team: TeamCache) -> None:
        line = f"  fetched {label} from the remote {team.remote.name}"
        self.events.emit(take_event(ev.MADE, job, line=line, provider="remote"))
        with self.events.lock:
            self.events.made.append(label)

    def _publish(
        self, team: TeamCache, job: Job, prov: Provider, art: Artifact, label: str
    ) -> None:
        """Put a paid take on the remote at once: teammates waiting on its claim take it."""
        entry = self.journal.get(job.key)
        try:
            team.publish(
                job.key,
                art,
                job.recipe.as_dict(),
                provider=prov.name,
                model=job.recipe.model,
                job_id=entry.job_id if entry is not None else None,
                cost=entry.cost if entry is not None else None,
            )
        except VfError as e:
            self.events.say(f"  {label}: not pushed to the remote: {e.message} (`vf push` later)")

    def _make_checked(
        self, job: Job, state: StepState, prov: Provider, label: str
    ) -> Artifact | Awaiting:
        if prov.versions_early and job.version is None:
            # The request names the file to drop, version included, so it needs one now.
            job.version = self.p.locks.allocate_version(job.name, job.step, job.version_key)
        ctx = MakeContext(
            key=job.key,
            label=label,
            progress=self._progress(label, job),
            journal=self.journal,
            budget=self.budget,
            cost=self.coster.cost(job),
            resubmit=self.options.resubmit,
            retry_failed=self.options.retry_failed,
            film_root=self.p.root,
            expected_name=Path(job.targets(self.p.film.film.title, job.version or 0)[0]).name,
            lost=functools.partial(self._record_lost, job),
            state=lambda now: self.events.emit(
                take_event(ev.TAKE, job, state=now, provider=prov.name)
            ),
        )
        tries = attempts(self.p, job, prov)
        for n, attempt in enumerate(tries):
            slot = self.slots.take()
            ctx.key, ctx.slot = attempt.key, contextlib.nullcontext()
            if n:
                ctx.cost = self._attempt_cost(job, attempt)
            ctx.state(ev.PENDING)
            try:
                art = self._attempt(job, attempt, ctx, slot, state.inputs)
            except InputRefused as e:
                if n + 1 == len(tries):
                    raise
                nxt = tries[n + 1]
                self.events.say(
                    f"  {label}: {attempt.provider.name} refused it for good ({e.message}); "
                    f"{nxt.made_by} makes it (fallback)"
                )
                continue
            prov = attempt.provider
            if n:
                self._made_by[job.key] = attempt.made_by
            break
        if isinstance(art, Awaiting):
            return art
        start = slot.taken or time.monotonic()
        # The bookkeeping below (a few fsyncs) waits, as downloads do, while other takes
        # submit: their journal entries are fsynced before their jobs can start.
        self.slots.calm()
        self.p.index.record(job.key, art, job.recipe.as_dict(), made_by=self._made_by.get(job.key))
        if prov.ledgered and self.journal.get(ctx.key) is None:
            # Manual work has no entry yet: this one carries its declared cost to the ledger.
            # A paid job's entry stays `submitted`: the recipe index now has its take, and its
            # ledger row moves it on (`_record_cost`), one fsynced write fewer per take.
            self.journal.put(
                JournalEntry(
                    ctx.key,
                    prov.name,
                    job.recipe.model,
                    label,
                    STORED,
                    cost=ctx.cost,
                    sha256=art.sha256,
                )
            )
        cost = f", ${ctx.cost:.2f}" if prov.paid and ctx.cost is not None else ""
        line = f"  made {label} ({prov.name}, {time.monotonic() - start:.1f}s{cost})"
        paid = ctx.cost if prov.paid else None
        self.events.emit(take_event(ev.MADE, job, line=line, provider=prov.name, cost=paid))
        with self.events.lock:
            self.events.made.append(label)
        return art

    def _attempt(
        self, job: Job, attempt: Attempt, ctx: MakeContext, slot: Any, inputs: InputFiles
    ) -> Artifact | Awaiting:
        """One provider's go at the take (the slot's, or a fallback's)."""
        prov = attempt.provider
        if prov.holds_slot:
            ctx.slot, ctx.started, ctx.transfer = slot, slot.started, Download(self.slots)
            return self._make_in_slot(job, prov, ctx, inputs, attempt.recipe)
        with slot:
            slot.started()  # a local render is under way once it has its slot
            ctx.state(ev.RUNNING)
            return self._make_in_slot(job, prov, ctx, inputs, attempt.recipe)

    def _attempt_cost(self, job: Job, attempt: Attempt) -> float | None:
        """The priced cost of a fallback's take (its provider, its model)."""
        from vfbuild.providers.pricing import take_cost

        if not attempt.provider.ledgered:
            return 0.0
        units = attempt.provider.units(job.step, job.seconds)
        return take_cost(self.coster.prices, attempt.recipe, units)

    def _make_in_slot(
        self,
        job: Job,
        prov: Provider,
        ctx: MakeContext,
        inputs: InputFiles,
        recipe: dict[str, Any] | None = None,
    ) -> Artifact | Awaiting:
        label = ctx.label
        sent = recipe if recipe is not None else job.recipe.as_dict()
        with temp_path(self.tmp_dir, suffix=job.ext) as tmp:
            if (waiting := prov.make(sent, inputs, tmp, ctx)) is not None:
                return waiting
            self._check_result(job, prov, ctx, inputs, tmp)
            expected = job.pinned_sha256 if prov.deterministic else None
            try:
                art = self.p.store.put(tmp, job.ext, expected_sha256=expected)
            except StoreError as e:
                raise (FrozenError if self.frozen else StoreError)(
                    f"{label}: remade from its recipe, but the bytes differ from the locked "
                    f"{job.pinned_sha256[:12] if job.pinned_sha256 else ''}… ({e.message})",
                    hint="the local renderer (ffmpeg/Pillow) differs from the one that made the "
                    "lock; pick again with `vf pick`, or install the pinned versions",
                ) from None
        return art

    def _check_result(
        self, job: Job, prov: Provider, ctx: MakeContext, inputs: InputFiles, tmp: Path
    ) -> None:
        """Refuse a take that is not what its step asked (`media.contract`) before the store
        sees it. A paid job's entry becomes `failed`, as when the provider fails it: a plain
        build then reports it without paying again, and `--retry-failed` makes it anew."""
        from vfbuild.media.contract import check_result

        clip = inputs.get("clip")
        try:
            check_result(
                steps.get(job.step).contract,
                job.recipe
                if ctx.key == job.key
                else {**job.recipe.as_dict(), "provider": prov.name},
                tmp,
                label=ctx.label,
                provider=prov,
                clip=clip[0] if isinstance(clip, list) else clip,
            )
        except ResultRejected as e:
            entry = self.journal.get(ctx.key)
            if entry is not None and entry.state == SUBMITTED:
                # The provider made the job and billed it: the ledger says so (`vf cost` tells
                # the truth), though nothing of it is kept.
                self._ledger_unstored(job, entry, entry.job_id or "", "refused")
                error = e.message.removeprefix(f"{ctx.label}: ")  # said again with the label
                self.journal.update(entry, state=FAILED, error=error)
                e.hint = (
                    "nothing was stored (the job it was is in ledger.csv: it was billed); it is "
                    "marked failed: `vf build --retry-failed` makes it again (a new attempt is "
                    "charged), or change the provider or model in shots.yaml"
                )
            elif prov.by_hand:
                e.hint = (
                    f"nothing was stored; make the take again and save it over "
                    f"inbox/{job.name}/{job.step}/{Path(ctx.expected_name).stem}.*"
                )
            raise

    def _record_cost(self, job: Job, version: int, art: Artifact) -> None:
        """Append the ledger row of a take a paid provider made (once: the journal remembers)."""
        try:
            prov = job_provider(self.p, job)
        except VfError:
            return  # a pick an unknown provider made, and a clone brought: nothing we paid
        if not prov.ledgered:
            return
        entry = self.journal.get(job.key)
        if entry is not None and entry.state == REFUSED:  # a fallback made it: its entry
            fallbacks = (self.journal.get(k) for k in journal_keys(self.p, job))
            entry = next((e for e in fallbacks if e is not None and e.state != REFUSED), None)
        if entry is None or entry.state not in (SUBMITTED, STORED):
            return
        # The job was paid and its take is here (`submitted`: as the take was made, or a build
        # killed before its row): the row is owed. The ledger skips a row it already has, so a
        # build killed between the row and the journal's `ledgered` adds none twice.
        written = self.ledger.append(
            shot=job.name,
            step=job.step,
            version=version,
            take=job.take,
            provider=entry.provider,
            model=entry.model,
            recipe_key=job.key,
            job_id=entry.job_id or "",
            cost=entry.cost,
        )
        self.journal.update(entry, state=LEDGERED, sha256=art.sha256)
        if written:  # a recipe two shots share is paid (and said) once
            with self.events.lock:
                self.events.spent += entry.cost or 0.0
                spent = self.events.spent
            self.events.emit(BuildEvent(ev.SPENT, spent=spent))

    def _record_lost(self, job: Job, entry: JournalEntry) -> None:
        """A ledger row for a job whose submit reply was lost, as `--resubmit` sends it again:
        the provider (fal, Runway) probably took and billed it, and cannot be asked. Its cost
        is the estimate; `vf cost` shows it as lost."""
        job_id = lost_job_id(entry.times.get(SUBMITTING, 0.0))
        self._ledger_unstored(job, entry, job_id, "lost")

    def _ledger_unstored(self, job: Job, entry: JournalEntry, job_id: str, why: str) -> None:
        """The ledger row of a paid job whose take was not stored: `lost` (its reply was lost
        and it is sent again) or `refused` (its result failed its step's contract)."""
        version = job.version
        if version is None:  # the step's takes share it; this recipe was sent, so it has one
            version = self.p.locks.allocate_version(job.name, job.step, job.version_key)
        written = self.ledger.append(
            shot=job.name,
            step=job.step,
            version=version,
            take=job.take,
            provider=entry.provider,
            model=entry.model,
            recipe_key=job.key,
            job_id=job_id,
            cost=entry.cost,
        )
        if written:
            cost = "" if entry.cost is None else f" (${entry.cost:.2f} estimated)"
            said = (
                "whose reply was lost is ledgered as lost{cost}; sending it again"
                if why == "lost"
                else "whose result was refused is ledgered{cost}: it was billed"
            )
            self.events.say(
                f"  {job_label(job)}: the {entry.provider} job {said.format(cost=cost)}"
            )
            with self.events.lock:
                self.events.spent += entry.cost or 0.0
                spent = self.events.spent
            self.events.emit(BuildEvent(ev.SPENT, spent=spent))

    def _progress(self, label: str, job: Job | None = None) -> Callable[[float], None]:
        """Report long jobs (the edit) at every quarter, so a build never looks stuck (and
        each percent to a live display)."""
        shown = [0]
        percent = [0]

        def report(fraction: float) -> None:
            quarter = int(fraction * 4)
            line = ""
            if 0 < quarter < 4 and quarter > shown[0]:
                shown[0] = quarter
                line = f"  {label}: {quarter * 25}%"
            if job is None:
                if line:
                    self.events.say(line)
                return
            if line or int(fraction * 100) > percent[0]:
                percent[0] = int(fraction * 100)
                self.events.emit(take_event(ev.PROGRESS, job, line=line, fraction=fraction))

        return report

    def _check_inputs(self, job: Job, state: StepState) -> None:
        if id(state) in self._inputs_checked:
            return
        with self._inputs_lock:
            if id(state) not in self._inputs_checked:
                self._check_inputs_once(job, state)

    def _check_inputs_once(self, job: Job, state: StepState) -> None:
        for role, value in state.inputs.items():
            for f in value if isinstance(value, list) else [value]:
                if not Path(f).exists():
                    raise StoreError(
                        f"{job.name} {job.step}: its {role} input {f} is missing",
                        hint="build the upstream step first (`vf build`), or restore the file",
                    )
                # What a provider reads (and a remote one uploads) stays inside the film,
                # whatever a lock names or a link points to.
                if not (is_within(Path(f), self.p.root) or is_within(Path(f), self.p.store.root)):
                    raise StoreError(
                        f"{job.name} {job.step}: its {role} input {f} is a link to a file "
                        "outside the film folder",
                        hint="copy the file into the film instead of linking to it",
                    )
        self._inputs_checked[id(state)] = state

    def _adopt_polished(self, state: StepState) -> None:
        """Pin the user's polished keyframe in the lock; downstream then builds from it."""
        pick = self.p.locks.pick(state.name, state.step)
        if state.polished is None or pick is None:
            return
        sha = self.p.hashes.sha256(self.p.root / state.polished)
        new = pick.model_copy(update={"polished": Polished(file=state.polished, sha256=sha)})
        self.p.locks.set_pick(state.name, state.step, new)
        self.events.say(
            f"  {state.name}: the lock now pins your polished keyframe {state.polished}"
        )
