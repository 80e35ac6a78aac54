"""One writer at a time per film: `vf build`, `vf pick`, `vf gc` and the review page's builds.

An OS file lock (`fcntl.flock`) on `.vf/build.lock`: the kernel releases it when its holder
exits, however it exits (kill -9 too), so a lock is never stale and nothing has to be cleaned.
A second writer waits for the first, saying so once, or with `wait=False` stops at once with
`FilmBusy`. The holder writes its pid and command into the file, for the waiting one's message.

flock locks belong to an open file, not a process: a build in one thread of the review page
and a pick in another exclude each other as two processes do.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Callable, Iterator
from pathlib import Path

from vfbuild.errors import FilmBusy
from vfbuild.store import vfdir


def _holder(fh: object) -> str:
    """What the lock file says of its holder ("pid 123, vf build"), or ""."""
    try:
        with open(fh.name) as f:  # type: ignore[attr-defined]
            said = f.read(200).strip()
    except OSError:
        return ""
    return f" ({said})" if said else ""


@contextlib.contextmanager
def film_lock(
    root: Path,
    what: str,
    *,
    wait: bool = True,
    on_wait: Callable[[str], None] | None = None,
) -> Iterator[None]:
    """Hold the film's write lock for `what` ("vf build", "vf pick", "vf gc")."""
    vfdir.at(root, vfdir.VF).mkdir(parents=True, exist_ok=True)
    path = vfdir.at(root, vfdir.BUILD_LOCK)
    # "a": never truncate the holder's line before we hold the lock.
    with open(path, "a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(fh)
            if not wait:
                raise FilmBusy(
                    f"another vfbuild command is writing to this film{holder}",
                    hint=f"wait for it to finish, or run {what} again without --no-wait "
                    "(it then waits)",
                ) from None
            if on_wait is not None:
                on_wait(f"waiting for another vfbuild command on this film{holder} to finish…")
            fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            fh.seek(0)
            fh.truncate()
            fh.write(f"pid {os.getpid()}, {what}\n")
            fh.flush()
        except OSError:
            pass  # only for the message of whoever waits
        yield
