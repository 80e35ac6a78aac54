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
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from vfbuild import __version__
from vfbuild.errors import UsageError, VfError

if TYPE_CHECKING:
    from vfbuild.api import Film, Plan


def _film(args: argparse.Namespace) -> Film:
    from vfbuild import api

    return api.open(args.C or ".")


def cmd_init(args: argparse.Namespace) -> int:
    from vfbuild.spec.scaffold import init_film

    path = Path(args.C or ".") / args.name
    init_film(path, args.title)
    print(f"made a new film in {path}/: edit shots.yaml, then `vf -C {path} build`")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    _film(args).check()
    return 0


def _tier(args: argparse.Namespace) -> str:
    return str(args.tier or "final")


def _rough(args: argparse.Namespace) -> str | None:
    """`--tier final` asked for: a rough cut at the final tier's size (unasked: the film's
    `rough:`, the draft tier's by default, so a first cut is quick)."""
    return "final" if args.tier == "final" else None


def cmd_plan(args: argparse.Namespace) -> int:
    plan = _film(args).plan(
        shots=args.shots or None, tier=_tier(args), frozen=args.frozen, rough=_rough(args)
    )
    if plan.from_stamp:
        logging.getLogger("vfbuild.stamp").debug("nothing changed since the last plan")
    if args.json:
        from vfbuild import jsonout

        print(jsonout.dumps(jsonout.plan_record(plan)))
        return 0
    print("\n".join(plan_lines(plan)))
    return 0


def plan_lines(plan: Plan) -> list[str]:
    from vfbuild.providers.pricing import money

    out = []
    for row in plan.pending:
        who = f"{row.provider}/{row.model}" if row.provider else ""
        what = f"{row.to_make} take(s)" if row.to_make else ""
        if row.to_make and row.cost_known:
            what += f" {money(row.cost)}"
        elif row.to_make:
            what += " $?"
        if row.from_remote:
            what += f" +{row.from_remote} from remote"
        why = "; ".join(row.reasons)
        out.append(f"{row.name:<10} {row.step:<9} {row.status:<10} {who:<26} {what:<10} {why}")
        for note in row.notes:
            out.append(f"{'':<10} {'':<9} note: {note}")
    for row in plan.rows:
        if row.status == "done":
            for note in row.notes:
                out.append(f"{row.name:<10} {row.step:<9} {'done':<10} note: {note}")
    if not plan.pending:
        out.append("nothing to build: everything is up to date")
    else:
        fetched = sum(r.from_remote for r in plan.rows)
        more = f"; {fetched} from the remote cache (no payment)" if fetched else ""
        out.append(f"{plan.takes} take(s) to make, estimated cost {money(plan.cost)}{more}")
        if plan.unpriced:
            out.append(
                f"  no price known for: {', '.join(plan.unpriced)} "
                "(add them to prices.yaml in the film)"
            )
    return out


def cmd_cost(args: argparse.Namespace) -> int:
    from vfbuild.providers.pricing import money

    cost = _film(args).cost()
    if args.json:
        from vfbuild import jsonout

        print(jsonout.dumps(jsonout.cost_record(cost)))
        return 0
    if not cost.jobs:
        print("ledger.csv has no paid jobs yet")
        return 0
    for by, totals in (
        ("shot", cost.by_shot),
        ("step", cost.by_step),
        ("provider", cost.by_provider),
    ):
        print(f"by {by}:")
        for name, total in sorted(totals.items()):
            print(f"  {name:<24} {money(total):>10}")
    print(f"total: {money(cost.total)} over {cost.jobs} job(s)")
    if cost.lost:
        print(
            f"of which lost: {money(sum(float(r.cost or 0) for r in cost.lost))} (estimated) "
            f"over {len(cost.lost)} job(s) whose submit reply was lost and that were sent "
            "again; the provider probably billed them (see its dashboard):"
        )
        for r in cost.lost:
            what = f"{r.shot} {r.step} v{r.version:03d} t{r.take:02d}"
            print(f"  {what:<24} {r.provider:<10} {money(float(r.cost or 0)):>10}  lost")
    return 0


def cmd_build(args: argparse.Namespace) -> int:
    from vfbuild.progress import LiveDisplay, PlainDisplay
    from vfbuild.summary import build_lines

    # Bound now: doit swaps sys.stdout while a task runs. With --json, stdout is the report's.
    out = sys.stderr if args.json else sys.stdout
    live = not args.plain and out.isatty() and os.environ.get("TERM") != "dumb"
    display = LiveDisplay(out) if live else PlainDisplay(out)
    with display:
        report = _film(args).build(
            shots=args.shots or None,
            tier=_tier(args),
            rough=_rough(args),
            jobs=args.jobs,
            frozen=args.frozen,
            budget=args.budget,
            resubmit=args.resubmit,
            retry_failed=args.retry_failed,
            on_event=display,
            all_events=live,
            wait=not args.no_wait,
        )
    if report.from_stamp:
        logging.getLogger("vfbuild.stamp").debug(
            "nothing changed since the last build that made nothing"
        )
    if args.json:
        from vfbuild import jsonout

        print(jsonout.dumps(jsonout.build_record(report)))
        for e in report.errors:
            print(e.render(), file=sys.stderr)
        return report.exit_code
    lines = build_lines(report)
    print("\n".join(lines))
    for e in report.errors:
        print(e.render(), file=sys.stderr)
    if len(report.errors) > 1:
        print(f"{len(report.errors)} job(s) failed; everything else was built", file=sys.stderr)
    return report.exit_code


def cmd_status(args: argparse.Namespace) -> int:
    rows = _film(args).status(args.shots or None)
    if args.json:
        from vfbuild import jsonout

        print(jsonout.dumps(jsonout.status_record(rows)))
        return 0
    # Written at once: 4,205 prints (1000 shots) took 14 ms with PYTHONUNBUFFERED, one write 0.4.
    lines = []
    for row in rows:
        v = f"v{row.version:03d}" if row.version else "new" if row.new else "-"
        picked = ""
        if row.pick_take is not None and row.pick_version is not None:
            picked = f"picked t{row.pick_take:02d} of v{row.pick_version:03d}"
        elif row.picked and row.status in ("done", "stale"):
            picked = "not picked"
        detail = "; ".join(row.reasons) if row.status != "done" else ""
        lines.append(f"{row.name:<10} {row.step:<9} {row.status:<10} {v:<5} {picked:<22} {detail}")
        lines.extend(f"{'':<10} {'':<9} ! {note}" for note in row.notes)
    if lines:
        sys.stdout.write("\n".join(lines) + "\n")
    return 0


def cmd_jobs(args: argparse.Namespace) -> int:
    from vfbuild.plan import jobs

    film = _film(args)
    entries = film.jobs(args.shots or None)
    lost = film.lost_jobs(args.shots or None)
    if args.json:
        from vfbuild import jsonout

        print(jsonout.dumps(jsonout.jobs_record(entries, lost)))
        return 0
    if not entries and not lost:
        print("no paid job in flight, lost or failed")
        return 0
    for entry in entries:
        print(jobs.describe(entry))
    for row in lost:
        print(jobs.describe_lost(row))
    return 0


def cmd_graph(args: argparse.Namespace) -> int:
    graph = _film(args).graph(
        shots=args.shots or None, tier=_tier(args), frozen=args.frozen, rough=_rough(args)
    )
    if args.format == "json":
        from vfbuild import jsonout

        print(jsonout.dumps(jsonout.graph_record(graph)))
        return 0
    from vfbuild.plan import draw

    sys.stdout.write(draw.to_mermaid(graph) if args.format == "mermaid" else draw.to_dot(graph))
    return 0


def cmd_cancel(args: argparse.Namespace) -> int:
    outcomes = _film(args).cancel(args.shots or None)
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


def _gc_remote(args: argparse.Namespace) -> int:
    from vfbuild.store.remotegc import parse_grace

    grace = parse_grace(args.grace) if args.grace is not None else None
    result = _film(args).gc_remote(remote=args.remote or None, grace=grace, dry_run=args.dry_run)
    if args.json:
        from vfbuild import jsonout

        print(jsonout.dumps(jsonout.gc_remote_record(result)))
        return 0
    would = "would remove" if result.dry_run else "removed"
    for sha in result.blobs:
        print(f"{would} cas/{sha}")
    for key in result.actions:
        print(f"{would} ac/{key}")
    g = result.grace
    age = f"{g / 86400:g}d" if g >= 86400 else f"{g / 3600:g}h" if g >= 3600 else f"{g:g}s"
    print(
        f"{result.remote} ({result.url}): {would} {len(result.blobs)} blob(s), "
        f"{len(result.actions)} action record(s) and {result.staged} staged file(s), "
        f"{result.freed / 1e6:.1f} MB freed; kept {result.kept} object(s) "
        f"({result.young} unused but younger than {age})"
    )
    return 0


def cmd_pick(args: argparse.Namespace) -> int:
    res = _film(args).pick(
        args.shot,
        args.step,
        args.take,
        args.version,
        wait=not args.no_wait,
        on_wait=lambda line: print(line, file=sys.stderr, flush=True),
    )
    p = res.pick
    print(
        f"{args.shot} {args.step}: picked take {p.take} of v{p.version:03d} ({p.file}) "
        f"in {res.lock_file}"
    )
    if res.previous and res.previous.key != p.key:
        print(f"  (was take {res.previous.take} of v{res.previous.version:03d})")
    print("  run `vf build` to build what follows from it")
    return 0


def cmd_remote(args: argparse.Namespace) -> int:
    film = _film(args)
    if args.action == "add":
        if not args.name or not args.url:
            raise UsageError(
                "vf remote add needs NAME and URL", hint="vf remote add team s3://bucket/film"
            )
        added = film.remote_add(args.name, args.url, args.lease)
        said = "added" if added else "already has"
        print(f"shots.yaml {said} the remote {args.name} ({args.url}); commit it with the film")
        return 0
    remotes = film.remotes()
    if not remotes:
        print("no remote cache: add one with `vf remote add NAME URL`")
    for i, (name, url) in enumerate(remotes.items()):
        print(f"{name}\t{url}" + ("\t(default)" if i == 0 else ""))
    return 0


def _transfer(args: argparse.Namespace, verb: str) -> int:
    from vfbuild.transferview import meter, mib

    film = _film(args)
    m = meter(sys.stderr, verb, args.plain)
    if verb == "pushed":
        report = film.push(all_takes=args.all, remote=args.remote, meter=m)
    else:
        report = film.pull(remote=args.remote, meter=m)
    what = "uploaded" if verb == "pushed" else "downloaded"
    print(
        f"{verb} {report.objects} take(s) with {report.remote}: {report.moved} {what} "
        f"({mib(report.nbytes)}), {report.skipped} already there"
    )
    for label in report.missing:
        where = "in this clone's store" if verb == "pushed" else f"on {report.remote}"
        print(f"  {label}: not {where}", file=sys.stderr)
    for e in report.errors:
        print(e.render(), file=sys.stderr)
    return 1 if report.errors or (report.missing and verb == "pulled") else 0


def cmd_push(args: argparse.Namespace) -> int:
    return _transfer(args, "pushed")


def cmd_pull(args: argparse.Namespace) -> int:
    return _transfer(args, "pulled")


def cmd_review(args: argparse.Namespace) -> int:
    film = _film(args)
    if args.static:
        from vfbuild.review.static import write_static

        out = write_static(film, Path(args.static))
        print(
            f"wrote {out.index} ({out.media} take file(s), {out.thumbs} thumbnail(s)): "
            "read-only; each take shows its `vf pick` command"
        )
        return 0
    from vfbuild.review.server import serve

    film.check()  # a film that does not load says so here, not on the page
    try:
        serve(film.root, port=args.port, open_browser=args.open)
    except KeyboardInterrupt:
        print("vf review: stopped", file=sys.stderr)
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    result = _film(args).export(args.format, version=args.version, out=args.o)
    print(f"{result.format}: {result.file} (edit v{result.version:03d}, {result.clips} clip(s))")
    for note in result.notes:
        print(f"note: {note}")
    return 0


def cmd_qc(args: argparse.Namespace) -> int:
    from vfbuild.finish.qc import table

    report = _film(args).qc(version=args.version)
    if args.json:
        from vfbuild import jsonout

        print(jsonout.dumps(jsonout.qc_record(report)))
    else:
        print("\n".join(table(report)))
        kept = "written" if report.written else "kept (written before)"
        print(
            f"{report.film} v{report.version:03d}: {len(report.failures)} failure(s), "
            f"{len(report.warnings)} warning(s); report {kept}: {report.file}"
        )
    return 1 if args.strict and report.failures else 0


def cmd_verify(args: argparse.Namespace) -> int:
    from vfbuild.store import vfdir

    result = _film(args).verify(
        repair=args.repair,
        wait=not args.no_wait,
        on_wait=lambda line: print(line, file=sys.stderr, flush=True),
    )
    if args.json:
        from vfbuild import jsonout

        print(jsonout.dumps(jsonout.verify_record(result)))
        return 0 if result.ok else 1
    for line in result.repaired:
        print(f"repaired: {line}")
    for line in result.unrepaired:
        print(f"not repaired: {line}", file=sys.stderr)
    for m in result.mismatches:
        print(f"damaged: {m.describe()}")
    for m in result.missing:
        print(f"missing: {m.describe()}")
    size = f"{result.bytes / 1e6:.1f} MB"
    if result.ok:
        print(f"checked {result.checked} file(s), {size}: every one is what it should be")
        return 0
    print(
        f"{len(result.mismatches)} damaged file(s) of {result.checked} checked ({size})",
        file=sys.stderr,
    )
    print(
        f"  hint: `vf build` sets damaged takes aside (in {vfdir.DAMAGED}/) and restores or "
        "makes again what it can for free; --frozen refuses them",
        file=sys.stderr,
    )
    return 1


def cmd_gc(args: argparse.Namespace) -> int:
    if args.remote is not None:
        return _gc_remote(args)
    if args.grace is not None:
        raise UsageError("--grace is for `vf gc --remote`", hint="vf gc --remote --grace 7d")
    result = _film(args).gc(
        dry_run=args.dry_run,
        wait=not args.no_wait,
        on_wait=lambda line: print(line, file=sys.stderr, flush=True),
    )
    if args.json:
        from vfbuild import jsonout

        print(jsonout.dumps(jsonout.gc_record(result)))
        return 0
    would = "would remove" if result.dry_run else "removed"
    for sha in result.removed:
        print(f"{would} {sha}")
    print(
        f"{would} {len(result.removed)} unused store object(s), {result.freed / 1e6:.1f} MB "
        f"freed, and {result.thumbs} stale thumbnail(s), {result.thumbs_freed / 1e6:.1f} MB; "
        f"kept {result.kept} object(s) in use"
    )
    if result.partials:
        print(
            f"{would} {result.partials} part(s) of pulls cut off midway, "
            f"{result.partials_freed / 1e6:.1f} MB"
        )
    return 0


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="vf",
        description="vfbuild: build an AI film from shots.yaml — keyframe, pick, draft, pick, "
        "final, upscale, lipsync, edit — generating only what is stale.",
    )
    _global_options(ap, None)
    ap.add_argument("--version", action="version", version=f"vfbuild {__version__}")
    # The global options work after the command too (`vf build -v`): each command's parser
    # has them, with no default of its own, so one given before the command is not undone.
    common = argparse.ArgumentParser(add_help=False)
    _global_options(common, argparse.SUPPRESS)
    sub = ap.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def command(name: str, help: str) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=help, parents=[common])

    p = command("init", help="make a new film folder")
    p.add_argument("name")
    p.add_argument("--title")
    p.set_defaults(func=cmd_init)

    p = command("check", help="validate shots.yaml; prints only errors")
    p.set_defaults(func=cmd_check)

    for name, func, helptext in (
        ("plan", cmd_plan, "show what is stale, why, and what it would cost"),
        ("build", cmd_build, "make what is stale, in golden-rule order"),
        ("status", cmd_status, "show each shot's steps, versions and picks"),
        ("graph", cmd_graph, "print the task graph (DOT or Mermaid), stale tasks marked"),
    ):
        p = command(name, help=helptext)
        p.add_argument("shots", nargs="*", metavar="SHOT", help="only these shots")
        if name == "graph":
            p.add_argument(
                "--format",
                choices=("dot", "mermaid", "json"),
                default="dot",
                help="dot (default: Graphviz, `vf graph | dot -Tsvg`), mermaid, or json",
            )
        else:
            _json_option(p, name)
        if name != "status":
            p.add_argument(
                "--tier",
                choices=("draft", "final"),
                default=None,
                help="draft: stop after draft takes; final (default): go on to "
                "final, upscale, lipsync and the edit where picks allow; asked for, it also "
                "makes a rough cut at the final tier's size",
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
            _no_wait_option(p)
            p.add_argument(
                "--plain",
                action="store_true",
                help="one line per event, never the live progress (the default off a terminal)",
            )
        p.set_defaults(func=func)

    p = command("cost", help="what the film has spent: ledger.csv by shot, step, provider")
    _json_option(p, "cost")
    p.set_defaults(func=cmd_cost)

    p = command("jobs", help="paid jobs in flight, lost or failed (the job journal)")
    p.add_argument("shots", nargs="*", metavar="SHOT", help="only these shots")
    _json_option(p, "jobs")
    p.set_defaults(func=cmd_jobs)

    p = command("cancel", help="stop this film's paid jobs in flight at their providers")
    p.add_argument("shots", nargs="*", metavar="SHOT", help="only these shots")
    p.set_defaults(func=cmd_cancel)

    p = command("review", help="a contact sheet of every take in the browser: look, pick, build")
    p.add_argument("--port", type=int, default=0, help="listen on this port (default: a free one)")
    p.add_argument("--open", action="store_true", help="open the page in the web browser")
    p.add_argument(
        "--static",
        metavar="DIR",
        help="write the page as read-only files in DIR instead of serving it",
    )
    p.set_defaults(func=cmd_review)

    p = command("export", help="an edit version's timeline for an editor (OTIO, EDL, XML)")
    p.add_argument(
        "--format",
        choices=("otio", "otioz", "edl", "fcpxml", "fcp7xml"),
        default="otio",
        help="otio (default; Resolve imports it), otioz (with the media), edl (CMX 3600), "
        "fcpxml (Final Cut Pro), fcp7xml (Premiere, Resolve)",
    )
    p.add_argument("--version", type=int, help="the edit version (default: the latest)")
    p.add_argument("-o", metavar="FILE", help="write here (default: beside the edit in 06_Edit/)")
    p.set_defaults(func=cmd_export)

    p = command("qc", help="check the edit and every clip in it: rate, size, colour, black, sound")
    p.add_argument("--version", type=int, help="the edit version (default: the latest)")
    p.add_argument("--strict", action="store_true", help="exit 1 when a check fails")
    _json_option(p, "qc")
    p.set_defaults(func=cmd_qc)

    p = command(
        "verify", help="hash what the locks pin and the layout holds; name every damaged file"
    )
    p.add_argument(
        "--repair",
        action="store_true",
        help="fetch each damaged store object from the remote cache (verified) and link "
        "damaged layout files again from the store, then verify again",
    )
    _no_wait_option(p)
    _json_option(p, "verify")
    p.set_defaults(func=cmd_verify)

    p = command("gc", help="remove store objects nothing uses, and stale thumbnails")
    p.add_argument("--dry-run", action="store_true", help="say what would go; remove nothing")
    p.add_argument(
        "--remote",
        nargs="?",
        const="",
        metavar="NAME",
        help="the remote cache instead (default: the film's first): its cas/ and ac/ objects "
        "no lock uses, older than --grace",
    )
    p.add_argument("--grace", metavar="AGE", help="with --remote: only older than this (7d)")
    _no_wait_option(p)
    _json_option(p, "gc")
    p.set_defaults(func=cmd_gc)

    p = command("remote", help="the film's remote caches: list them, or `add NAME URL`")
    p.add_argument("action", nargs="?", choices=("add", "list"), default="list")
    p.add_argument("name", nargs="?")
    p.add_argument("url", nargs="?", help="s3://bucket/prefix, gs://…, az://…, file:///…")
    p.add_argument("--lease", type=float, metavar="SECONDS", help="claim lease (default 900)")
    p.set_defaults(func=cmd_remote)

    for name, func, helptext in (
        ("push", cmd_push, "upload the takes the locks pin (--all: every take) to the remote"),
        ("pull", cmd_pull, "download the takes the locks pin from the remote, verified"),
    ):
        p = command(name, help=helptext)
        p.add_argument("--remote", metavar="NAME", help="this remote (default: the first)")
        p.add_argument("--plain", action="store_true", help="plain progress lines")
        if name == "push":
            p.add_argument("--all", action="store_true", help="every take in the store")
        p.set_defaults(func=func)

    p = command("pick", help="pick a take: locks framing in locks/SHOT.yaml")
    p.add_argument("shot")
    p.add_argument("step", help="a step whose takes are picked (keyframe, draft)")
    p.add_argument("take", type=int)
    p.add_argument("--version", type=int, help="pick from this version (default: current)")
    _no_wait_option(p)
    p.set_defaults(func=cmd_pick)
    return ap


def _no_wait_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--no-wait",
        action="store_true",
        help="if another vfbuild command is writing to the film, stop at once (exit 2) "
        "instead of waiting for it",
    )


def _json_option(p: argparse.ArgumentParser, name: str) -> None:
    what = "the report" if name == "build" else "the answer"
    where = " (progress goes to stderr)" if name == "build" else ""
    p.add_argument(
        "--json",
        action="store_true",
        help=f"print {what} as JSON (schema/json/{name}.schema.json){where}",
    )


def _global_options(ap: argparse.ArgumentParser, default: object) -> None:
    """-C and -v, on `vf` itself (with their defaults) and on each command (`default`
    SUPPRESS: only what is given is set)."""
    ap.add_argument(
        "-C",
        metavar="DIR",
        default=default,
        help="act on the film in DIR (default: current folder)",
    )
    ap.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        default=default if default is argparse.SUPPRESS else False,
        help="log ffmpeg command lines",
    )


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
    from vfbuild.fsutil import find_film_root, read_only_film

    try:
        root = find_film_root(Path(args.C or "."))
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
