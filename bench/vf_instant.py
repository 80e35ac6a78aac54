"""`vf` with the benchmark's instant provider registered: `python3 -m bench.vf_instant ARGS`.

The benchmark times this module as a subprocess, exactly like `python3 -m vfbuild ARGS`; the
only extra work is importing bench.instant (stdlib only) and a dict insert or two. With
VF_BENCH_EDIT=instant the film's edit is made by the instant provider too (see
`bench.instant.register`).
"""

from __future__ import annotations

import sys
from typing import NoReturn


def main() -> NoReturn:
    import os

    from bench.instant import register

    register(instant_edit=os.environ.get("VF_BENCH_EDIT") == "instant")
    rss_file = os.environ.get("BENCH_RSS_FILE")
    if rss_file:
        import atexit

        atexit.register(_write_peak_rss, rss_file)
    from vfbuild.cli import run

    run(sys.argv[1:])


def _write_peak_rss(path: str) -> None:
    """This process's peak RSS in KiB (VmHWM). Not getrusage: on Linux a child's ru_maxrss
    includes the memory of the process it was forked from, before its exec."""
    with open("/proc/self/status") as f:
        peak = next(line.split()[1] for line in f if line.startswith("VmHWM:"))
    with open(path, "w") as f:
        f.write(peak + "\n")


if __name__ == "__main__":
    main()
