"""One exception hierarchy with a root, so the CLI can turn any of them into a clear message.

Every error that reaches the user is a `VfError`; anything else is a bug and is reported as one.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


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


class ReadOnlyFilm(VfError):
    """A command had to write to a film whose folder cannot be written."""

    exit_code = 2


class JournalError(VfError):
    """A job journal entry is damaged. It records a paid job, so it is never skipped."""

    exit_code = 2


class LedgerError(VfError):
    """A row of ledger.csv cannot be read: `vf cost` would not tell the truth."""

    exit_code = 2
