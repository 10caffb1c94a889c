"""Networks the fit picks at random budgets: what a search actually puts on the device.

Random networks of a space are what a latency table is usually checked on, but a search does not
deploy random networks: its last step, the fit (:mod:`tnas_pipeline.nas.fit`, or the mixed-path
fit), moves to whatever the table predicts cheapest, and so collects the blocks the table
underestimates (the optimiser's curse). A table's model is fitted on, and checked against, such
networks too: random architecture logits (or random mixed-path weights), derived, then fitted to
a budget drawn log-uniformly over the space's reachable range on the table's device, exactly as
``search`` fits its derived network.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from tnas_pipeline.latency.lut import LatencyTable
from tnas_pipeline.nas.budget import prediction_window
from tnas_pipeline.nas.derive import derive
from tnas_pipeline.nas.fit import fit_to_budget
from tnas_pipeline.nas.supernet import ArchParams
from tnas_pipeline.networks.architecture import Architecture


def _budget(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(math.exp(rng.uniform(math.log(1.5 * lo), math.log(0.9 * hi))))


def fit_outputs(table: LatencyTable, count: int, seed: int = 0) -> list[Architecture]:
    """``count`` networks the fit picks for random derived choices at random budgets."""
    space = table.space
    rng = np.random.default_rng(seed)
    gen = torch.Generator().manual_seed(seed)
    lo, hi = table.reachable_range()
    window = prediction_window(table.sigma)
    out = []
    for i in range(count):
        budget = _budget(rng, lo, hi)
        if space.single_path:
            params = ArchParams(space)
            with torch.no_grad():
                for p in params.parameters():
                    p.copy_(torch.randn(p.shape, generator=gen))
                # The depth is a number of cells, not a logit: uniform over the range.
                params.depth.fill_(1.0 + (space.max_cells - 1) * float(
                    torch.rand(1, generator=gen)))
            choice = derive(params, params.relaxed("softmax", 0.0), space)
            fit = fit_to_budget(choice, params, lambda c: table.predict_ms(c.architecture(space)),
                                space, budget, *window)
            out.append(fit.choice.architecture(space, name=f"fit-{i}"))
        else:
            from tnas_pipeline.nas.mixed_path_search import MixedCosts, fit_mixed, kept_choice

            shape = (space.max_cells, space.edges_per_cell, 3)
            alpha = torch.rand(shape, generator=gen)
            alpha[torch.rand(shape, generator=gen) < 0.5] = 0.0  # a sparse proximal point
            kernel = space.upsampler_kernels[int(rng.integers(len(space.upsampler_kernels)))]
            fit = fit_mixed(kept_choice(alpha, kernel), alpha, MixedCosts(table, space), budget,
                            *window)
            out.append(fit.choice.architecture(space, name=f"fit-{i}"))
    return out
