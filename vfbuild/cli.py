"""`vf`: thin commands over the library. Each parses, calls one function, formats its result.

Errors a user can fix are `VfError`s and print as one clear message with a non-zero exit;
anything else is a bug, reported in one line with the traceback saved for a bug report.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import logging
import os
import sys
import time
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from vfbuild import __version__
from vfbuild.errors import VfError

if TYPE_CHECKING:
    from vfbuild.plan.graph import BuildResult
    from vfbuild.project import Project


def _root(args: argparse.Namespace) -> Path:
    from vfbuild.fsutil import find_film_root

    return find_film_root(Path(args.C or "."))


def _project(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from vfbuild.project import Project

    return Project.open(_root(args))


def _who(name: str) -> str:
    """The film's own steps (the edit) are shown under "film", not its lock's file name."""
    from vfbuild.store.locks import FILM_LOCK

    return "film" if name == FILM_LOCK else name


def cmd_init(args: argparse.Namespace) -> int:
    from vfbuild.spec.scaffold import init_film

    path = Path(args.C or ".") / args.name
    init_film(path, args.title)
    print(f"made a new film in {path}/: edit shots.yaml, then `vf -C {path} build`")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from vfbuild.spec.load import load_film

    load_film(_root(args))
    return 0


def cmd_plan(args: argparse.Namespace) -> int:
    from vfbuild.plan import stamp

    root = _root(args)
    key = ("plan", *stamp.args_key(args.tier, args.frozen, args.shots or None))
    world = stamp.World(root, key)
    said = stamp.replay(root, world, stamp.PLAN_STAMP)
    if said is not None:  # nothing changed since the last plan: it would say the same
        logging.getLogger("vfbuild.stamp").debug(
            "nothing changed since the last plan (%s)", stamp.PLAN_STAMP
        )
        print("\n".join(said))
        return 0
    from vfbuild.project import Project

    out = _plan_lines(Project.open(root), args)
    print("\n".join(out))
    stamp.record(root, world, stamp.World(root, key), out, stamp.PLAN_STAMP)
    return 0


def _plan_lines(project: Project, args: argparse.Namespace) -> list[str]:
    from vfbuild.plan.report import step_lines
    from vfbuild.providers.pricing import money

    lines = step_lines(project, shots=args.shots or None, tier=args.tier, frozen=args.frozen)
    out = []
    pending = [ln for ln in lines if ln.state.status != "done"]
    for ln in pending:
        st = ln.state
        who = f"{ln.provider}/{ln.model}" if ln.provider else ""
        what = f"{ln.to_make} take(s)" if ln.to_make else ""
        if ln.to_make and ln.cost_known:
            what += f" {money(ln.cost)}"
        elif ln.to_make:
            what += " $?"
        why = "; ".join(st.reasons) or (ln.error or "")
        out.append(f"{_who(st.name):<10} {st.step:<9} {st.status:<10} {who:<26} {what:<10} {why}")
        for note in st.notes:
            out.append(f"{'':<10} {'':<9} note: {note}")
    for ln in lines:
        if ln.state.status == "done" and ln.state.notes:
            who = _who(ln.state.name)
            for note in ln.state.notes:
                out.append(f"{who:<10} {ln.state.step:<9} {'done':<10} note: {note}")
    total = sum(ln.to_make for ln in lines)
    cost = sum(ln.cost for ln in lines)
    unknown = [f"{_who(ln.state.name)} {ln.state.step}" for ln in lines if not ln.cost_known]
    if not pending:
        out.append("nothing to build: everything is up to date")
    else:
        out.append(f"{total} take(s) to make, estimated cost {money(cost)}")
        if unknown:
            out.append(
                f"  no price known for: {', '.join(unknown)} (add them to prices.yaml in the film)"
            )
    return out


def cmd_cost(args: argparse.Namespace) -> int:
    from vfbuild.providers.pricing import money
    from vfbuild.store.ledger import Ledger, summarize

    root = _root(args)
    rows = Ledger(root).rows()
    if not rows:
        print("ledger.csv has no paid jobs yet")
        return 0
    for by in ("shot", "step", "provider"):
        print(f"by {by}:")
        for name, total in sorted(summarize(rows, by).items()):
            print(f"  {name:<24} {money(total):>10}")
    print(f"total: {money(sum(float(r.cost or 0) for r in rows))} over {len(rows)} job(s)")
    return 0


def cmd_build(args: argparse.Namespace) -> int:
    from vfbuild.plan import stamp

    root = _root(args)
    key = stamp.args_key(args.tier, args.frozen, args.shots or None)
    world = stamp.World(root, key)
    said = stamp.replay(root, world)
    if said:  # nothing changed since a build that made nothing: say what it said
        logging.getLogger("vfbuild.stamp").debug(
            "nothing changed since the last build that made nothing (%s)", stamp.STAMP
        )
        print(f"{said[0]}, -j {args.jobs}")
        print("\n".join(said[1:]))
        return 0
    from vfbuild.plan.execute import BuildOptions
    from vfbuild.plan.graph import run_build
    from vfbuild.project import Project

    project = Project.open(root)
    mode = " --frozen" if args.frozen else ""
    header = (
        f"vf build{mode}: {project.film.film.title}, {len(project.shot_ids)} shot(s), "
        f"tier {args.tier}"
    )
    print(f"{header}, -j {args.jobs}")
    options = BuildOptions(
        jobs=args.jobs,
        frozen=args.frozen,
        budget=args.budget,
        resubmit=args.resubmit,
        retry_failed=args.retry_failed,
    )
    start = time.monotonic()
    result = run_build(project, shots=args.shots or None, tier=args.tier, options=options)
    took = time.monotonic() - start
    lines = _build_report(project, result)
    ev = result.events
    if ev.errors:
        print("\n".join(lines))
        for e in ev.errors:
            print(e.render(), file=sys.stderr)
        if len(ev.errors) > 1:
            print(f"{len(ev.errors)} job(s) failed; everything else was built", file=sys.stderr)
        return max(e.exit_code for e in ev.errors)
    if not ev.made and ev.inbox:
        lines.append("nothing else to make until those files are in the inbox")
    elif not ev.made:
        lines.append(
            "nothing to do: everything is up to date"
            if not result.waiting
            else "nothing else to make until those picks are made"
        )
        print("\n".join(lines))
        stamp.record(root, world, stamp.World(root, key), [header, *lines])
        return 0
    else:
        lines.append(f"made {len(ev.made)} artifact(s) in {took:.1f}s")
    print("\n".join(lines))
    return 0


def _build_report(project: Project, result: BuildResult) -> list[str]:
    """What a build says when it is over: notes, the film, what waits for the user."""
    from vfbuild.store import layout

    ev = result.events
    lines = [f"note: {note}" for note in ev.notes]
    edit = result.edit
    if edit is not None and edit.jobs and edit.jobs[0].version is not None:
        path = layout.edit_path(project.film.film.title, edit.jobs[0].version)
        if (project.root / path).exists():
            rough = f" (rough cut: {', '.join(edit.rough)})" if edit.rough else ""
            lines.append(f"film: {path}{rough}")
    if result.waiting:
        lines.append("to go on, pick:")
        for shot, reasons in result.waiting.items():
            lines += [f"  {shot}: {r}" for r in reasons]
    if ev.inbox:
        lines.append("made by hand (provider manual): waiting for your files:")
        lines += [f"  {line}" for line in ev.inbox]
    if ev.spent:
        from vfbuild.providers.pricing import money

        lines.append(f"ledger.csv: +{money(ev.spent)} for this build's jobs (`vf cost` sums it)")
    return lines


def cmd_status(args: argparse.Namespace) -> int:
    from vfbuild.plan.report import step_lines

    project = _project(args)
    for ln in step_lines(project, shots=args.shots or None):
        st = ln.state
        version = st.current_version
        v = f"v{version:03d}" if version else "new" if st.jobs else "-"
        pick = project.locks.pick(st.name, st.step) if st.step in ("keyframe", "draft") else None
        picked = f"picked t{pick.take:02d} of v{pick.version:03d}" if pick else ""
        if st.step in ("keyframe", "draft") and not pick and st.status in ("done", "stale"):
            picked = "not picked"
        detail = "; ".join(st.reasons) if st.status != "done" else ""
        print(f"{_who(st.name):<10} {st.step:<9} {st.status:<10} {v:<5} {picked:<22} {detail}")
        for note in st.notes:
            print(f"{'':<10} {'':<9} ! {note}")
    return 0


def cmd_jobs(args: argparse.Namespace) -> int:
    from vfbuild.plan import jobs

    project = _project(args)
    entries = jobs.listed(project, args.shots or None)
    if not entries:
        print("no paid job in flight, lost or failed")
        return 0
    for entry in entries:
        print(jobs.describe(entry))
    return 0


def cmd_cancel(args: argparse.Namespace) -> int:
    from vfbuild.plan import jobs

    project = _project(args)
    outcomes = jobs.cancel(project, args.shots or None)
    if not outcomes:
        print("no paid job in flight")
        return 0
    for o in outcomes:
        print(f"{o.entry.label} ({o.entry.provider} {o.entry.job_id or '?'}): {o.said}")
    done = sum(o.canceled for o in outcomes)
    print(
        f"{done} of {len(outcomes)} job(s) canceled; `vf build --retry-failed` sends a "
        "canceled take again"
    )
    return 0 if done == len(outcomes) else 1


def cmd_pick(args: argparse.Namespace) -> int:
    from vfbuild.plan.pick import pick_take

    project = _project(args)
    res = pick_take(project, args.shot, args.step, args.take, args.version)
    p = res.pick
    print(
        f"{args.shot} {args.step}: picked take {p.take} of v{p.version:03d} ({p.file}) "
        f"in {res.lock_file}"
    )
    if res.previous and res.previous.key != p.key:
        print(f"  (was take {res.previous.take} of v{res.previous.version:03d})")
    print("  run `vf build` to build what follows from it")
    return 0


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="vf",
        description="vfbuild: build an AI film from shots.yaml — keyframe, pick, draft, pick, "
        "final, upscale, lipsync, edit — generating only what is stale.",
    )
    ap.add_argument("-C", metavar="DIR", help="act on the film in DIR (default: current folder)")
    ap.add_argument("-v", "--verbose", action="store_true", help="log ffmpeg command lines")
    ap.add_argument("--version", action="version", version=f"vfbuild {__version__}")
    sub = ap.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("init", help="make a new film folder")
    p.add_argument("name")
    p.add_argument("--title")
    p.set_defaults(func=cmd_init)

    p = sub.add_parser("check", help="validate shots.yaml; prints only errors")
    p.set_defaults(func=cmd_check)

    for name, func, helptext in (
        ("plan", cmd_plan, "show what is stale, why, and what it would cost"),
        ("build", cmd_build, "make what is stale, in golden-rule order"),
        ("status", cmd_status, "show each shot's steps, versions and picks"),
    ):
        p = sub.add_parser(name, help=helptext)
        p.add_argument("shots", nargs="*", metavar="SHOT", help="only these shots")
        if name != "status":
            p.add_argument(
                "--tier",
                choices=("draft", "final"),
                default="final",
                help="draft: stop after draft takes; final (default): go on to "
                "final, upscale, lipsync and the edit where picks allow",
            )
            p.add_argument(
                "--frozen",
                action="store_true",
                help="build exactly what the locks pin; generate nothing new",
            )
        if name == "build":
            p.add_argument("-j", "--jobs", type=int, default=1, help="jobs at once (threads)")
            p.add_argument(
                "--budget",
                type=float,
                metavar="DOLLARS",
                help="start no paid job that would take this build's spending past DOLLARS",
            )
            p.add_argument(
                "--retry-failed",
                action="store_true",
                help="try again the jobs a provider failed (a new attempt may be charged)",
            )
            p.add_argument(
                "--resubmit",
                action="store_true",
                help="submit again the jobs whose submit reply was lost and that the provider "
                "cannot look up (you may pay twice: check the provider's dashboard first)",
            )
        p.set_defaults(func=func)

    p = sub.add_parser("cost", help="what the film has spent: ledger.csv by shot, step, provider")
    p.set_defaults(func=cmd_cost)

    p = sub.add_parser("jobs", help="paid jobs in flight, lost or failed (the job journal)")
    p.add_argument("shots", nargs="*", metavar="SHOT", help="only these shots")
    p.set_defaults(func=cmd_jobs)

    p = sub.add_parser("cancel", help="stop this film's paid jobs in flight at their providers")
    p.add_argument("shots", nargs="*", metavar="SHOT", help="only these shots")
    p.set_defaults(func=cmd_cancel)

    p = sub.add_parser("pick", help="pick a take: locks framing in locks/SHOT.yaml")
    p.add_argument("shot")
    p.add_argument("step", choices=("keyframe", "draft"))
    p.add_argument("take", type=int)
    p.add_argument("--version", type=int, help="pick from this version (default: current)")
    p.set_defaults(func=cmd_pick)
    return ap


def _redacting(record: logging.LogRecord) -> bool:
    """Every log line goes out with the credentials vfbuild knows hidden, httpx's own too (its
    request lines show a signed upload URL whole)."""
    from vfbuild.providers.http import redact

    text = record.getMessage()
    clean = redact(text)
    if clean != text:
        record.msg, record.args = clean, ()
    return True


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING, format="%(name)s: %(message)s"
    )
    for handler in logging.getLogger().handlers:
        handler.addFilter(_redacting)
    try:
        return int(args.func(args))
    except VfError as e:
        print(e.render(), file=sys.stderr)
        return e.exit_code
    except BrokenPipeError:
        # `vf status | head`: the reader left; say nothing more, like git does.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
    except KeyboardInterrupt:
        print(
            "interrupted: everything already stored is kept; run the command again", file=sys.stderr
        )
        return 130
    except Exception as e:  # a bug: one line for the user, the traceback for the report
        read_only = _read_only(args, e)
        if read_only is not None:
            print(read_only.render(), file=sys.stderr)
            return read_only.exit_code
        text = traceback.format_exc()
        log = save_crash_log(text)
        where = f"traceback saved to {log}" if log else "the traceback follows"
        print(f"vf: internal error: {e!r} (a bug; {where})", file=sys.stderr)
        if log is None:
            print(text, file=sys.stderr)
        return 70


def _read_only(args: argparse.Namespace, error: Exception) -> VfError | None:
    """A write the film's folder refused (a read-only mount, a film without write rights)."""
    if not isinstance(error, OSError):
        return None
    from vfbuild.fsutil import read_only_film

    try:
        root = _root(args)
    except Exception:  # noqa: BLE001 - no film to speak of: it stays an internal error
        return None
    return read_only_film(root, error)


CRASH_LOG = "vfbuild-crash.log"


def save_crash_log(text: str) -> Path | None:
    """Write the traceback to $TMPDIR/vfbuild-crash.log (else the system's temp folder) as
    every file is written: a fresh private temp file, never through a link, renamed over the
    log (which replaces a planted link, not its target). None when nowhere would take it;
    never raises: it runs while reporting a bug."""
    import secrets
    import tempfile

    folders = [os.environ.get("TMPDIR") or "", tempfile.gettempdir(), "/tmp"]
    for folder in dict.fromkeys(f for f in folders if f):
        tmp = os.path.join(folder, f".{CRASH_LOG}.{secrets.token_hex(6)}")
        try:
            if not os.path.isdir(folder):
                continue
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
            fd = os.open(tmp, flags, 0o600)
            try:
                os.write(fd, text.encode("utf-8", "replace"))
            finally:
                os.close(fd)
            log = os.path.join(folder, CRASH_LOG)
            os.replace(tmp, log)
            return Path(log)
        except Exception:  # noqa: BLE001 - try the next folder; the log is only a courtesy
            with contextlib.suppress(OSError):
                os.unlink(tmp)
    return None


def run(argv: Sequence[str] | None = None) -> NoReturn:
    """The `vf` command: `main`, then exit without tearing the interpreter down. Freeing every
    module a build loaded (PyAV, httpx, doit, pydantic) takes ~60 ms, and nothing is left to
    do by then: every file is written and closed, and atexit handlers still run."""
    code = main(argv)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (BrokenPipeError, ValueError):  # the reader left, or the stream is closed
            code = code or 141
    atexit._run_exitfuncs()  # logging's flush among them
    os._exit(code)
