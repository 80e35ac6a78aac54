"""How `vf push` and `vf pull` show their progress: a rich bar on a terminal, plain lines when
piped (one a second at most, and the last)."""

from __future__ import annotations

import threading
import time
from typing import IO, Any


def mib(n: int) -> str:
    return f"{n / 2**20:.1f} MiB"


class PlainMeter:
    def __init__(self, out: IO[str], verb: str) -> None:
        self.out, self.verb = out, verb
        self.lock = threading.Lock()
        self.objects = self.total = self.count = self.nbytes = 0
        self.last = 0.0

    def begin(self, objects: int, total_bytes: int) -> None:
        self.objects, self.total = objects, total_bytes

    def advance(self, nbytes: int) -> None:
        with self.lock:
            self.nbytes += nbytes

    def done(self, label: str, moved: bool) -> None:
        with self.lock:
            self.count += 1
            now = time.monotonic()
            if now - self.last < 1.0 and self.count < self.objects:
                return
            self.last = now
            of = f" of {mib(self.total)}" if self.total else ""
            print(
                f"  {self.verb} {self.count}/{self.objects} take(s), {mib(self.nbytes)}{of}",
                file=self.out,
                flush=True,
            )

    def end(self) -> None:
        pass


class RichMeter:
    def __init__(self, out: IO[str], verb: str) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TextColumn,
            TransferSpeedColumn,
        )

        self.verb = verb
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            console=Console(file=out),
        )
        self.task: Any = None
        self.objects = self.count = 0
        self.lock = threading.Lock()

    def begin(self, objects: int, total_bytes: int) -> None:
        self.objects = objects
        self.progress.start()
        self.task = self.progress.add_task(self._what(), total=total_bytes or None)

    def _what(self) -> str:
        return f"{self.verb} {self.count}/{self.objects} take(s)"

    def advance(self, nbytes: int) -> None:
        self.progress.update(self.task, advance=nbytes)

    def done(self, label: str, moved: bool) -> None:
        with self.lock:
            self.count += 1
            self.progress.update(self.task, description=self._what())

    def end(self) -> None:
        self.progress.stop()


def meter(out: IO[str], verb: str, plain: bool) -> PlainMeter | RichMeter:
    return RichMeter(out, verb) if not plain and out.isatty() else PlainMeter(out, verb)
