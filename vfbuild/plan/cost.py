"""What a job costs: one function for `vf plan`'s estimate, `--budget` and the ledger, so the
estimate is what the ledger records."""

from __future__ import annotations

import functools

from vfbuild.plan.maker import job_provider, provider_config
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
        # Who makes it, as the build asks (a pick made before its slot moved is remade by
        # the provider that made it).
        prov = job_provider(self.p, job)
        if not prov.ledgered:
            return 0.0  # local renderers and in-process providers cost nothing
        if prov.declares_cost:
            config = provider_config(self.p, job.step, prov.name)
            declared = config.cost_per_take if config is not None else None
            if declared is not None:
                return round(declared, 4)
        # A provider whose models bill different lengths (fal's Veo: 4, 6 or 8 s) says so
        # knowing the recipe (`units_for`); `units` knows only the step.
        per_model = getattr(prov, "units_for", None)
        units = (
            per_model(job.recipe, job.seconds)
            if callable(per_model)
            else prov.units(job.step, job.seconds)
        )
        return take_cost(self.prices, job.recipe, units)
