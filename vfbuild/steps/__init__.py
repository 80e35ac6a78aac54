"""The registered steps, in golden-rule order.

Each module of this package holds one step (see `base.Step`) and registers it when imported;
the modules are found by listing the package, so adding a step is adding a module. Tests and
plugins add steps with `register` (and take them away with `unregister`).

    keyframe → pick → draft → pick → final → upscale → (voice →) lipsync
    → the film's music → mix → edit
"""

from __future__ import annotations

import importlib
import pkgutil
import threading
from typing import TYPE_CHECKING

from vfbuild.steps.base import (
    DONE,
    NEEDS_PICK,
    STALE,
    TIERS,
    WAITING,
    Job,
    Resolution,
    Step,
    StepState,
    Tier,
)

if TYPE_CHECKING:
    from vfbuild.spec.models import Film, Shot

__all__ = [
    "DONE",
    "NEEDS_PICK",
    "STALE",
    "TIERS",
    "WAITING",
    "Job",
    "Resolution",
    "Step",
    "StepState",
    "Tier",
    "film_steps",
    "get",
    "picked_names",
    "plugins",
    "register",
    "registered",
    "shot_steps",
    "slot_of",
    "unregister",
]

_REGISTRY: dict[str, Step] = {}
_ordered: list[tuple[Step, ...]] = []  # the registry in order, once worked out
_discovered: list[bool] = []  # the package's modules were imported
_lock = threading.Lock()
_INTERFACE = frozenset({"base"})


def register(step: Step) -> Step:
    """Add `step` (an instance) under its name; a step of that name is replaced."""
    _REGISTRY[step.name] = step
    _ordered.clear()
    return step


def plugins() -> list[str]:
    """The steps registered from outside this package (a plugin's, a test's), by name and
    class: what the no-op stamp must see besides vfbuild's own sources."""
    return sorted(
        f"{n}={type(s).__module__}.{type(s).__qualname__}"
        for n, s in _REGISTRY.items()
        if not type(s).__module__.startswith(f"{__name__}.")
    )


def unregister(name: str) -> None:
    _REGISTRY.pop(name, None)
    _ordered.clear()


def _load() -> None:
    with _lock:
        if _ordered:
            return
        if not _discovered:
            for mod in pkgutil.iter_modules(__path__):
                if mod.name not in _INTERFACE:
                    importlib.import_module(f"{__name__}.{mod.name}")
            _discovered.append(True)
        _ordered.append(tuple(sorted(_REGISTRY.values(), key=lambda s: (s.order, s.name))))


def registered() -> tuple[Step, ...]:
    """Every step, in golden-rule order."""
    if not _ordered:
        _load()
    return _ordered[0]


def get(name: str) -> Step:
    if not _ordered:
        _load()
    return _REGISTRY[name]


def shot_steps(film: Film, shot: Shot) -> tuple[Step, ...]:
    """The steps `shot` goes through, in order."""
    return tuple(s for s in registered() if s.scope == "shot" and s.applies(film, shot))


def film_steps(film: Film | None = None) -> tuple[Step, ...]:
    """The film's own steps (music, mix, edit), which come after every shot's; given `film`,
    only those it has (see `Step.in_film`)."""
    return tuple(s for s in registered() if s.scope == "film" and (film is None or s.in_film(film)))


def picked_names() -> tuple[str, ...]:
    """Names of the steps whose takes a human picks."""
    return tuple(s.name for s in registered() if s.picked)


def slot_of(name: str) -> str | None:
    """The `providers:` slot that makes step `name` (None: the local renderer)."""
    return get(name).slot
