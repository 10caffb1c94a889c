"""How well a latency table predicts measured latency.

Fidelity is the mean absolute percentage error, the share of networks within ±10 % (nn-Meter's
headline metric) and Kendall's τ (does the table rank networks as the device does, which is what
a search needs).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np


def kendall_tau(x: list[float], y: list[float]) -> float:
    """Kendall's τ-b (ties in either list handled), by direct pair counting."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    n = len(x)
    if n < 2:
        return float("nan")
    dx = np.sign(x[:, None] - x[None, :])[np.triu_indices(n, 1)]
    dy = np.sign(y[:, None] - y[None, :])[np.triu_indices(n, 1)]
    concordance = float((dx * dy).sum())
    denom = np.sqrt(float((dx != 0).sum()) * float((dy != 0).sum()))
    return float(concordance / denom) if denom else float("nan")


@dataclass(frozen=True)
class Fidelity:
    """Prediction error over a set of networks."""

    networks: int
    mape: float          # mean |pred - meas| / meas, as a fraction
    within_10pct: float  # share of networks with |pred - meas| <= 10 % of meas
    kendall_tau: float

    def to_dict(self) -> dict[str, Any]:
        return {k: (round(v, 6) if isinstance(v, float) else v) for k, v in asdict(self).items()}


def fidelity(predicted_ms: list[float], measured_ms: list[float]) -> Fidelity:
    p, m = np.asarray(predicted_ms, float), np.asarray(measured_ms, float)
    rel = np.abs(p - m) / m
    return Fidelity(networks=len(m), mape=float(rel.mean()),
                    within_10pct=float((rel <= 0.10).mean()),
                    kendall_tau=kendall_tau(list(p), list(m)))
