"""The library API: what `vf`, the review page, scripts and tests call.

    import vfbuild
    film = vfbuild.open("my-film")
    plan = film.plan()                      # Plan: a row per step that is not done, the cost
    report = film.build(jobs=4, on_event=print)
    film.pick("s010", "keyframe", 3)
    for row in film.status(): ...

Every call returns a typed result (frozen dataclasses of plain values, so they print as JSON
alike) and raises only `vfbuild.errors.VfError`s. `build` and `plan` answer from their stamps
when nothing changed since the last time they made nothing (see `vfbuild.plan.stamp`), so a
script gets the same fast no-op as the command line.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from vfbuild.errors import VfError
from vfbuild.fsutil import find_film_root

if TYPE_CHECKING:
    from vfbuild.finish.export import ExportResult
    from vfbuild.finish.qc import QcReport
    from vfbuild.plan.events import BuildEvent
    from vfbuild.plan.integrity import VerifyResult
    from vfbuild.plan.pick import PickResult
    from vfbuild.plan.takes import TakeRow
    from vfbuild.project import Project
    from vfbuild.store.gc import GcResult
    from vfbuild.store.journal import JournalEntry
    from vfbuild.store.ledger import LedgerRow
    from vfbuild.store.remotegc import RemoteGcResult
    from vfbuild.store.transfer import Meter, TransferReport

__all__ = [
    "BuildReport",
    "CostReport",
    "Film",
    "Graph",
    "GraphNode",
    "Plan",
    "PlanRow",
    "StatusRow",
    "TakeRow",
    "open",
]


def __getattr__(name: str) -> Any:
    # `TakeRow` is imported when asked for: it brings every step module, which a build that
    # answers from its stamp never needs (~13 ms of a 1000-shot no-op).
    if name == "TakeRow":
        from vfbuild.plan.takes import TakeRow

        return TakeRow
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@dataclass(frozen=True)
class PlanRow:
    """One step of the plan: its state, why, who would make it, and what that costs."""

    name: str  # a shot id, or "film" for the film's steps
    step: str
    status: str  # done, stale, waiting, needs-pick, error
    provider: str
    model: str
    to_make: int  # takes a build would generate now
    cost: float  # dollars for those takes (the priced ones)
    cost_known: bool  # False when a take to make has no price
    reasons: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    film_step: bool = False  # a step of the whole film (the edit): `name` is "film"
    from_remote: int = 0  # stale takes the remote cache has: fetched by a build, not paid


@dataclass(frozen=True)
class Plan:
    rows: tuple[PlanRow, ...]
    from_stamp: bool = False  # answered from the plan stamp: nothing changed since

    @property
    def pending(self) -> tuple[PlanRow, ...]:
        return tuple(r for r in self.rows if r.status != "done")

    @property
    def takes(self) -> int:
        return sum(r.to_make for r in self.rows)

    @property
    def cost(self) -> float:
        return sum(r.cost for r in self.rows)

    @property
    def unpriced(self) -> tuple[str, ...]:
        return tuple(f"{r.name} {r.step}" for r in self.rows if not r.cost_known)


@dataclass(frozen=True)
class StatusRow:
    name: str  # a shot id, or "film"
    step: str
    status: str
    version: int | None  # the current version, None when it is new or has none
    new: bool  # it has jobs of a recipe that has no version yet
    picked: bool  # a step whose takes are picked
    pick_take: int | None = None
    pick_version: int | None = None
    reasons: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    film_step: bool = False  # a step of the whole film (the edit): `name` is "film"


@dataclass(frozen=True)
class BuildReport:
    """What a build did, and what waits for the user."""

    header: str  # "vf build: <title>, N shot(s), tier T"
    made: tuple[str, ...] = ()  # labels of the takes made
    spent: float = 0.0  # dollars this build's paid jobs added to the ledger
    errors: tuple[VfError, ...] = ()
    notes: tuple[str, ...] = ()
    waiting: dict[str, tuple[str, ...]] = field(default_factory=dict)  # shot → picks to make
    inbox: tuple[str, ...] = ()  # manual takes waiting for the user's files
    film: str | None = None  # the film's latest cut, film-relative
    rough: tuple[str, ...] = ()  # shots of that cut not at their last stage
    seconds: float = 0.0
    from_stamp: bool = False  # answered from the no-op stamp

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def exit_code(self) -> int:
        return max((e.exit_code for e in self.errors), default=0)

    def to_record(self) -> dict[str, Any]:
        """The report as plain data (what the no-op stamp keeps); errors as their text."""
        data = asdict(self)
        data["errors"] = [e.render() for e in self.errors]
        return data

    @classmethod
    def from_record(cls, data: dict[str, Any]) -> BuildReport:
        return cls(
            header=str(data["header"]),
            made=tuple(data["made"]),
            spent=float(data["spent"]),
            notes=tuple(data["notes"]),
            waiting={str(k): tuple(v) for k, v in data["waiting"].items()},
            inbox=tuple(data["inbox"]),
            film=data["film"],
            rough=tuple(data["rough"]),
            from_stamp=True,
        )


@dataclass(frozen=True)
class GraphNode:
    """A task of the build: a shot's step, or a step of the film, and its plan status."""

    id: str  # the task's name: "s010:keyframe", "edit"
    name: str  # a shot id, or "film"
    step: str
    status: str  # as `vf plan` says: done, stale, waiting, needs-pick, error
    film_step: bool = False

    @property
    def stale(self) -> bool:
        return self.status == "stale"


@dataclass(frozen=True)
class Graph:
    """The build's task graph: each task once, in golden-rule order, and which follows which
    (`edges`: from a task to the one that waits for it). A film step follows every shot; it is
    drawn after the last tasks of each shot (the others come before those)."""

    nodes: tuple[GraphNode, ...]
    edges: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class CostReport:
    by_shot: dict[str, float]
    by_step: dict[str, float]
    by_provider: dict[str, float]
    total: float
    jobs: int
    lost: tuple[LedgerRow, ...] = ()  # rows of jobs whose submit reply was lost, sent again


def open(path: str | Path = ".") -> Film:  # noqa: A001 - `vfbuild.open(path)` reads best
    """The film in `path`, or in the nearest parent folder holding a shots.yaml."""
    return Film(find_film_root(Path(path)))


class Film:
    """A film folder. The film's spec is read when a call needs it (not by a stamped no-op)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._project: Project | None = None

    @property
    def project(self) -> Project:
        """The film opened for work (spec validated, store, locks); loaded once."""
        if self._project is None:
            from vfbuild.project import Project

            self._project = Project.open(self.root)
        return self._project

    # -- reading ---------------------------------------------------------------------------

    def check(self) -> None:
        """Validate shots.yaml and what it names; raises a SpecError listing every problem."""
        from vfbuild.plan import stamp

        # A film that passed, in a world that has not moved since, passes: no spec models
        # (pydantic) to import.
        key = ("check",)
        before = stamp.World(self.root, key, contents=False)
        if stamp.replay(self.root, before, stamp.CHECK_STAMP) == "passed":
            return
        from vfbuild.spec.load import load_film

        load_film(self.root)
        after = stamp.World(self.root, key, contents=False)
        stamp.record(self.root, before, after, "passed", stamp.CHECK_STAMP)

    def plan(
        self,
        *,
        shots: list[str] | None = None,
        tier: str = "final",
        frozen: bool = False,
        rough: str | None = None,
    ) -> Plan:
        """What is stale, why, who would make it and what it would cost. `rough`: as `build`."""
        from vfbuild.plan import stamp

        _check_rough(rough)
        key = ("plan", *stamp.args_key(tier, frozen, shots, rough))
        # What a plan says reads which takes are there, not their bytes (a build checks those).
        world = stamp.World(self.root, key, contents=False)
        said = stamp.replay(self.root, world, stamp.PLAN_STAMP)
        # A plan that asked the remote cache is not replayed: a teammate may have pushed since.
        if said is not None and not said.get("asked_remote"):
            try:
                return Plan(tuple(_rows_from(PlanRow, said)), from_stamp=True)
            except (KeyError, TypeError, ValueError):
                pass  # a stamp of another shape is only a cache
        plan = Plan(tuple(_plan_rows(self.project, shots, tier, frozen, rough)))
        asked = bool(self.project.film.remotes) and bool(plan.pending)
        record = {**_rows_record(PlanRow, plan.rows), "asked_remote": asked}
        after = stamp.World(self.root, key, contents=False)
        stamp.record(self.root, world, after, record, stamp.PLAN_STAMP)
        return plan

    def graph(
        self,
        *,
        shots: list[str] | None = None,
        tier: str = "final",
        frozen: bool = False,
        rough: str | None = None,
    ) -> Graph:
        """The build's task graph, each task with the status `plan` gives it."""
        from vfbuild.plan.graph import plan_tasks, task_name

        rows = {
            (r.film_step, r.name, r.step): r
            for r in self.plan(shots=shots, tier=tier, frozen=frozen, rough=rough).rows
        }
        specs = plan_tasks(self.project, shots, tier)
        nodes = []
        for spec in specs:
            row = rows.get((spec.film_step, _who(spec.name), spec.step))
            nodes.append(
                GraphNode(
                    id=task_name(spec.name, spec.step),
                    name=_who(spec.name),
                    step=spec.step,
                    status=row.status if row is not None else "error",
                    film_step=spec.film_step,
                )
            )
        edges = [(s.upstream, task_name(s.name, s.step)) for s in specs if s.upstream]
        followed = {up for up, _ in edges}
        last = [n.id for n in nodes if not n.film_step and n.id not in followed]
        edges += [(up, n.id) for n in nodes if n.film_step for up in last]
        return Graph(tuple(nodes), tuple(edges))

    def status(self, shots: list[str] | None = None) -> list[StatusRow]:
        """Each shot's steps: state, current version, pick. Answered from its stamp when
        nothing changed since the last time (as `plan`)."""
        from vfbuild.plan import stamp

        key = ("status", tuple(shots or ()))
        world = stamp.World(self.root, key, contents=False)  # as `plan`
        said = stamp.replay(self.root, world, stamp.STATUS_STAMP)
        if said is not None:
            try:
                return _rows_from(StatusRow, said)
            except (KeyError, TypeError, ValueError):
                pass  # a stamp of another shape is only a cache
        rows = self._status_rows(shots)
        record = _rows_record(StatusRow, rows)
        after = stamp.World(self.root, key, contents=False)
        stamp.record(self.root, world, after, record, stamp.STATUS_STAMP)
        return rows

    def _status_rows(self, shots: list[str] | None) -> list[StatusRow]:
        from vfbuild import steps
        from vfbuild.plan.report import step_lines

        project = self.project
        rows = []
        for ln in step_lines(project, shots=shots):
            st = ln.state
            picked = steps.get(st.step).picked
            pick = project.locks.pick(st.name, st.step) if picked else None
            rows.append(
                StatusRow(
                    name=_who(st.name),
                    step=st.step,
                    status=st.status,
                    version=st.current_version,
                    new=bool(st.jobs) and st.current_version is None,
                    picked=picked,
                    pick_take=pick.take if pick else None,
                    pick_version=pick.version if pick else None,
                    reasons=tuple(st.reasons),
                    notes=tuple(st.notes),
                    film_step=_film_step(st.name),
                )
            )
        return rows

    def takes(self, shots: list[str] | None = None) -> list[TakeRow]:
        """Every take in the layout of each shot's steps and of the film's edit, current and
        earlier versions, in film and step order (what `vf review` shows)."""
        from vfbuild.plan.takes import take_rows

        return take_rows(self.project, shots)

    def cost(self) -> CostReport:
        """What ledger.csv says was spent."""
        from vfbuild.store.ledger import Ledger, summarize

        rows = Ledger(self.root).rows()
        return CostReport(
            by_shot=summarize(rows, "shot"),
            by_step=summarize(rows, "step"),
            by_provider=summarize(rows, "provider"),
            total=sum(float(r.cost or 0) for r in rows),
            jobs=len(rows),
            lost=tuple(r for r in rows if r.lost),
        )

    def jobs(self, shots: list[str] | None = None) -> list[JournalEntry]:
        """Paid jobs in flight, lost or failed (the job journal)."""
        from vfbuild.plan import jobs

        return jobs.listed(self.project, shots)

    def lost_jobs(self, shots: list[str] | None = None) -> list[LedgerRow]:
        """Ledger rows of jobs sent again after a lost submit reply, whose take has not come
        back yet (worth a look in the provider's dashboard)."""
        from vfbuild.plan import jobs

        return jobs.lost_rows(self.project, shots)

    # -- finishing -------------------------------------------------------------------------

    def export(
        self, format: str = "otio", *, version: int | None = None, out: str | Path | None = None
    ) -> ExportResult:
        """An edit version's timeline (None: the latest) as otio, otioz, edl, fcpxml or
        fcp7xml, written to `out` or beside the version in 06_Edit/ (`vfbuild.finish.export`)."""
        from vfbuild.finish.export import export_version

        return export_version(self.project, format, version, Path(out) if out else None)

    def qc(self, *, version: int | None = None, quick: bool = False) -> QcReport:
        """Check an edit version (None: the latest) and every clip in it against the QC list
        (`vfbuild.finish.qc`); the report is kept as `06_Edit/<film>_vNNN.qc.json` (written
        once per version). `quick`: only what probing tells, nothing written."""
        from vfbuild.finish.cut import cut_of
        from vfbuild.finish.qc import check_cut, keep

        cut = cut_of(self.project, version)
        report = check_cut(self.project, cut, quick=quick)
        return report if quick else keep(self.project, cut, report)

    def verify(
        self,
        *,
        repair: bool = False,
        wait: bool = True,
        on_wait: Callable[[str], None] | None = None,
    ) -> VerifyResult:
        """Hash afresh what the locks pin, every store object and every layout file of every
        take, and name each that is not the artifact it should be (`plan.integrity`).
        `repair`: put right what can be, from the remote cache and the store, under the
        film's write lock, and verify again (`plan.repair`)."""
        from vfbuild.plan.graph import plan_tasks
        from vfbuild.plan.integrity import verify_film

        if not repair:
            return verify_film(self.project, list(plan_tasks(self.project, None, "final")))
        from vfbuild.plan.repair import repair_film
        from vfbuild.store.buildlock import film_lock

        with film_lock(self.root, "vf verify --repair", wait=wait, on_wait=on_wait):
            return repair_film(self.project, list(plan_tasks(self.project, None, "final")))

    # -- writing ---------------------------------------------------------------------------

    def gc(
        self,
        *,
        dry_run: bool = False,
        wait: bool = True,
        on_wait: Callable[[str], None] | None = None,
    ) -> GcResult:
        """Remove the store objects no lock, recipe record or journal entry uses, and the
        review thumbnails of objects gone (`store.gc`), under the film's write lock."""
        from vfbuild.store.buildlock import film_lock
        from vfbuild.store.gc import collect

        with film_lock(self.root, "vf gc", wait=wait, on_wait=on_wait):
            return collect(self.root, dry_run=dry_run)

    def gc_remote(
        self, *, remote: str | None = None, grace: float | None = None, dry_run: bool = False
    ) -> RemoteGcResult:
        """Remove the remote cache's `cas/` and `ac/` objects that nothing the locks record
        uses, and only those older than `grace` seconds (default 7 days): `store.remotegc`."""
        from vfbuild.store.remotegc import DEFAULT_GRACE, collect_remote
        from vfbuild.store.transfer import open_team

        p = self.project
        team = open_team(p.root, p.film.remotes, remote, p.store, p.index)
        wait = DEFAULT_GRACE if grace is None else grace
        return collect_remote(p.root, team.remote, grace=wait, dry_run=dry_run)

    def pick(
        self,
        shot: str,
        step: str,
        take: int,
        version: int | None = None,
        *,
        wait: bool = True,
        on_wait: Callable[[str], None] | None = None,
    ) -> PickResult:
        """Pin take `take` of the shot's step (its sha256) in locks/<shot>.yaml. Under the
        film's write lock: while a build runs it waits (`on_wait` hears why), or with
        `wait=False` raises `FilmBusy`."""
        from vfbuild.plan.pick import pick_take
        from vfbuild.store.buildlock import film_lock

        with film_lock(self.root, "vf pick", wait=wait, on_wait=on_wait):
            return pick_take(self.project, shot, step, take, version)

    def cancel(self, shots: list[str] | None = None) -> list[Any]:
        """Ask each provider to stop this film's jobs in flight (see `plan.jobs.cancel`)."""
        from vfbuild.plan import jobs

        return list(jobs.cancel(self.project, shots))

    # -- the remote cache ------------------------------------------------------------------

    def remote_add(self, name: str, url: str, lease: float | None = None) -> bool:
        """Add a remote cache to shots.yaml (`remotes:`); False if it was there already."""
        from vfbuild.spec.remoteadd import add_remote

        return add_remote(self.root / "shots.yaml", name, url, lease)

    def remotes(self) -> dict[str, str]:
        """The film's remote caches: name → URL, the default first."""
        return {name: r.url for name, r in self.project.film.remotes.items()}

    def push(
        self, *, all_takes: bool = False, remote: str | None = None, meter: Meter | None = None
    ) -> TransferReport:
        """Upload what the locks pin (`all_takes`: every take in the store) and their action
        records to the remote cache."""
        from vfbuild.store import transfer
        from vfbuild.store.journal import Journal

        p = self.project
        team = transfer.open_team(p.root, p.film.remotes, remote, p.store, p.index)
        pins = transfer.pinned(p.root / "locks", p.locks)
        if all_takes:
            keys = {pin.key for pin in pins}
            pins += [t for t in transfer.store_takes(p.index) if t.key not in keys]
        return transfer.push(team, Journal(p.journal_dir), pins, meter or transfer.Quiet())

    def pull(self, *, remote: str | None = None, meter: Meter | None = None) -> TransferReport:
        """Download what the locks pin from the remote cache, each blob verified."""
        from vfbuild.store import transfer

        p = self.project
        team = transfer.open_team(p.root, p.film.remotes, remote, p.store, p.index)
        pins = transfer.pinned(p.root / "locks", p.locks)
        return transfer.pull(team, pins, meter or transfer.Quiet())

    def build(
        self,
        *,
        shots: list[str] | None = None,
        tier: str = "final",
        jobs: int = 1,
        frozen: bool = False,
        budget: float | None = None,
        resubmit: bool = False,
        retry_failed: bool = False,
        on_event: Callable[[BuildEvent], None] | None = None,
        all_events: bool = False,
        wait: bool = True,
        rough: str | None = None,
    ) -> BuildReport:
        """Make what is stale, in golden-rule order. `on_event` hears each line of progress
        (the header first), from the build's threads, as a `BuildEvent` whose `str()` is the
        line; with `all_events` it also hears the events that say no line (a take queued,
        running, downloading; the takes each step makes; the money spent), for a live
        display. The report says what was made and what waits for the user. While another
        command holds the film's write lock the build waits for it (saying so as a line), or
        with `wait=False` raises `FilmBusy`. `rough` (`draft`, `final`, `delivery`) is the
        size of a rough cut this build makes, over the film's `rough:` (`vf build --tier final`
        asks for `final`)."""
        from vfbuild.plan import events as build_events
        from vfbuild.plan import stamp

        hear = on_event or (lambda event: None)

        def listen(event: BuildEvent) -> None:
            if all_events or event.line:
                hear(event)

        def say_header(header: str) -> None:
            line = f"{header}, -j {jobs}"
            listen(build_events.BuildEvent(build_events.HEADER, line, budget=budget, jobs=jobs))

        _check_rough(rough)
        key = stamp.args_key(tier, frozen, shots, rough)
        # --frozen builds only from verified bytes: its stamp sees each store object's stat.
        world = stamp.World(self.root, key, objects=frozen)
        said = stamp.replay(self.root, world)
        if said is not None:
            try:
                report = BuildReport.from_record(said)
            except (KeyError, TypeError, ValueError, AttributeError):
                report = None  # a stamp of another shape is only a cache
            if report is not None:
                say_header(report.header)
                return report
        from vfbuild.plan.execute import BuildEvents, BuildOptions
        from vfbuild.plan.graph import run_build
        from vfbuild.store import layout

        project = self.project
        mode = " --frozen" if frozen else ""
        header = (
            f"vf build{mode}: {project.film.film.title}, {len(project.shot_ids)} shot(s), "
            f"tier {tier}"
        )
        say_header(header)
        options = BuildOptions(
            jobs=jobs,
            frozen=frozen,
            budget=budget,
            resubmit=resubmit,
            retry_failed=retry_failed,
            wait=wait,
            rough=rough,
        )
        events = BuildEvents(listen=listen)
        start = time.monotonic()
        result = run_build(project, shots=shots, tier=tier, options=options, events=events)
        film_path: str | None = None
        rough_shots: tuple[str, ...] = ()
        edit = result.edit
        if edit is not None and edit.jobs and edit.jobs[0].version is not None:
            path = layout.edit_path(project.film.film.title, edit.jobs[0].version)
            if (project.root / path).exists():
                film_path, rough_shots = path, tuple(edit.rough)
        ev = result.events
        report = BuildReport(
            header=header,
            made=tuple(ev.made),
            spent=ev.spent,
            errors=tuple(ev.errors),
            notes=tuple(ev.notes),
            waiting={k: tuple(v) for k, v in result.waiting.items()},
            inbox=tuple(ev.inbox),
            film=film_path,
            rough=rough_shots,
            seconds=time.monotonic() - start,
        )
        if report.ok and not report.made and not report.inbox:
            # Nothing was made: the next build with nothing changed can say so from a stamp.
            after = stamp.World(self.root, key, objects=frozen)
            stamp.record(self.root, world, after, report.to_record())
        return report


_Row = TypeVar("_Row", PlanRow, StatusRow)


def _rows_record(kind: type[_Row], rows: Sequence[_Row]) -> dict[str, Any]:
    """Rows as a stamp keeps them: the field names once, each row a list of values (at 1000
    shots, 4,000 rows as mappings were 0.8 MB of JSON, and reading them back a tenth of a
    warm `vf status`). Read with getattr, not `asdict`: its deep copies cost 0.3 s."""
    names = [f.name for f in fields(kind)]
    return {"fields": names, "rows": [[getattr(r, n) for n in names] for r in rows]}


def _rows_from(kind: type[_Row], record: dict[str, Any]) -> list[_Row]:
    """The rows of `_rows_record`; ValueError when they were kept by another shape of them."""
    names = [f.name for f in fields(kind)]
    if record["fields"] != names:
        raise ValueError("rows of another shape")
    seqs = [i for i, n in enumerate(names) if n in ("reasons", "notes")]
    out = []
    for values in record["rows"]:
        for i in seqs:
            values[i] = tuple(values[i])
        out.append(kind(*values))
    return out


def _who(name: str) -> str:
    """The film's own steps (the edit) are shown under "film", not its lock's file name."""
    from vfbuild.store.locks import FILM_LOCK

    return "film" if name == FILM_LOCK else name


def _film_step(name: str) -> bool:
    from vfbuild.store.locks import FILM_LOCK

    return name == FILM_LOCK


def _check_rough(rough: str | None) -> None:
    from vfbuild.errors import UsageError

    if rough not in (None, "draft", "final", "delivery"):
        raise UsageError(f"rough: {rough!r} is not a size", hint="draft, final or delivery")


def _plan_rows(
    project: Project, shots: list[str] | None, tier: str, frozen: bool, rough: str | None = None
) -> list[PlanRow]:
    from vfbuild.plan.report import step_lines

    rows = []
    for ln in step_lines(project, shots=shots, tier=tier, frozen=frozen, rough=rough):
        st = ln.state
        reasons = tuple(st.reasons) or ((ln.error,) if ln.error else ())
        rows.append(
            PlanRow(
                name=_who(st.name),
                step=st.step,
                status=st.status,
                provider=ln.provider,
                model=ln.model,
                to_make=ln.to_make,
                cost=ln.cost,
                cost_known=ln.cost_known,
                reasons=reasons,
                notes=tuple(st.notes),
                film_step=_film_step(st.name),
                from_remote=ln.from_remote,
            )
        )
    return rows
