"""One exception hierarchy with a root, so the CLI can turn any of them into a clear message.

Every error that reaches the user is a `VfError`; anything else is a bug and is reported as one.
Every exception vfbuild raises is defined here:

    VfError                 exit 1: the root; `render()` is its message and hint
    ├── SpecError           exit 2: the film's input files are invalid (each problem, its place)
    ├── FilmNotFound        exit 2: no shots.yaml here or above
    ├── UsageError          exit 2: a command was asked for what cannot be
    │   └── FilmBusy        exit 2: another command holds the film's write lock (--no-wait)
    ├── LockError           exit 2: a lock file is unreadable, or a pick names no take
    ├── FrozenError         exit 3: --frozen was asked for what the locks do not pin
    ├── BudgetExceeded      exit 4: a paid job would pass --budget
    ├── MediaError          a file is not the media it should be, or ffmpeg failed
    ├── StoreError          the store refused a write or found a corrupt object
    │   └── DamagedArtifact a stored or laid-out file no longer hashes to its sha256
    ├── StepFailed          some takes of a step failed (each already reported)
    ├── PinnedMissing       a pick's artifact is gone and its provider cannot remake its bytes
    ├── TimelineError       a timeline could not be written in the format asked for
    ├── RemoteError         a remote cache could not be read or written
    │   └── RemoteCorrupt   a remote object's bytes are not its name's sha256: never stored
    └── ProviderError       a provider could not make a take
        ├── SubmitUnknown   a submit went out and its reply was lost: the job may exist
        ├── HttpStatusError a provider answered with an HTTP error status
        │   └── InputRefused    …refusing the input for good (a 422, a recognisable face):
        │                       never retried; the slot's `fallback:` provider may make it
        └── ResultRejected  a take came back, but not as its step asked: never stored

A manual take waiting for the user's file is not an error: it is a result (`Awaiting`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any


class VfError(Exception):
    """Root of every error vfbuild reports to a user. `exit_code` is the process status."""

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def render(self) -> str:
        text = f"error: {self.message}"
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return text


@dataclass(frozen=True)
class Location:
    """A place in an input file. `line` and `col` are 1-based, as editors show them."""

    path: Path | str
    line: int = 1
    col: int = 1

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.col}"


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input file: where, what, and how to fix it."""

    location: Location
    message: str
    hint: str | None = None

    def render(self) -> str:
        text = f"{self.location}: {self.message}"
        if self.hint:
            text += f" (hint: {self.hint})"
        return text


class SpecError(VfError):
    """The film's input files are invalid. Carries every problem found, each with its place."""

    exit_code = 2

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(
            problems, key=lambda p: (str(p.location.path), p.location.line, p.location.col)
        )
        super().__init__("\n".join(p.render() for p in self.problems))

    def render(self) -> str:
        return "\n".join(p.render() for p in self.problems)


class FilmNotFound(VfError):
    exit_code = 2


class UsageError(VfError):
    exit_code = 2


class FilmBusy(UsageError):
    """Another vfbuild command holds the film's write lock, and this one was told not to wait."""


class LockError(VfError):
    """A lock file is unreadable, or a pick names a take that does not exist."""

    exit_code = 2


class MediaError(VfError):
    """ffmpeg failed, or a file is not the media it should be."""


class ProviderError(VfError):
    """A provider could not make a take."""


class FrozenError(VfError):
    """`--frozen` was asked to build something the locks do not pin, or bytes did not match."""

    exit_code = 3


class StoreError(VfError):
    """The content-addressed store refused a write or found a corrupt object."""


class DamagedArtifact(StoreError):
    """A store object or a layout file no longer hashes to the sha256 it was stored as."""


class BudgetExceeded(VfError):
    """A paid job was not started because it would pass `--budget`."""

    exit_code = 4


class StepFailed(VfError):
    """Some takes of a step failed; each one's error is already in the build's events."""


class SubmitUnknown(ProviderError):
    """The request to create a job went out and its reply was lost: the job may exist."""


class HttpStatusError(ProviderError):
    """A provider answered with an HTTP error status; `body` is what it said."""

    def __init__(self, message: str, *, status: int, body: Any, hint: str | None = None):
        super().__init__(message, hint=hint)
        self.status = status
        self.body = body


class InputRefused(HttpStatusError):
    """A provider refuses a job's input deterministically (HTTP 422, a face it will not
    animate, a prompt its policy refuses): the same request would be refused again, so it is
    never retried, unlike a fault (a 5xx, a timeout), which is; the build hands such a take to
    the next provider of the slot's `fallback:` list. `status` and `body` are the HTTP reply's
    (422 when the refusal came in a job's status rather than an HTTP answer)."""

    def __init__(
        self, message: str, *, status: int = 422, body: Any = None, hint: str | None = None
    ) -> None:
        super().__init__(message, status=status, body=body, hint=hint)


class PinnedMissing(VfError):
    """A pick's artifact is not in the store, and the provider that made it cannot make the
    same bytes again (it is paid, or not deterministic, or unknown here)."""


class ResultRejected(ProviderError):
    """A take came back, but not as its step asked (kind, size, length, sound): never stored."""


class ReadOnlyFilm(VfError):
    """A command had to write to a film whose folder cannot be written."""

    exit_code = 2


class JournalError(VfError):
    """A job journal entry is damaged. It records a paid job, so it is never skipped."""

    exit_code = 2


class LedgerError(VfError):
    """A row of ledger.csv cannot be read: `vf cost` would not tell the truth."""

    exit_code = 2


class TimelineError(VfError):
    """A timeline could not be written in the format asked for."""


class RemoteError(VfError):
    """A remote cache (`remotes:` in shots.yaml) could not be reached, read or written."""


class RemoteCorrupt(RemoteError):
    """An object fetched from a remote cache is not the bytes its name (or the lock) pins:
    refused, never stored, nothing built from it."""
