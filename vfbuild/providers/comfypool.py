"""ComfyUI as a pool of render boxes: several base URLs, each job on the least busy one.

The boxes come from `base_urls:` in the slot's `providers:` entry, or a comma-separated
`VF_COMFYUI_BASE_URL` (which overrides the film, as it does for one box). One box is the
provider as it always was; with two or more:

- a job goes to the box whose `GET /queue` lists the fewest jobs (`queue_running` +
  `queue_pending`, plus those this build is sending it now); a box that does not answer that
  question at once is passed over (and asked again after `DOWN_SECONDS`);
- a job's id names its box, `<prompt id>@<base url>` in the journal, so a later build polls,
  downloads from and cancels at the box that has the job, and only there;
- a job is sent to another box only when it cannot have started: its submit never reached
  its box (no connection) or, for a job whose submit reply was lost, every box answered and
  none has it. A job a box accepted waits for that box: while the box does not answer, the
  build fails the take clearly and the next build resumes it there.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass

from vfbuild.errors import HttpStatusError, ProviderError, SubmitUnknown
from vfbuild.providers.http import Http

log = logging.getLogger(__name__)

DOWN_SECONDS = 10.0  # a box that did not answer is passed over this long
PROBE_TIMEOUT = 2.0  # seconds a box has to answer "how busy are you?"


def split_urls(*values: str | Iterable[str] | None) -> list[str]:
    """The boxes' base URLs, in order, each once: from strings (comma-separated) or lists."""
    out: list[str] = []
    for value in values:
        if not value:
            continue
        items = value.split(",") if isinstance(value, str) else list(value)
        for item in items:
            url = item.strip().rstrip("/")
            if url and url not in out:
                out.append(url)
    return out


def unreachable(e: BaseException) -> bool:
    """Whether an error from `Http` means the box never got the request (no connection after
    every retry), as against an answer (a status) or a reply lost on the way back."""
    return (
        isinstance(e, ProviderError)
        and not isinstance(e, HttpStatusError | SubmitUnknown)
        and "cannot connect" in e.message
    )


@dataclass
class Box:
    url: str
    http: Http
    probe: Http  # no retries, a short timeout: for "how busy are you?" only
    sending: int = 0  # jobs this build chose it for and has not submitted yet
    queued: int = 0  # jobs this build queued at it, ever (see `choose`)
    down_until: float = 0.0


class BoxPool:
    def __init__(self, provider: str, urls: list[str], timeout: float) -> None:
        self.provider = provider
        self.timeout = timeout
        self._lock = threading.Lock()
        self.boxes = [self._box(u) for u in urls]

    def _box(self, url: str) -> Box:
        return Box(
            url,
            Http(self.provider, url, timeout=self.timeout),
            Http(self.provider, url, timeout=PROBE_TIMEOUT, retries=0),
        )

    @property
    def many(self) -> bool:
        return len(self.boxes) > 1

    # -- where a job is -----------------------------------------------------------------------

    def job_id(self, prompt_id: str, box: Box) -> str:
        return f"{prompt_id}@{box.url}" if self.many else prompt_id

    def locate(self, job_id: str) -> tuple[Box, str]:
        """The box a journalled job is on, and its prompt id there. An id without a box is
        the first box's (journals of a film with one box)."""
        prompt_id, at, url = job_id.partition("@")
        if not at:
            return self.boxes[0], job_id
        with self._lock:
            for box in self.boxes:
                if box.url == url:
                    return box, prompt_id
            box = self._box(url)  # no longer in the film's list: the job is still there
            self.boxes.append(box)
            return box, prompt_id

    # -- where a new job goes -----------------------------------------------------------------

    def load(self, box: Box) -> int | None:
        """Jobs running and queued at `box`, or None when it does not answer at once."""
        try:
            queue = box.probe.get_json("/queue", what="how busy")
            running = queue.get("queue_running") or []
            pending = queue.get("queue_pending") or []
            return len(running) + len(pending)
        except (ProviderError, ValueError, AttributeError) as e:
            log.debug("%s: %s did not say how busy it is: %s", self.provider, box.url, e)
            return None

    def choose(self, exclude: Iterable[str] = ()) -> Box:
        """The least busy box that answers (reserved: `sent` gives it back); the first box
        when there is one, or when none answers (its errors then say what is wrong)."""
        if not self.many:
            return self.boxes[0]
        skip = set(exclude)
        now = time.monotonic()
        # A box's answer can be older than a job another thread queued there since: that job
        # no longer counts as `sending`, and its queue did not list it yet. Without counting
        # it, two jobs chosen at once could both go to the first box (a unit test builds it).
        with self._lock:
            queued_before = {box.url: box.queued for box in self.boxes}
        loads: list[tuple[int, int, Box]] = []
        for i, box in enumerate(self.boxes):
            if box.url in skip or box.down_until > now:
                continue
            n = self.load(box)
            if n is None:
                self.mark_down(box)
                continue
            loads.append((n, i, box))
        if not loads:
            alive = [b for b in self.boxes if b.url not in skip] or self.boxes
            raise ProviderError(
                f"{self.provider}: no ComfyUI box answers ({', '.join(b.url for b in alive)})",
                hint="start a box (or fix `base_urls:` in shots.yaml), then build again",
            )
        with self._lock:

            def busy(t: tuple[int, int, Box]) -> tuple[int, int]:
                n, i, box = t
                return n + box.sending + box.queued - queued_before.get(box.url, 0), i

            _, _, best = min(loads, key=busy)
            best.sending += 1
            log.debug(
                "%s: chose %s (busy: %s)",
                self.provider,
                best.url,
                ", ".join(f"{t[2].url}={busy(t)[0]}" for t in loads),
            )
        return best

    def sent(self, box: Box, *, queued: bool = False) -> None:
        """A job chosen for `box` was queued there (`queued`: its queue counts it now) or
        given up."""
        with self._lock:
            box.sending = max(0, box.sending - 1)
            box.queued += queued

    def mark_down(self, box: Box) -> None:
        log.debug("%s: %s passed over for %.0fs", self.provider, box.url, DOWN_SECONDS)
        box.down_until = time.monotonic() + DOWN_SECONDS
