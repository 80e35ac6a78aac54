"""The build's `-j` slots: how many jobs are in flight at once, and who goes first.

A local render holds a slot for the whole render. A remote take holds one from its submit until
the provider says the job is done, then downloads its result in one of `-j` download slots.

Starting a job comes before finishing one: a take about to download waits (at most a quarter
of a second) while another take is taking a free slot or submitting. An idle slot costs the
whole build its share of the provider's time; a download that starts 20 ms later costs nothing.
On two cores and one GIL, eight downloads, probes and hashes running while the next eight jobs
are being submitted delayed each round of jobs by 50–100 ms.
"""

from __future__ import annotations

import threading
import time

CALM_TIMEOUT = 0.25  # the longest a download waits for submits


class Slots:
    def __init__(self, jobs: int) -> None:
        self.n = max(1, jobs)
        self.used = 0
        self.waiting = 0  # takes waiting for a slot
        self.starting = 0  # takes holding a slot whose job is not submitted yet
        lock = threading.Lock()
        # Two conditions on one lock: a freed slot wakes one waiting take, not all of them
        # (with -j 16, 24 takes wait; waking each at every release is hundreds of GIL hand-offs
        # at the moment the next jobs should go out), and only downloads wait to be calm.
        self.free = threading.Condition(lock)
        self.quiet = threading.Condition(lock)
        self.downloads = threading.BoundedSemaphore(self.n)

    def take(self) -> Slot:
        return Slot(self)

    def _acquire(self, starting: bool) -> None:
        with self.free:
            self.waiting += 1
            self.free.wait_for(lambda: self.used < self.n)
            self.waiting -= 1
            self.used += 1
            if starting:
                self.starting += 1

    def _started(self) -> None:
        with self.quiet:
            self.starting -= 1
            self.quiet.notify_all()

    def _release(self) -> None:
        with self.free:
            self.used -= 1
            self.free.notify()  # a release never makes it calm: a take waits, or none starts

    def calm(self) -> None:
        """Wait while a take is about to start a job (one waits for a free slot, or holds one
        and has not submitted yet), at most CALM_TIMEOUT."""
        with self.quiet:
            self.quiet.wait_for(
                lambda: self.starting == 0 and (self.waiting == 0 or self.used == self.n),
                CALM_TIMEOUT,
            )


class Slot:
    """One take's hold on a slot (a context manager; a remote take may enter it once). It
    remembers when the take first got it, and counts the take as starting until `started()`."""

    def __init__(self, slots: Slots) -> None:
        self.slots = slots
        self.taken: float | None = None
        self._starting = False

    def __enter__(self) -> Slot:
        self.slots._acquire(starting=True)
        self._starting = True
        if self.taken is None:
            self.taken = time.monotonic()
        return self

    def started(self) -> None:
        """The job is at the provider (or the take makes it here): it is no longer starting."""
        if self._starting:
            self._starting = False
            self.slots._started()

    def __exit__(self, *exc: object) -> None:
        self.started()
        self.slots._release()


class Download:
    """A remote take's download slot, entered once the starts queued before it are done."""

    def __init__(self, slots: Slots) -> None:
        self.slots = slots

    def __enter__(self) -> Download:
        self.slots.calm()
        self.slots.downloads.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.slots.downloads.release()
