"""What a take costs, and the build's budget.

Prices come from `prices.yaml` shipped with vfbuild, overridden by a film's own `prices.yaml`
(same shape). A take's cost is the price of its unit (image, second, take) for its provider,
model and tier, times how many units the provider bills for it. `vf plan` and the ledger use
the same function, so the estimate is what the ledger records.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from vfbuild.errors import BudgetExceeded

FILM_PRICES = "prices.yaml"
_SHIPPED = Path(__file__).with_name("prices.yaml")

PriceTable = dict[str, dict[str, dict[str, Any]]]


def money(dollars: float) -> str:
    """$1.14, or $1.135 when cents would round: the plan must show what the ledger will say."""
    text = f"{dollars:.2f}"
    if abs(float(text) - dollars) > 1e-9:
        text = f"{dollars:.4f}".rstrip("0")
    return f"${text}"


@functools.cache
def _read(path: Path, mtime_ns: int) -> PriceTable:
    from ruamel.yaml import YAML

    from vfbuild import safeyaml
    from vfbuild.errors import Location, Problem, SpecError

    try:
        text = path.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise SpecError([Problem(Location(path), f"cannot read: {e}")]) from None
    bound = safeyaml.problem(text, path)  # the film's prices.yaml is the film's input too
    if bound is not None:
        raise SpecError([bound])
    try:
        data = YAML(typ="safe").load(text) or {}
    except Exception as e:  # ruamel's errors carry the place in the file
        mark = getattr(e, "problem_mark", None)
        loc = Location(path, mark.line + 1, mark.column + 1) if mark else Location(path)
        raise SpecError([Problem(loc, f"not valid YAML: {getattr(e, 'problem', e)}")]) from None
    wrong = _shape_problem(data)
    if wrong is not None:
        shape = "provider: {model: {unit: price}} maps, a tier's prices under its name"
        raise SpecError([Problem(Location(path), f"{wrong}; expected {shape}")])
    return data


def _shape_problem(data: Any) -> str | None:
    """What is not a price table in `data` (a price must be a number: `vf plan` multiplies it)."""
    if not isinstance(data, dict):
        return "the file is not a mapping"
    for provider, models in data.items():
        if models is None:
            continue
        if not isinstance(models, dict):
            return f"{provider} is not a mapping of models"
        for model, entry in models.items():
            if not isinstance(entry, dict):
                return f"{provider}.{model} is not a mapping of units"
            for unit, price in entry.items():
                prices = price.items() if isinstance(price, dict) else [(None, price)]
                for tier, value in prices:
                    if isinstance(value, bool) or not isinstance(value, int | float):
                        where = f"{provider}.{model}.{unit}" + (f".{tier}" if tier else "")
                        return f"{where}: {value!r} is not a price"
    return None


def load_prices(film_root: Path | None) -> PriceTable:
    table = {k: dict(v) for k, v in _read(_SHIPPED, _SHIPPED.stat().st_mtime_ns).items()}
    if film_root is not None:
        own = film_root / FILM_PRICES
        if own.is_file():
            for provider, models in _read(own, own.stat().st_mtime_ns).items():
                table.setdefault(provider, {}).update(models or {})
    return table


def unit_price(
    table: PriceTable, provider: str, model: str, tier: str | None, unit: str
) -> float | None:
    models = table.get(provider, {})
    for entry in (models.get(model), models.get("*")):
        if not isinstance(entry, dict):
            continue
        tiered = entry.get(tier) if tier else None
        if isinstance(tiered, dict) and unit in tiered:
            return float(tiered[unit])
        if unit in entry:
            return float(entry[unit])
    return None


def take_cost(
    table: PriceTable, recipe: Mapping[str, Any], units: tuple[str, float]
) -> float | None:
    """The cost of one take, rounded to the cent's hundredth; None when no price is known."""
    unit, qty = units
    price = unit_price(table, recipe["provider"], recipe["model"], recipe.get("tier"), unit)
    return None if price is None else round(price * qty, 4)


class Budget:
    """`vf build --budget X`: paid jobs reserve their cost before they are submitted."""

    def __init__(self, limit: float) -> None:
        self.limit = limit
        self.spent = 0.0
        self.left: list[str] = []
        self._lock = threading.Lock()

    def reserve(self, label: str, cost: float | None) -> None:
        with self._lock:
            if cost is None:
                self.left.append(label)
                raise BudgetExceeded(
                    f"{label}: not started: its price is unknown, so --budget cannot cover it",
                    hint=f"add its model to {FILM_PRICES} in the film, or build without --budget",
                )
            if self.spent + cost > self.limit + 1e-9:
                self.left.append(label)
                raise BudgetExceeded(
                    f"{label}: not started: ${cost:.2f} would take the build past its budget "
                    f"(${self.spent:.2f} of ${self.limit:.2f} spent)",
                    hint="raise --budget, or build fewer shots (`vf build SHOT…`)",
                )
            self.spent += cost

    def release(self, cost: float | None) -> None:
        """A reserved job was not submitted after all (the submit was refused)."""
        if cost:
            with self._lock:
                self.spent -= cost
