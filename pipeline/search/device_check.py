"""Check the fitted network on the device itself, and refit by what it measures.

A latency table predicts random networks well (README: 93 % within ±10 % on this CPU), but the fit
is an optimiser over the table's entries: it prefers the entries that look cheapest, so it
collects the ones the table underestimates, and the searched networks measured 3–16 % above
their prediction where random ones did not (the optimiser's curse; README, export results).
When the search runs on the device whose table it uses (a CPU table measured on this very CPU),
the cure is cheap: time the fitted network, and while it misses ``[lo, hi] × budget``, refit to
the budget corrected by the local error of the table,

    B' = B · predicted / measured,

so that the next fit's prediction lands where the device will measure the budget's window. This
is the device-in-the-loop step some hardware-aware NAS tools run at the end of the search,
where one measurement costs seconds, not a profile.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from pipeline.latency.lut import LatencyTable
from pipeline.networks.architecture import Architecture
from pipeline.search.fit import FitResult

MEASURED_WINDOW = (0.85, 0.97)  # accept: inside the issue's [0.85, 1.0] with room for drift
MAX_ROUNDS = 4


def device_here_reason(lut: LatencyTable) -> str | None:
    """Why the table's device cannot be measured here, or ``None`` when it can."""
    from pipeline.latency.devices import cpu_mismatch

    if lut.is_estimate:
        return "the table is an estimate; its device is not here"
    if lut.data.get("device", {}).get("kind") != "cpu":
        return "the table is for a GPU; the on-device check runs on the CPU only"
    if lut.data.get("runtime", {}).get("runtime") != "onnxruntime":
        return "the table's runtime is not ONNX Runtime"
    return cpu_mismatch(lut.data.get("device", {}))


def cpu_measure(lut: LatencyTable, sessions: int = 3) -> Callable[[Architecture], float]:
    """Median over ``sessions`` fresh ONNX Runtime sessions of the profiler's network timing,
    with the table's thread count."""
    from pipeline.latency.backends.base import get_backend
    from pipeline.latency.profiler import measure_network_ms

    backend = get_backend("ort", device="cpu", precision="fp32",
                          threads=lut.data["runtime"].get("threads"))

    def measure(arch: Architecture) -> float:
        return float(np.median([measure_network_ms(backend, arch, lut.output_size)
                                for _ in range(sessions)]))

    return measure


def refit_on_device(fit: FitResult, fit_again: Callable[[FitResult, float], FitResult],
                    to_arch: Callable[[FitResult], Architecture], budget_ms: float,
                    measure: Callable[[Architecture], float],
                    log: Callable[[str], None] = print) -> tuple[FitResult, list[dict[str, Any]]]:
    """Measure, and refit to the corrected budget until the measurement is in the window.

    ``fit_again(current, corrected_budget)`` refits from the current choice. Returns a measured
    fit (the one in the window; failing that, the largest under the window's top; failing that,
    the fastest) and every round's prediction and measurement.
    """
    lo, hi = (f * budget_ms for f in MEASURED_WINDOW)
    history: list[dict[str, Any]] = []
    tried: list[tuple[FitResult, float]] = []
    current = fit
    for k in range(MAX_ROUNDS):
        measured = measure(to_arch(current))
        history.append({"predicted_ms": current.predicted_ms, "measured_ms": measured})
        tried.append((current, measured))
        log(f"on-device check: predicted {current.predicted_ms:.1f} ms, measured "
            f"{measured:.1f} ms (window {lo:.0f}–{hi:.0f} ms)")
        if lo <= measured <= hi or k == MAX_ROUNDS - 1:
            break
        nxt = fit_again(current, budget_ms * current.predicted_ms / measured)
        if nxt.choice == current.choice:  # the fit cannot move: stop rather than loop
            break
        current = nxt
    inside = [t for t in tried if lo <= t[1] <= hi]
    under = [t for t in tried if t[1] <= hi]
    best = (inside[-1] if inside else max(under, key=lambda t: t[1]) if under
            else min(tried, key=lambda t: t[1]))
    return best[0], history
