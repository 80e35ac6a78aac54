"""What a job costs: one function for `vf plan`'s estimate, `--budget` and the ledger, so the
estimate is what the ledger records."""

from __future__ import annotations

import functools

from vfbuild import steps
from vfbuild.plan.resolve import Job
from vfbuild.project import Project
from vfbuild.providers.pricing import PriceTable, load_prices, take_cost


class Coster:
    def __init__(self, project: Project) -> None:
        self.p = project

    @functools.cached_property
    def prices(self) -> PriceTable:
        return load_prices(self.p.root)

    def cost(self, job: Job) -> float | None:
        """Dollars for one take of `job`; None when its price is unknown."""
        prov = self.p.provider(job.step)
        if not prov.ledgered:
            return 0.0  # local renderers and in-process providers cost nothing
        slot = steps.slot_of(job.step)
        if prov.declares_cost and slot is not None:
            declared = getattr(self.p.film.providers, slot).cost_per_take
            if declared is not None:
                return round(declared, 4)
        return take_cost(self.prices, job.recipe, prov.units(job.step, job.seconds))
