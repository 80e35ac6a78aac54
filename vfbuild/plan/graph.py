"""The doit task graph: one task per shot and step (its takes inside), plus the film's edit.

doit orders and parallelises; it is not the truth about what is built. A task is up to date
when the store holds the artifact of every recipe key it needs and the layout shows them (an
`uptodate` callable), so doit's own state file is only a cache and losing it loses nothing.
Jobs run in threads (`-P thread`), never processes: a dying process worker hangs doit 0.37.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import sys
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple

from vfbuild import steps
from vfbuild.errors import StepFailed, UsageError, VfError
from vfbuild.fsutil import read_only_film, sweep_temp
from vfbuild.plan.events import PLANNED, BuildEvent
from vfbuild.plan.execute import BuildEvents, BuildOptions, StepRunner
from vfbuild.plan.integrity import check_state
from vfbuild.plan.resolve import DONE, NEEDS_PICK, STALE, WAITING, StepState
from vfbuild.project import Project
from vfbuild.store import vfdir
from vfbuild.store.buildlock import film_lock
from vfbuild.store.locks import FILM_LOCK

# Steps started ahead of doit, per -j slot: enough to keep every slot busy with the next jobs
# ready. Not every ready step: a 5000-shot film started 5000 step threads (and their takes'),
# and one GIL shared among them made each take dearer the bigger the film (keyframes at 89
# takes/s for 1000 shots, 62/s for 2000, 14/s late in 5000).
EARLY_PER_SLOT = 4


@dataclass
class BuildResult:
    events: BuildEvents
    waiting: dict[str, list[str]]  # shot → what to pick / what it waits for
    edit: StepState | None = None  # the film's last step (the edit) as it stands after it

    @property
    def ok(self) -> bool:
        return not self.events.errors


class TaskSpec(NamedTuple):
    """One task of the build: a step of a shot (or of the film) and the task it follows."""

    name: str  # a shot id, or FILM_LOCK for a film step
    step: str
    upstream: str | None  # the task before it in its shot; None for a film step or the first

    @property
    def film_step(self) -> bool:
        return self.name == FILM_LOCK


def task_name(name: str, step: str) -> str:
    return step if name == FILM_LOCK else f"{name}:{step}"


def plan_tasks(project: Project, shots: list[str] | None, tier: str) -> list[TaskSpec]:
    """Every task of the build, in golden-rule order: each shot's steps of the build's tier,
    then (for a build of the whole film) the film's steps."""
    unknown = [s for s in shots or [] if s not in project.shot_ids]
    if unknown:
        raise UsageError(
            f"no shot named {', '.join(unknown)} in shots.yaml",
            hint=f"shots are: {', '.join(project.shot_ids[:20])}",
        )
    selected = linked_order(project, shots or project.shot_ids)
    # The build's tier and those before it (`--tier draft`: the draft tier's steps only).
    wanted = set(steps.TIERS[: steps.TIERS.index(tier) + 1])
    film = project.film
    out: list[TaskSpec] = []
    for sid in selected:
        prev = None
        made: set[str] = set()
        for step in steps.shot_steps(film, film.shot(sid)):
            if step.tier in wanted:
                # A step follows the step it reads, else the one before it in the shot.
                up = step.upstream if step.upstream in made and not step.after_previous else None
                out.append(TaskSpec(sid, step.name, task_name(sid, up) if up else prev))
                prev = task_name(sid, step.name)
                made.add(step.name)
    if not shots:
        out.extend(
            TaskSpec(FILM_LOCK, s.name, None) for s in steps.film_steps(film) if s.tier in wanted
        )
    return out


def linked_order(project: Project, ids: list[str]) -> list[str]:
    """`ids` in edit order, except that a shot comes after the shots whose picks or outputs
    its steps read (`Step.links`: continuity). The spec refuses a circle of them."""
    film = project.film
    needs: dict[str, list[str]] = {}
    for sid in ids:
        shot = film.shot(sid)
        needs[sid] = [o for st in steps.shot_steps(film, shot) for o, _ in st.links(film, shot)]
    if not any(needs.values()):
        return ids
    placed: dict[str, None] = {}

    def place(sid: str, path: frozenset[str]) -> None:
        if sid in placed or sid in path or sid not in needs:
            return
        for other in needs[sid]:
            place(other, path | {sid})
        placed[sid] = None

    for sid in ids:
        place(sid, frozenset())
    return list(placed)


def task_links(project: Project, specs: list[TaskSpec]) -> dict[str, list[str]]:
    """Tasks of other shots each task reads (`Step.links`), among the build's tasks."""
    film = project.film
    names = {task_name(s.name, s.step) for s in specs}
    out: dict[str, list[str]] = {}
    for spec in specs:
        if spec.film_step:
            continue
        shot = film.shot(spec.name)
        deps = [task_name(o, st) for o, st in steps.get(spec.step).links(film, shot)]
        deps = [d for d in deps if d in names]
        if deps:
            out[task_name(spec.name, spec.step)] = deps
    return out


@contextlib.contextmanager
def build_lock(
    project: Project, *, wait: bool = True, on_wait: Callable[[str], None] | None = None
) -> Iterator[None]:
    """One build at a time per film (`store.buildlock`); a crashed build's temp files are
    swept by the next."""
    root = project.root
    with film_lock(root, "vf build", wait=wait, on_wait=on_wait):
        shutil.rmtree(vfdir.at(root, vfdir.TMP), ignore_errors=True)
        running = vfdir.at(root, vfdir.BUILD_RUNNING)
        if running.exists():
            # The last build was killed: sweep the temp files it may have left beside what it
            # was writing. Only then: the walk visits every recipe record. The store's objects
            # are renamed in from .vf/tmp, so they never sit beside a temp file.
            skip = {".git", vfdir.OBJECTS, vfdir.TMP}
            sweep_temp(root, skip=frozenset(skip))
        running.touch()
        yield
        running.unlink(missing_ok=True)


def run_build(
    project: Project,
    *,
    shots: list[str] | None = None,
    tier: str = "final",
    options: BuildOptions | None = None,
    events: BuildEvents | None = None,
) -> BuildResult:
    events = events or BuildEvents()
    options = options or BuildOptions()
    runner = StepRunner(project, events, options)
    specs = plan_tasks(project, shots, tier)
    links = task_links(project, specs)
    if not options.frozen:
        check_keys(project, specs, runner)
    states: dict[str, Any] = {}

    def uptodate(name: str, step: str) -> bool:
        try:
            state = runner.resolver().resolve(name, step)
            # A done step's files are still its artifacts (a stat each when unchanged).
            if state.status == DONE and not check_state(
                project, state, frozen=options.frozen, say=events.say
            ):
                return False  # a damaged take was set aside: the step makes it again
        except Exception:
            return False  # the action meets the same error and reports it
        states[task_name(name, step)] = state
        return state.status in (DONE, NEEDS_PICK, WAITING)

    def verified(name: str, step: str) -> None:
        """Raise what `uptodate` met checking a done step's files (a damaged pinned take)."""
        state = runner.resolver().resolve(name, step)
        if state.status == DONE:
            check_state(project, state, frozen=options.frozen, say=events.say)

    warmed: set[str] = set()

    def warm_up(name: str, step: str, now: bool) -> None:
        """A provider with takes to make gets ready (see `RemoteProvider.prewarm`): before
        the step starts if it starts `now`, else in the background."""
        state = states.get(task_name(name, step))
        if state is None or state.status != STALE or name == FILM_LOCK or options.frozen:
            return
        prov = project.provider(step)
        prewarm = getattr(prov, "prewarm", None)  # optional in the provider protocol
        if prewarm is None or prov.name in warmed:
            return
        if any(runner.artifact(j) is None for j in state.jobs):
            warmed.add(prov.name)
            prewarm(wait=now)

    def action(name: str, step: str) -> bool:
        try:
            verified(name, step)
            state = runner.run(name, step)
            states[task_name(name, step)] = state
        except StepFailed:
            return False  # each failed take is already reported
        except VfError as e:
            with events.lock:
                events.errors.append(e)
            return False
        except Exception as e:  # a bug: keep the traceback, show one line
            read_only = read_only_film(project.root, e)
            if read_only is not None:  # not a bug: a folder of the film refused a write
                with events.lock:
                    events.errors.append(read_only)
                return False
            log = vfdir.at(project.root, vfdir.LAST_ERROR)
            with contextlib.suppress(OSError):
                log.write_text(traceback.format_exc())
            with events.lock:
                events.errors.append(
                    VfError(
                        f"{task_name(name, step)}: internal error: {e!r}",
                        hint=f"this is a vfbuild bug; details in {log}",
                    )
                )
            return False
        return True

    def doit_tasks(chosen: set[str]) -> list[Any]:
        from doit.task import Task

        # A film step follows every shot task (of those that run: the others are done).
        film_deps = [task_name(s.name, s.step) for s in specs if not s.film_step]
        tasks = []
        for spec in specs:
            name, step, upstream = spec
            if spec.film_step:
                # ... and the film steps before it (the edit joins the segments).
                film_deps = [*film_deps, task_name(name, step)]
            if task_name(name, step) not in chosen:
                continue
            deps = film_deps[:-1] if spec.film_step else [upstream] if upstream else []
            deps = deps + links.get(task_name(name, step), [])
            # A step started early always runs: its action waits for it and reports it.
            started = (name, step) in runner.early
            tasks.append(
                Task(
                    task_name(name, step),
                    actions=[(action, (name, step))],
                    uptodate=[] if started else [(uptodate, (name, step), {})],
                    task_dep=[d for d in deps if d in chosen],
                    verbosity=0,
                )
            )
        return tasks

    with build_lock(project, wait=options.wait, on_wait=events.say):
        # Ask every task first (each upstream before its downstream) and hand doit only the
        # stale ones and the tasks after them: a no-op build never starts doit, and a changed
        # shot runs that shot's tasks (and the edit). doit costs ~0.1 ms per task it is given
        # before it runs anything (Task objects, signature inspection, its JSON state).
        # With -j 2 or more, a stale step whose upstream is made starts at once (its takes
        # still wait for the -j slots): doit would only start it after importing and setting
        # itself up. Steps after a stale one wait for doit, which runs them in order.
        chosen: set[str] = set()
        early: list[tuple[str, str]] = []
        for spec in specs:
            name, step, upstream = spec
            after_stale = bool(chosen) if spec.film_step else upstream in chosen
            # A step that reads another shot's task (continuity) follows it when it runs.
            after_stale = after_stale or any(
                d in chosen for d in links.get(task_name(*spec[:2]), [])
            )
            if after_stale or not uptodate(name, step):
                chosen.add(task_name(name, step))
                if (
                    not after_stale
                    and not spec.film_step
                    and options.jobs > 1
                    and len(early) < EARLY_PER_SLOT * options.jobs
                ):
                    early.append((name, step))
        events.emit(BuildEvent(PLANNED, count=len(chosen)))
        # Providers get ready before the early steps start: importing httpx while the takes
        # compose their jobs (16 threads, one GIL) made the first job wait twice as long.
        # The providers of later steps get ready in the background.
        for name, step in early:
            warm_up(name, step, now=True)
        for name, step, _ in specs:
            if task_name(name, step) in chosen:
                warm_up(name, step, now=False)
        for name, step in early:
            runner.start(name, step)
        if chosen:
            if runner.early:
                # Importing and starting doit is 0.1-0.15 s of one GIL: let the early steps
                # send their first jobs before it (at most a quarter of a second).
                runner.slots.calm()
            code, doit_err = _run_doit(project, doit_tasks(chosen), options.jobs)
        else:
            code, doit_err = 0, ""
        for name, step in list(runner.early):
            action(name, step)  # doit did not get to it (it failed first): wait and report
        project.hashes.save()
        project.artifact_hashes.save()
        project.locks.save_cache()
    if code != 0 and not events.errors and not events.inbox:
        # doit itself failed (not one of our tasks): show what it said.
        events.errors.append(VfError("the task runner failed", hint=doit_err.strip()[-2000:]))
    waiting: dict[str, list[str]] = {}
    for name, step, _ in specs:
        st = states.get(task_name(name, step))
        if st is not None and st.status == NEEDS_PICK:
            waiting.setdefault(name, []).extend(st.reasons)
        if st is not None and st.notes:
            events.notes.extend(f"{name} {step}: {n}" for n in st.notes)
    film_states = [
        runner.resolver().resolve(s.name, s.step)
        for s in specs
        if s.film_step and not events.errors
    ]
    # The film the build reports: the state of the step whose output is the cut.
    cuts = [st for st in film_states if steps.get(st.step).cut] or film_states
    return BuildResult(events, waiting, cuts[-1] if cuts else None)


def check_keys(project: Project, specs: list[TaskSpec], runner: StepRunner) -> None:
    """A provider whose key is missing stops the build before anything is submitted, if it
    has takes to make now; so does the film's host (`providers.hosting`) when those takes
    send it files. (A step that becomes stale later in the build meets the same check before
    its first submit.)"""
    from vfbuild import catalog
    from vfbuild.errors import ProviderError
    from vfbuild.providers.hosting import KEY as HOST_KEY

    no_host_key = not os.environ.get(HOST_KEY)
    missing: dict[str, list[str]] = {}
    for name, step, _ in specs:
        if name == FILM_LOCK:
            continue
        prov = project.provider(step)
        info = catalog.REGISTRY.get(prov.name)  # a step's own maker is in no catalog
        keys = info.missing_keys() if info is not None else []
        hosted = no_host_key and getattr(prov, "host", None) is not None
        if (not keys or prov.name in missing) and (not hosted or "hosting" in missing):
            continue
        try:
            state = runner.resolver().resolve(name, step)
        except VfError:
            continue  # the build reports it
        todo = [j for j in state.jobs if runner.artifact(j) is None]
        if state.status != STALE or not todo:
            continue
        if keys:
            missing.setdefault(prov.name, keys)
        elif hosted and _sends_files(prov, todo[0], state.inputs):
            missing["hosting"] = [HOST_KEY]
    if missing:
        who, keys = next(iter(missing.items()))
        raise ProviderError(
            f"{who}: {' and '.join(keys)} not set in the environment; nothing was submitted",
            hint=f"export {keys[0]}=… (keys are read only from the environment, never from "
            "files in the film)"
            + (
                "; `hosting:` in shots.yaml uploads input files with it" if who == "hosting" else ""
            ),
        )


def _sends_files(prov: Any, job: Any, inputs: Any) -> bool:
    """Whether this take's request would send files through the film's host."""
    from vfbuild.providers.remote import RemoteJob

    try:
        return bool(prov.url_inputs(RemoteJob(job.key, job.recipe.as_dict(), inputs, job.name, "")))
    except (KeyError, IndexError):
        return False  # an input it lacks is reported when the take starts


def _run_doit(project: Project, tasks: list[Any], jobs: int) -> tuple[int, str]:
    from doit.cmd_base import TaskLoader2
    from doit.doit_cmd import DoitMain
    from doit.reporter import ZeroReporter

    dep_file = str(vfdir.at(project.root, vfdir.DOIT_STATE))

    class Loader(TaskLoader2):  # type: ignore[misc]  # doit has no types
        def setup(self, opt_values: dict[str, Any]) -> None:
            pass

        def load_doit_config(self) -> dict[str, Any]:
            return {
                "dep_file": dep_file,
                "backend": "json",
                "verbosity": 0,
                "reporter": ZeroReporter,
                "continue": True,
            }

        def load_tasks(self, cmd: Any, pos_args: list[str]) -> list[Any]:
            return tasks

    args = ["run", "--continue"]
    if jobs > 1:
        args += ["-n", str(jobs), "-P", "thread"]
    # doit prints its own failure reports to stderr; ours come from the events.
    # doit swaps sys.stdout around each action; with threads the swaps race and can leave a
    # capture buffer installed, so put the real streams back ourselves.
    out, err = sys.stdout, io.StringIO()
    try:
        with contextlib.redirect_stderr(err):
            code = DoitMain(Loader(), config_filenames=()).run(args)
    finally:
        sys.stdout = out
    return code, err.getvalue()
