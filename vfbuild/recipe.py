"""Recipes and recipe keys.

A recipe is everything that determines a take: step, provider, model, engine identity, tier
settings, composed prompt, negative prompt, seed, take index and the sha256 of every input.
Paths, timestamps and secrets never enter it. Its key is the sha256 of its canonical JSON.
The step key (the recipe without the take index) is what gets a version number: raising
`takes` adds takes to the same version.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

RECIPE_FORMAT = 1


def canonical_json(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def key_of(recipe: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_json(recipe).encode("utf-8")).hexdigest()


def step_key_of(recipe: dict[str, Any]) -> str:
    return key_of(
        {k: v for k, v in recipe.items() if k not in ("take", "seed")} | {"seed0": _seed0(recipe)}
    )


def _seed0(recipe: dict[str, Any]) -> Any:
    # Take n uses seed+n-1, so the version's identity is the seed of take 1.
    seed, take = recipe.get("seed"), recipe.get("take")
    if isinstance(seed, int) and isinstance(take, int):
        return seed - (take - 1)
    return seed


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
) -> dict[str, Any]:
    return {
        "format": RECIPE_FORMAT,
        "step": step,
        "provider": provider,
        "model": model,
        "engine": engine,
        "tier": tier,
        "settings": settings,
        "prompt": prompt,
        "negative": negative,
        "seed": seed,
        "take": take,
        "inputs": inputs,
    }
