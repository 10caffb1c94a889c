"""Random search in our own space, through our own fit: the search's first control.

A search that learned nothing still ends in a network that fills the budget, because the fit
(:mod:`tnas_pipeline.nas.fit`) repairs whatever it is given. To see what the search adds, draw an
architecture uniformly from the space (depth, every cell's op and width, upsampler kernel, as
:meth:`tnas_pipeline.search_space.SearchSpace.random_architecture`), and send it through the same
fit and on-device check with *neutral* logits (all zero: no move is preferred for anything but its
latency), as random-search baselines for NAS do (Li and Talwalkar, "Random Search and
Reproducibility for Neural Architecture Search", UAI 2019; Yu et al., "Evaluating the Search
Phase of Neural Architecture Search", ICLR 2020).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tnas_pipeline.latency.lut import LatencyTable
from tnas_pipeline.nas.budget import prediction_window
from tnas_pipeline.nas.derive import Choice
from tnas_pipeline.nas.fit import fit_to_budget
from tnas_pipeline.nas.fit_and_check import fit_and_check
from tnas_pipeline.nas.supernet import ArchParams
from tnas_pipeline.networks.architecture import Architecture
from tnas_pipeline.search_space import SearchSpace


def random_choice(space: SearchSpace, rng: np.random.Generator) -> Choice:
    """A uniformly random point of a single-path space; every cell is drawn (the fit may deepen
    into the ones past the drawn depth)."""
    if not space.single_path:
        raise ValueError("random choices are drawn from single-path spaces")
    cells = []
    for _ in range(space.max_cells):
        cell = []
        for _ in range(space.edges_per_cell):
            op = space.ops[int(rng.integers(len(space.ops)))]
            widths = space.op_widths(op)
            cell.append((op, widths[int(rng.integers(len(widths)))]))
        cells.append(tuple(cell))
    depth = int(rng.integers(1, space.max_cells + 1))
    kernel = space.upsampler_kernels[int(rng.integers(len(space.upsampler_kernels)))]
    trunk = None
    if space.trunk_widths:  # drawn last: spaces without a trunk choice draw what they drew
        trunk = space.trunk_widths[int(rng.integers(len(space.trunk_widths)))]
    return Choice(depth=depth, cells=tuple(cells), upsampler_kernel=kernel, trunk=trunk)


def fitted_random_architecture(lut: LatencyTable, budget_ms: float, seed: int,
                               check_on_device: bool = True, name: str | None = None
                               ) -> tuple[Architecture, dict[str, Any]]:
    """A random architecture of ``lut``'s space fitted to ``budget_ms`` as the search fits its
    derived network; returns it and a record of the draw, the fit and the on-device check."""
    space = lut.space
    drawn = random_choice(space, np.random.default_rng(seed))
    neutral = ArchParams(space, neutral=True)  # zero logits, no preferred depth

    def predict(c: Choice) -> float:
        return lut.predict_ms(c.architecture(space))

    def fit(c: Choice, lo: float, hi: float, budget_ms: float | None = None):
        return fit_to_budget(c, neutral, predict, space, budget_ms or budget, lo=lo, hi=hi)

    budget = budget_ms
    name = name or f"random-{budget_ms:g}ms-s{seed}"
    result, device_check = fit_and_check(
        fit, drawn, budget_ms, prediction_window(lut.sigma), lut,
        lambda f: f.choice.architecture(space, name=name), check_on_device)
    arch = result.choice.architecture(space, name=name)
    return arch, {"drawn": drawn.architecture(space, name=name).to_dict(),
                  "drawn_predicted_ms": predict(drawn), "predicted_ms": result.predicted_ms,
                  "in_window": result.in_window, "fit_moves": result.moves,
                  "fit_reason": result.reason, "device_check": device_check}
