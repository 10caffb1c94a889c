"""The last step every searched network takes: fit to the budget, then check on the device.

The same for the search (its derived network, :mod:`tnas_pipeline.nas.run`) and for the networks
it is judged against (random architectures of the space, :mod:`tnas_pipeline.nas.random_choice`):
fit into the prediction window the table's uncertainty leaves, into the whole budget window
``[0.9, 1.0]`` when that is out of reach, then, when the table's device is here, time the fitted
network and refit by what it measures (:func:`tnas_pipeline.nas.device_check.refit_on_device`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from tnas_pipeline.latency.lut import LatencyTable
from tnas_pipeline.nas.device_check import cpu_measure, device_here_reason, refit_on_device
from tnas_pipeline.nas.fit import FitResult
from tnas_pipeline.networks.architecture import Architecture

logger = logging.getLogger(__name__)

FitFn = Callable[..., FitResult]  # fit(choice, lo, hi, budget_ms=None) -> FitResult


def fit_and_check(fit: FitFn, choice: Any, budget_ms: float, window: tuple[float, float],
                  lut: LatencyTable, to_arch: Callable[[FitResult], Architecture],
                  check_on_device: bool, skip_reason: str | None = None
                  ) -> tuple[FitResult, dict[str, Any] | None]:
    """``choice`` fitted into ``window`` × budget (the widest window when that fails) and, with
    ``check_on_device``, measured here and refitted; returns the fit and the check's record
    (``None`` when not asked for, ``{"skipped": why}`` when it cannot run here)."""
    lo, hi = window
    result = fit(choice, lo, hi)
    if not result.in_window:  # the widest window the budget allows
        result = fit(result.choice, 0.9, 1.0)
    if not check_on_device:
        return result, None
    why = device_here_reason(lut) or skip_reason
    if why:
        logger.info(f"on-device check skipped: {why}")
        return result, {"skipped": why}
    result, rounds = refit_on_device(
        result, lambda f, corrected: fit(f.choice, lo, hi, budget_ms=corrected), to_arch,
        budget_ms, cpu_measure(lut), table_sigma=lut.sigma)
    kept = next(r for r in reversed(rounds) if r["predicted_ms"] == result.predicted_ms)
    return result, {"rounds": rounds, "measured_ms": kept["measured_ms"],
                    "accepted": kept["accepted"]}
