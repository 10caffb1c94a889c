"""The latency model on top of the table: ΣLUT corrected by a residual fitted on relative error.

The table's entries are in-network costs (marginal, measured in context), and their sum predicts
a network well when latency is additive. What the sum misses is structured: a network's fixed
border costs, an op that runs faster or slower next to another of its kind (the runtime's
fusion and memory reuse across block borders, which nn-Meter models with fused kernels), and the
first and last op's boundary with the head and the upsampler. So the prediction is

    ratio(arch) = ΣLUT(arch) · exp(x(arch) · w)

with ``x`` the features below and ``w`` fitted by ridge regression on ``log(measured / ΣLUT)``
over a few hundred measured networks (random ones and what the fit picks, as LitePred and
nn-Meter fit their predictors on sampled networks). The ridge strength is chosen by exact
leave-one-out error (Allen's PRESS for ridge: ``e_i / (1 − h_ii)``), with "intercept only" among
the candidates, so the model grows only as much as the data supports. The leave-one-out residuals
give the model's uncertainty ``σ`` (relative, as a standard deviation), which the fit charges:
``predicted · (1 + k·σ) ≤ budget`` keeps the optimiser's curse from pushing searched networks
over the budget.

Features, all computed from the architecture and the table's entries (ratios to the reference):
``1``; ``1/ΣLUT`` (an additive offset); each op's share of ΣLUT; the fixed part's share (head,
upsampler, skip); the share of adjacent layer pairs with the same op; the depth as a fraction of
the space's maximum; one-hot of the first and of the last op (boundaries with the head and the
upsampler).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from tnas_pipeline.latency.fidelity import fidelity
from tnas_pipeline.networks.architecture import Architecture
from tnas_pipeline.search_space import SearchSpace

RIDGE_GRID = (1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0, 1e3)
INTERCEPT_ONLY = "intercept-only"


def layer_ops(arch: Architecture) -> list[str]:
    return [layer.op for cell in arch.cells for layer in cell.ops]


def feature_names(space: SearchSpace) -> list[str]:
    return (["1", "1/sum", *[f"share:{op}" for op in space.ops], "share:fixed", "same-op pairs",
             "depth", *[f"first:{op}" for op in space.ops], *[f"last:{op}" for op in space.ops]])


def features(space: SearchSpace, arch: Architecture, parts: dict[str, float],
             raw: float) -> np.ndarray:
    """``x(arch)`` (module docstring). ``parts`` maps each op (and ``"fixed"``) to its summed
    entries in ``arch``; ``raw`` is ΣLUT."""
    from tnas_pipeline.networks.reparam import folded_op

    ops = [folded_op(op) for op in layer_ops(arch)]
    n = len(ops)
    same = sum(1 for i in range(1, n) if ops[i] == ops[i - 1])
    depth_max = space.max_cells * space.edges_per_cell
    x = [1.0, 1.0 / raw, *[parts.get(op, 0.0) / raw for op in space.ops],
         parts.get("fixed", 0.0) / raw, same / max(n - 1, 1), n / depth_max]
    x += [1.0 if n and ops[0] == op else 0.0 for op in space.ops]
    x += [1.0 if n and ops[-1] == op else 0.0 for op in space.ops]
    return np.asarray(x, dtype=float)


@dataclass(frozen=True)
class Prediction:
    """A predicted latency (ratio to the reference, or milliseconds) and its relative
    uncertainty (one standard deviation)."""

    value: float
    rel_sigma: float

    def upper(self, k: float) -> float:
        return self.value * (1.0 + k * self.rel_sigma)

    def lower(self, k: float) -> float:
        return self.value * (1.0 - k * self.rel_sigma)


def _standardise(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean, std = x[:, 1:].mean(0), x[:, 1:].std(0)
    std[std < 1e-12] = 1.0  # a constant column carries nothing; keep it out of the way
    return mean, std


def _ridge_loo(z: np.ndarray, y: np.ndarray, lam: float | None
               ) -> tuple[np.ndarray, np.ndarray]:
    """Weights and exact leave-one-out residuals of ridge on standardised ``z`` (column 0 is
    the unpenalised intercept; ``lam=None`` fits the intercept alone)."""
    if lam is None:
        z = z[:, :1]
    p = z.shape[1]
    penalty = np.eye(p) * (lam or 0.0)
    penalty[0, 0] = 0.0
    a = z.T @ z + penalty
    w = np.linalg.solve(a, z.T @ y)
    h = np.einsum("ij,ji->i", z, np.linalg.solve(a, z.T))
    loo = (y - z @ w) / np.clip(1.0 - h, 1e-6, None)
    if lam is None:
        w = np.concatenate([w, np.zeros(0)])
    return w, loo


def fit_residual(x: np.ndarray, raw: np.ndarray, measured: np.ndarray,
                 names: Sequence[str]) -> dict[str, Any]:
    """Fit ``log(measured / raw)`` on ``x`` (rows: networks), choosing the ridge strength by
    leave-one-out error; returns the model as stored in a table."""
    y = np.log(measured / raw)
    n = len(y)
    mean, std = _standardise(x)
    z = np.column_stack([np.ones(n), (x[:, 1:] - mean) / std])
    best: tuple[float, Any, np.ndarray, np.ndarray] | None = None
    # Intercept-only first: a richer model has to beat it to be chosen.
    for lam in (None, *RIDGE_GRID):
        if lam is not None and n <= 3:
            break
        w, loo = _ridge_loo(z, y, lam)
        score = float(np.sqrt(np.mean(loo**2)))
        if best is None or score < best[0] - 1e-9:
            best = (score, lam, w, loo)
    assert best is not None
    _, lam, w, loo = best
    weights = np.zeros(z.shape[1])
    weights[: len(w)] = w
    pred_loo = raw * np.exp(y - loo)
    return {
        "kind": "lut-residual-ridge", "features": list(names),
        "ridge": INTERCEPT_ONLY if lam is None else lam,
        "weights": [round(float(v), 8) for v in weights],
        "feature_mean": [round(float(v), 8) for v in mean],
        "feature_std": [round(float(v), 8) for v in std],
        # Spread of the leave-one-out errors: what a network the model has not seen scatters by.
        "sigma": float(np.sqrt(np.mean(loo**2))) if n > 1 else 0.0,
        "networks": n, "loo": fidelity(list(pred_loo), list(measured)).to_dict(),
        "raw": fidelity(list(raw), list(measured)).to_dict(),
    }


def correction(model: dict[str, Any] | None, x: np.ndarray) -> float:
    """``exp(x · w)`` of a stored model (1 without one)."""
    if not model:
        return 1.0
    mean, std = np.asarray(model["feature_mean"]), np.asarray(model["feature_std"])
    z = np.concatenate([[1.0], (x[1:] - mean) / std])
    return float(np.exp(z @ np.asarray(model["weights"])))


def fit_on_samples(space: SearchSpace, samples: Sequence[tuple[Architecture, float]],
                   parts_of: Callable[[Architecture], tuple[dict[str, float], float]]
                   ) -> dict[str, Any]:
    """:func:`fit_residual` over ``(architecture, measured ratio)`` pairs; ``parts_of`` gives an
    architecture's per-op entry sums and ΣLUT."""
    rows, raws, meas = [], [], []
    for arch, ratio in samples:
        parts, raw = parts_of(arch)
        rows.append(features(space, arch, parts, raw))
        raws.append(raw)
        meas.append(ratio)
    return fit_residual(np.array(rows), np.array(raws), np.array(meas), feature_names(space))
