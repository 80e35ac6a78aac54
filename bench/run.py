"""`bench/run [PART ...] [--quick] ...`: vfbuild's benchmarks; writes bench/RESULTS.md.

Parts: noop (no-op at 100/1000/5000 shots next to make and DVC), change (one changed shot
among 1000), concurrency (40 takes against a fake provider at -j 1/4/8/16), edit (the example
film's edit against one hand-written ffmpeg command), memory (peak RSS downloading 1 GiB),
review (the review page of the 100-shot film in headless chromium, cold and warm), perf
(issue 20: status, a touched film, a cold cache, one change; by name only, into RESULTS.md).

A full run (every part, default sizes) writes bench/RESULTS.md; a subset, --quick or other
sizes write bench/out/RESULTS.md, so a quick check never overwrites the real results. Built
films and DVC projects are kept in bench/out/work/ and reused while they are still no-ops
(--fresh makes them again).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import pickle
import sys
import time
import traceback
from pathlib import Path

from bench import report
from bench.util import BENCH, OUT, REPO, WORK, install_dvc, machine, versions

PARTS = ("noop", "change", "concurrency", "edit", "memory", "review", "remote", "perf")
# Parts a full run leaves out (run by name): perf rebuilds the films around its changes.
BY_NAME = ("perf",)
SIZES = (100, 1000, 5000)


def parse(argv: list[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="bench/run", description=__doc__.split("\n\n")[0])
    ap.add_argument("parts", nargs="*", metavar="PART", help=f"any of {', '.join(PARTS)}")
    ap.add_argument("--quick", action="store_true", help="small sizes, 3 runs: a few minutes")
    ap.add_argument(
        "--sizes", nargs="+", help="film sizes for noop, e.g. 100,1000 (default 100,1000,5000)"
    )
    ap.add_argument("--runs", type=int, help="timed runs per command after a warm-up (default 5)")
    ap.add_argument("--dvc-max", type=int, default=1000, help="largest film to run `dvc status` on")
    ap.add_argument("--repro-max", type=int, default=100, help="largest film to run `dvc repro` on")
    ap.add_argument("--no-dvc", action="store_true", help="do not install or run DVC")
    ap.add_argument("--fresh", action="store_true", help="rebuild the kept films")
    ap.add_argument("--out", type=Path, help="where to write the results")
    ap.add_argument(
        "--vf-tree",
        type=Path,
        help="time the vfbuild package in DIR/vfbuild instead of this checkout's (e.g. a copy "
        "from before a fix), on copies of the kept films",
    )
    args = ap.parse_args(argv)
    bad = [p for p in args.parts if p not in PARTS]
    if bad:
        ap.error(f"unknown part {', '.join(bad)}; parts are {', '.join(PARTS)}")
    return args


def compile_bytecode(vf_tree: Path | None) -> None:
    """Byte-compile the vfbuild being timed, and bench. A package pip installed has its .pyc
    files; a checkout gets them on its first import, unless PYTHONDONTWRITEBYTECODE is set
    (it is on this machine), and then every timed vf compiles its modules first: ~0.1 s of
    a build, measured as vfbuild's."""
    import compileall

    for folder in ((vf_tree or REPO) / "vfbuild", REPO / "bench"):
        compileall.compile_dir(folder, quiet=1)


def main(argv: list[str] | None = None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    parts = args.parts or [p for p in PARTS if p not in BY_NAME]
    sizes = (
        [int(x) for v in args.sizes for x in v.split(",")]
        if args.sizes
        else ([100] if args.quick else list(SIZES))
    )
    runs = args.runs or (3 if args.quick else 5)
    full = not args.quick and not args.parts and sizes == list(SIZES) and runs >= 5
    out = args.out or (BENCH / "RESULTS.md" if full else OUT / "RESULTS.md")
    WORK.mkdir(parents=True, exist_ok=True)
    tag = hashlib.sha1(str(out.resolve()).encode()).hexdigest()[:8]
    kept = OUT / f"report-{out.stem}-{tag}.pickle"
    if args.vf_tree:
        os.environ["BENCH_VF_TREE"] = str(args.vf_tree.resolve())

    def log(msg: str) -> None:
        print(msg, flush=True)

    started = time.perf_counter()
    compile_bytecode(args.vf_tree)
    dvc = None
    if "noop" in parts and not args.no_dvc:
        dvc = install_dvc(log)
    rep = report.Report(
        machine=machine(),
        versions=versions(dvc),
        quick=args.quick,
        runs=runs,
        command="bench/run " + " ".join(sys.argv[1:] if argv is None else argv),
    )
    if args.vf_tree:
        rep.versions["vfbuild"] = f"the tree {args.vf_tree.resolve()} (not this checkout)"
    change_n = 1000 if 1000 in sizes else max(sizes)
    perf_text = ""
    for part in parts:
        t0 = time.perf_counter()
        try:
            if part == "noop":
                from bench import noop

                rep.noop = noop.run(
                    sizes,
                    runs,
                    dvc=dvc,
                    dvc_version=rep.versions["dvc"],
                    dvc_max=args.dvc_max,
                    repro_max=args.repro_max,
                    fresh=args.fresh,
                    log=log,
                )
            elif part == "change":
                from bench import change, noop

                root, _ = noop.film(change_n, fresh=args.fresh and "noop" not in parts, log=log)
                rep.change = change.run(root, change_n, runs, log=log)
            elif part == "concurrency":
                from bench import concurrency

                conc_runs = min(runs, 2) if args.quick else runs
                rep.concurrency = concurrency.run(conc_runs, quick=args.quick, log=log)
            elif part == "edit":
                from bench import edit as editbench

                rep.edit = editbench.run(runs, quick=args.quick, log=log)
            elif part == "memory":
                from bench import memory

                rep.memory = memory.run(quick=args.quick, log=log)
            elif part == "review":
                from bench import review

                fresh = args.fresh and "noop" not in parts
                rep.review = review.run(runs, fresh=fresh, log=log)
            elif part == "remote":
                from bench import remote

                rep.remote = remote.run(quick=args.quick, log=log)
            elif part == "perf":
                from bench import perf

                before = os.getloadavg()[0]
                results = perf.run(sizes, runs, fresh=args.fresh, log=log)
                load = f"{before:.1f} at the start, {os.getloadavg()[0]:.1f} at the end"
                perf_text = perf.markdown(results, command=rep.command, load=load, runs=runs)
        except Exception as e:  # noqa: BLE001 - one part failing must not lose the others
            log(f"  {part} FAILED: {e!r}")
            rep.failures[part] = traceback.format_exc()
        rep.durations[part] = time.perf_counter() - t0
        out.parent.mkdir(parents=True, exist_ok=True)
        rep.total = time.perf_counter() - started
        out.write_text(rep.markdown(total=rep.total))
        if part == "perf" and perf_text:
            from bench import perf

            # Its own section, in place of the last one (after the report: --out may be one file).
            perf.write_section(args.out or BENCH / "RESULTS.md", perf_text)
            log(perf_text)
        # Kept so the Markdown can be written again (bench/FIXES.md edited):
        # python3 -m bench.report bench/out/<this>.pickle <out>
        kept.write_bytes(pickle.dumps(rep))
    log(f"wrote {out} in {time.perf_counter() - started:.0f}s (its data: {kept})")
    return 1 if rep.failures else 0


if __name__ == "__main__":
    sys.exit(main())
