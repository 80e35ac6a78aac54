"""The doit task graph: one task per shot and step (its takes inside), plus the film's edit.

doit orders and parallelises; it is not the truth about what is built. A task is up to date
when the store holds the artifact of every recipe key it needs and the layout shows them (an
`uptodate` callable), so doit's own state file is only a cache and losing it loses nothing.
Jobs run in threads (`-P thread`), never processes: a dying process worker hangs doit 0.37.
"""

from __future__ import annotations

import contextlib
import fcntl
import io
import os
import shutil
import sys
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from vfbuild.errors import UsageError, VfError
from vfbuild.fsutil import read_only_film, sweep_temp
from vfbuild.plan.execute import BuildEvents, BuildOptions, StepFailed, StepRunner
from vfbuild.plan.resolve import DONE, NEEDS_PICK, STALE, WAITING, StepState
from vfbuild.project import Project
from vfbuild.store.locks import FILM_LOCK

TIER_STEPS = {
    "draft": ("keyframe", "draft"),
    "final": ("keyframe", "draft", "final", "upscale", "lipsync"),
}


@dataclass
class BuildResult:
    events: BuildEvents
    waiting: dict[str, list[str]]  # shot → what to pick / what it waits for
    edit: StepState | None = None  # the film's edit as it stands after the build

    @property
    def ok(self) -> bool:
        return not self.events.errors


def task_name(name: str, step: str) -> str:
    return "edit" if step == "edit" else f"{name}:{step}"


def plan_tasks(
    project: Project, shots: list[str] | None, tier: str
) -> list[tuple[str, str, str | None]]:
    """(name, step, upstream task) for every task of the build, in golden-rule order."""
    unknown = [s for s in shots or [] if s not in project.shot_ids]
    if unknown:
        raise UsageError(
            f"no shot named {', '.join(unknown)} in shots.yaml",
            hint=f"shots are: {', '.join(project.shot_ids[:20])}",
        )
    selected = shots or project.shot_ids
    wanted = TIER_STEPS[tier]
    out: list[tuple[str, str, str | None]] = []
    for sid in selected:
        prev = None
        for step in project.film.steps_of(project.film.shot(sid)):
            if step in wanted:
                out.append((sid, step, prev))
                prev = task_name(sid, step)
    if not shots:
        out.append((FILM_LOCK, "edit", None))
    return out


@contextlib.contextmanager
def build_lock(project: Project) -> Iterator[None]:
    """One build at a time per film; a crashed build's temp files are swept by the next."""
    project.vf_dir.mkdir(parents=True, exist_ok=True)
    with open(project.vf_dir / "build.lock", "w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise UsageError(
                "another vf build is running on this film", hint="wait for it to finish"
            ) from None
        shutil.rmtree(project.vf_dir / "tmp", ignore_errors=True)
        vf, root = project.vf_dir, project.root
        running = vf / "build.running"
        if running.exists():
            # The last build was killed: sweep the temp files it may have left beside what it
            # was writing. Only then: the walk visits every recipe record. The store's objects
            # are renamed in from .vf/tmp, so they never sit beside a temp file.
            skip = {".git", *(os.path.relpath(vf / d, root) for d in ("objects", "tmp"))}
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
    if not options.frozen:
        check_keys(project, specs, runner)
    states: dict[str, Any] = {}

    def uptodate(name: str, step: str) -> bool:
        try:
            state = runner.resolver().resolve(name, step)
        except Exception:
            return False  # the action meets the same error and reports it
        states[task_name(name, step)] = state
        return state.status in (DONE, NEEDS_PICK, WAITING)

    warmed: set[str] = set()

    def warm_up(name: str, step: str, now: bool) -> None:
        """A provider with takes to make gets ready (see `RemoteProvider.prewarm`): before
        the step starts if it starts `now`, else in the background."""
        state = states.get(task_name(name, step))
        if state is None or state.status != STALE or step == "edit" or options.frozen:
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
            log = project.vf_dir / "last-error.log"
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

        last_of_shot = {name: task_name(name, step) for name, step, _ in specs if step != "edit"}
        tasks = []
        for name, step, upstream in specs:
            if task_name(name, step) not in chosen:
                continue
            deps = list(last_of_shot.values()) if step == "edit" else [upstream] if upstream else []
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

    with build_lock(project):
        # Ask every task first (each upstream before its downstream) and hand doit only the
        # stale ones and the tasks after them: a no-op build never starts doit, and a changed
        # shot runs that shot's tasks (and the edit). doit costs ~0.1 ms per task it is given
        # before it runs anything (Task objects, signature inspection, its JSON state).
        # With -j 2 or more, a stale step whose upstream is made starts at once (its takes
        # still wait for the -j slots): doit would only start it after importing and setting
        # itself up. Steps after a stale one wait for doit, which runs them in order.
        chosen: set[str] = set()
        early: list[tuple[str, str]] = []
        for name, step, upstream in specs:
            after_stale = bool(chosen) if step == "edit" else upstream in chosen
            if after_stale or not uptodate(name, step):
                chosen.add(task_name(name, step))
                if not after_stale and step != "edit" and options.jobs > 1:
                    early.append((name, step))
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
        project.locks.save_cache()
    if code != 0 and not events.errors and not events.inbox:
        # doit itself failed (not one of our tasks): show what it said.
        events.errors.append(VfError("the task runner failed", hint=doit_err.strip()[-2000:]))
    waiting = {}
    for name, step, _ in specs:
        st = states.get(task_name(name, step))
        if st is not None and st.status == NEEDS_PICK:
            waiting.setdefault(name, []).extend(st.reasons)
        if st is not None and st.notes:
            events.notes.extend(f"{name} {step}: {n}" for n in st.notes)
    edit = None
    if any(step == "edit" for _, step, _ in specs) and not events.errors:
        edit = runner.resolver().resolve(FILM_LOCK, "edit")
    return BuildResult(events, waiting, edit)


def check_keys(
    project: Project, specs: list[tuple[str, str, str | None]], runner: StepRunner
) -> None:
    """A provider whose key is missing stops the build before anything is submitted, if it
    has takes to make now; so does the film's host (`providers.hosting`) when those takes
    send it files. (A step that becomes stale later in the build meets the same check before
    its first submit.)"""
    from vfbuild.errors import ProviderError
    from vfbuild.providers import catalog
    from vfbuild.providers.hosting import KEY as HOST_KEY

    no_host_key = not os.environ.get(HOST_KEY)
    missing: dict[str, list[str]] = {}
    for name, step, _ in specs:
        if step == "edit":
            continue
        prov = project.provider(step)
        keys = catalog.info(prov.name).missing_keys()
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
        return bool(prov.url_inputs(RemoteJob(job.key, job.recipe, inputs, job.name, "")))
    except (KeyError, IndexError):
        return False  # an input it lacks is reported when the take starts


def _run_doit(project: Project, tasks: list[Any], jobs: int) -> tuple[int, str]:
    from doit.cmd_base import TaskLoader2
    from doit.doit_cmd import DoitMain
    from doit.reporter import ZeroReporter

    dep_file = str(project.vf_dir / "doit-state.json")

    class Loader(TaskLoader2):
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
