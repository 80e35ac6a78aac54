"""`vf build`'s live progress on a terminal, from the build's events (`vfbuild.plan.events`).

`Progress` follows the events and knows what to show: takes made of those to make, steps run,
money spent against the budget, and each take in flight with its state and age. `LiveDisplay`
draws it with rich, redrawn in place, and prints the build's lines above it; rich is imported
only once there is work to show, so a build that has nothing to do (the stamped no-op above
all) never loads it. Off a terminal, `vf build` prints the lines alone (`PlainDisplay`).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING

from vfbuild.plan import events as ev
from vfbuild.plan.events import BuildEvent

if TYPE_CHECKING:
    from rich.console import RenderableType
    from rich.live import Live

SHOWN = 12  # takes in flight drawn at most; the rest are counted
REFRESH_PER_SECOND = 8
MIN_INTERVAL = 0.05  # a take's change of state is drawn at once, at most this often


@dataclass
class Take:
    label: str
    shot: str
    step: str
    take: int | None
    provider: str
    state: str
    since: float  # when it left its -j slot's queue (or was first heard of)
    fraction: float | None = None


@dataclass(frozen=True)
class Snapshot:
    """What the display shows at one moment (a copy: the build's threads go on)."""

    done: int  # takes finished: made, failed, or waiting for the user's file
    total: int  # takes to make, as far as the steps started so far know
    failed: int
    spent: float
    budget: float | None
    elapsed: float
    takes: tuple[Take, ...]  # in flight, oldest first


class Progress:
    """The state of a build, as its events tell it. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.start = time.monotonic()
        self.done = 0
        self.failed = 0
        self.total = 0
        self.spent = 0.0
        self.budget: float | None = None
        self.takes: dict[str, Take] = {}

    def hear(self, event: BuildEvent) -> None:
        with self._lock:
            kind = event.kind
            if kind == ev.HEADER:
                self.budget = event.budget
            elif kind == ev.STEP:
                self.total += event.count or 0
            elif kind == ev.SPENT and event.spent is not None:
                self.spent = event.spent
            elif kind == ev.TAKE:
                self._state(event)
            elif kind == ev.PROGRESS and event.label in self.takes:
                self.takes[event.label].fraction = event.fraction
            elif kind in (ev.MADE, ev.FAILED, ev.INBOX):
                self.takes.pop(event.label, None)
                self.done += 1
                self.failed += kind == ev.FAILED
                self.total = max(self.total, self.done)

    def _state(self, event: BuildEvent) -> None:
        take = self.takes.get(event.label)
        if take is None:
            take = self.takes[event.label] = Take(
                event.label, event.shot, event.step, event.take, event.provider, "", event.at
            )
        if take.state == ev.PENDING and event.state != ev.PENDING:
            take.since = event.at  # its age counts from when it got its slot
        take.state = event.state

    def snapshot(self) -> Snapshot:
        with self._lock:
            now = time.monotonic()
            return Snapshot(
                done=self.done,
                total=self.total,
                failed=self.failed,
                spent=self.spent,
                budget=self.budget,
                elapsed=now - self.start,
                takes=tuple(Take(**vars(t)) for t in self.takes.values()),
            )


def summary(s: Snapshot) -> str:
    """The display's first line: `takes 3/8 (1 failed) · 2 in flight · $0.12 of $12.50 · 4.2s`.
    The takes to make grow as steps start (a step's takes are known once its input is made)."""
    failed = f" ({s.failed} failed)" if s.failed else ""
    money = f"${s.spent:.2f}" + (f" of ${s.budget:.2f}" if s.budget is not None else " spent")
    busy = sum(t.state != ev.PENDING for t in s.takes)
    return f"takes {s.done}/{s.total}{failed} · {busy} in flight · {money} · {s.elapsed:.1f}s"


class PlainDisplay:
    """One line per event that says one (what `vf build` printed before live progress)."""

    def __init__(self, out: IO[str]) -> None:
        self.out = out

    def __call__(self, event: BuildEvent) -> None:
        if event.line:
            print(event.line, file=self.out, flush=True)

    def __enter__(self) -> PlainDisplay:
        return self

    def __exit__(self, *exc: object) -> None:
        pass


class LiveDisplay:
    """The build's lines, with the live progress below them, redrawn in place (a context
    manager: the live part is gone when the build is over, its lines stay)."""

    def __init__(self, out: IO[str]) -> None:
        self.out = out
        self.progress = Progress()
        self._live: Live | None = None
        # Every write to the terminal holds `_draw`, each frame drawn from the state of that
        # moment: frames come out in order (rich's own refresh thread renders a frame, and
        # writes it after a line another thread printed, with a newer frame, had gone out).
        self._draw = threading.Lock()
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None
        self._drawn = 0.0  # when the last frame went out

    def __call__(self, event: BuildEvent) -> None:
        self.progress.hear(event)
        with self._draw:
            live = self._live
            if live is None and self._work(event):
                live = self._start()
            if live is None:
                if event.line:
                    print(event.line, file=self.out, flush=True)
                return
            if event.line:
                from rich.text import Text

                live.console.print(Text(event.line), soft_wrap=True)
            now = time.monotonic()
            if event.kind in (ev.MADE, ev.FAILED, ev.INBOX, ev.STEP) or (
                # A take's new state is drawn now, unless a frame went out just before (a
                # burst of events: the next tick draws them).
                event.kind == ev.TAKE
                and event.state != ev.PENDING
                and now - self._drawn >= MIN_INTERVAL
            ):
                self._refresh(live)  # each take done is drawn, however fast they come

    def _refresh(self, live: Live) -> None:
        live.refresh()
        self._drawn = time.monotonic()

    def _tick(self) -> None:
        while not self._stop.wait(1 / REFRESH_PER_SECOND):
            with self._draw:
                if self._live is not None and not self._stop.is_set():
                    self._refresh(self._live)  # the ages of the takes in flight go on

    @staticmethod
    def _work(event: BuildEvent) -> bool:
        """Whether the build has started work worth a live display."""
        return (event.kind == ev.PLANNED and bool(event.count)) or event.kind in (
            ev.STEP,
            ev.TAKE,
        )

    def _start(self) -> Live:
        from rich.console import Console
        from rich.live import Live

        console = Console(file=self.out, force_terminal=True)
        live = Live(
            get_renderable=self._render,
            console=console,
            auto_refresh=False,  # `_tick` refreshes, holding `_draw`
            transient=True,
            redirect_stdout=False,
            redirect_stderr=False,
        )
        live.start()
        self._live = live
        self._ticker = threading.Thread(target=self._tick, name="vf-progress", daemon=True)
        self._ticker.start()
        return live

    def _render(self) -> RenderableType:
        # Text lines padded here, not a rich Table: a table of 12 rows takes ~40 ms to draw
        # on this kind of machine, these lines ~2 ms, and the build's threads share the GIL.
        from rich.console import Group
        from rich.progress_bar import ProgressBar
        from rich.text import Text

        s = self.progress.snapshot()
        now = time.monotonic()
        busy = sorted(s.takes, key=lambda t: (t.state == ev.PENDING, t.since))
        rows = [("shot", "step", "take", "provider", "state", "elapsed")]
        for t in busy[:SHOWN]:
            state = t.state + (f" {t.fraction:.0%}" if t.fraction is not None else "")
            waiting = t.state == ev.PENDING
            rows.append(
                (
                    t.shot or "film",
                    t.step,
                    f"t{t.take:02d}" if t.take is not None else "",
                    t.provider,
                    state,
                    "" if waiting else f"{now - t.since:.1f}s",
                )
            )
        widths = [max(len(r[i]) for r in rows) for i in range(6)]
        lines: list[RenderableType] = [
            ProgressBar(total=max(s.total, 1), completed=s.done, width=40),
            Text(summary(s), style="bold"),
        ]
        for n, row in enumerate(rows if busy else []):
            cells = [c.ljust(w) for c, w in zip(row, widths, strict=True)]
            cells[5] = row[5].rjust(widths[5])
            style = "dim" if n == 0 else ""
            state_style = "dim" if n == 0 or row[4] == ev.PENDING else "cyan"
            lines.append(
                Text.assemble(
                    (" " + "  ".join(cells[:4]) + "  ", style),
                    (cells[4], state_style),
                    ("  " + cells[5], style),
                )
            )
        if len(busy) > SHOWN:
            lines.append(Text(f" … and {len(busy) - SHOWN} more", style="dim"))
        return Group(*lines)

    def __enter__(self) -> LiveDisplay:
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join()
        with self._draw:
            if self._live is not None:
                self._live.stop()
