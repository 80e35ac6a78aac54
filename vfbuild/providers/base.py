"""The provider protocol: the seam between the build and whoever makes takes.

Like httpx's transport, it is small on purpose. The build hands a provider a recipe, the input
files the recipe's hashes stand for, and a temp path to write; the store does the rest.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

InputFiles = dict[str, Path | list[Path]]


class Provider(Protocol):
    name: str
    paid: bool  # a paid provider is never called under --frozen
    deterministic: bool  # same recipe → same bytes; lets --frozen remake a pinned take

    def model(self, step: str, configured: str | None) -> str: ...

    def engine(self, step: str) -> dict[str, Any]:
        """What besides the model decides the bytes (e.g. the local ffmpeg's version)."""
        ...

    def ext(self, step: str) -> str: ...

    def make(
        self,
        recipe: dict[str, Any],
        inputs: InputFiles,
        out: Path,
        progress: Callable[[float], None] | None = None,
    ) -> None:
        """Write the take for `recipe` to exactly `out`; raise a VfError on failure.
        `progress`, when given, hears the fraction done (0..1) of long jobs."""
        ...
