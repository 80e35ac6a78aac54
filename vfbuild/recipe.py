"""Recipes and recipe keys.

A recipe is everything that determines a take: step, provider, model, engine identity, tier
settings, composed prompt, negative prompt, seed, take index and the sha256 of every input.
Paths, timestamps and secrets never enter it. Its key is the sha256 of its canonical JSON.
The step key (the recipe without the take index) is what gets a version number: raising
`takes` adds takes to the same version.

`Recipe` is frozen and typed; it reads as a mapping too (`recipe["model"]`), which is the form
providers, locks and the recipe index take (`as_dict`). Its canonical JSON is exactly the JSON
of that mapping, so recipe keys are what they were when recipes were plain dicts.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

RECIPE_FORMAT = 1


def canonical_json(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def key_of(recipe: Mapping[str, Any]) -> str:
    # A recipe's own dicts are serialized as they are: the copies `as_dict` makes are for
    # callers that keep the data, and a full check hashes ~14,000 recipes at 1000 shots.
    data = recipe._plain() if isinstance(recipe, Recipe) else recipe
    return hashlib.sha256(canonical_json(data).encode("utf-8")).hexdigest()


def step_key_of(recipe: Mapping[str, Any]) -> str:
    return key_of(
        {k: v for k, v in recipe.items() if k not in ("take", "seed")} | {"seed0": _seed0(recipe)}
    )


def _seed0(recipe: Mapping[str, Any]) -> Any:
    # Take n uses seed+n-1, so the version's identity is the seed of take 1.
    seed, take = recipe.get("seed"), recipe.get("take")
    if isinstance(seed, int) and isinstance(take, int):
        return seed - (take - 1)
    return seed


@dataclass(frozen=True, eq=True)
class Recipe(Mapping[str, Any]):
    """One take's recipe. The nested `engine`, `settings` and `inputs` are copies owned by the
    recipe: build a changed recipe with `replace`, never by changing them."""

    step: str
    provider: str
    model: str
    engine: dict[str, Any]
    tier: str | None
    settings: dict[str, Any]
    inputs: dict[str, Any]
    prompt: str | None = None
    negative: str | None = None
    seed: int | None = None
    take: int = 1
    format: int = RECIPE_FORMAT

    __hash__ = None  # type: ignore[assignment]  # its nested dicts are not hashable

    def _plain(self) -> dict[str, Any]:
        """`as_dict` without the copies: for reading only (hashing, serializing)."""
        return {
            "format": self.format,
            "step": self.step,
            "provider": self.provider,
            "model": self.model,
            "engine": self.engine,
            "tier": self.tier,
            "settings": self.settings,
            "prompt": self.prompt,
            "negative": self.negative,
            "seed": self.seed,
            "take": self.take,
            "inputs": self.inputs,
        }

    def as_dict(self) -> dict[str, Any]:
        """The recipe as plain JSON data: what its key hashes, and what locks record."""
        data = self._plain()
        for name in ("engine", "settings", "inputs"):
            data[name] = copy.deepcopy(data[name])
        return data

    @property
    def key(self) -> str:
        return key_of(self)

    @property
    def step_key(self) -> str:
        return step_key_of(self)

    def replace(self, **changes: Any) -> Recipe:
        return dataclasses.replace(self, **copy.deepcopy(changes))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Recipe:
        """A recipe recorded as JSON (a lock's pick or output). Raises ValueError when it is
        not one (a field missing, unknown, or of the wrong kind)."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - names
        if unknown:
            raise ValueError(f"unknown recipe field(s): {', '.join(sorted(unknown))}")
        for name in ("step", "provider", "model"):
            if not isinstance(data.get(name), str):
                raise ValueError(f"recipe field {name!r} is missing or not text")
        for name in ("engine", "settings", "inputs"):
            if not isinstance(data.get(name), dict):
                raise ValueError(f"recipe field {name!r} is missing or not a mapping")
        if "tier" not in data:
            raise ValueError("recipe field 'tier' is missing")
        return cls(**copy.deepcopy(dict(data)))

    # -- read as a mapping -------------------------------------------------------------------

    def __getitem__(self, name: str) -> Any:
        if name in _FIELDS:
            return getattr(self, name)
        raise KeyError(name)

    def __iter__(self) -> Iterator[str]:
        return iter(_FIELDS)

    def __len__(self) -> int:
        return len(_FIELDS)


_FIELDS = tuple(f.name for f in dataclasses.fields(Recipe))


def make_recipe(
    *,
    step: str,
    provider: str,
    model: str,
    engine: dict[str, Any],
    tier: str | None,
    settings: dict[str, Any],
    inputs: dict[str, Any],
    prompt: str | None = None,
    negative: str | None = None,
    seed: int | None = None,
    take: int = 1,
) -> Recipe:
    return Recipe(
        step=step,
        provider=provider,
        model=model,
        engine=engine,
        tier=tier,
        settings=settings,
        inputs=inputs,
        prompt=prompt,
        negative=negative,
        seed=seed,
        take=take,
    )
