"""Check the fitted network on the device itself, and refit by what it measures.

The fit is an optimiser over the table's predictions: it prefers what looks cheapest, so it
collects the networks the table underestimates (the optimiser's curse; searched networks
measured 3–16 % above prediction before this check existed). When the search runs on the device
whose table it uses (a CPU table measured on this very CPU), the cure is cheap: time the fitted
network (as a ratio to the table's reference network, interleaved, in two fresh sessions; ms at
the table's reference time, so the host's drift since profiling cancels), and accept it only on
a **confidence bound**: the measurement, widened by its own uncertainty, lies inside
``[lo, hi] × budget``. Otherwise refit to the budget corrected by the local error of the table,

    B' = B · predicted / measured,

so that the next fit's prediction lands where the device will measure the budget's window. This
is the device-in-the-loop step some hardware-aware NAS tools run at the end of the search,
where one measurement costs seconds, not a profile.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tnas_pipeline.latency.interleaved import RatioStats
from tnas_pipeline.latency.lut import LatencyTable
from tnas_pipeline.nas.fit import FitResult
from tnas_pipeline.networks.architecture import Architecture

logger = logging.getLogger(__name__)

MEASURED_WINDOW = (0.9, 1.0)  # where the measurement must lie, × budget
MAX_ROUNDS = 4
# A reading further from the table than this many combined standard errors is a surprise: the
# table's own error (σ) and the reading's are both small on this CPU, so a 10 % gap says one of
# them is wrong. It is measured again before anything is refitted or kept on it.
SURPRISE_Z = 2.0


@dataclass(frozen=True)
class OnDevice:
    """A network measured here: ms at the table's reference time and the relative half-width
    of its uncertainty (:func:`uncertainty`)."""

    ms: float
    rel_uncertainty: float

    @property
    def low(self) -> float:
        return self.ms * (1.0 - self.rel_uncertainty)

    @property
    def high(self) -> float:
        return self.ms * (1.0 + self.rel_uncertainty)


def device_here_reason(lut: LatencyTable) -> str | None:
    """Why the table's device cannot be measured here, or ``None`` when it can."""
    from tnas_pipeline.latency.devices import cpu_mismatch

    if lut.is_estimate:
        return "the table is an estimate; its device is not here"
    if lut.data.get("device", {}).get("kind") != "cpu":
        return "the table is for a GPU; the on-device check runs on the CPU only"
    if lut.data.get("runtime", {}).get("runtime") != "onnxruntime":
        return "the table's runtime is not ONNX Runtime"
    return cpu_mismatch(lut.data.get("device", {}))


def cpu_measure(lut: LatencyTable) -> Callable[[Architecture], OnDevice]:
    """Time an architecture here against ``lut``'s reference network (module docstring)."""
    from tnas_pipeline.latency.backends.base import get_backend
    from tnas_pipeline.latency.measure import NETWORK_PROTOCOL, Reference, measure_architecture

    backend = get_backend("ort", device="cpu", precision="fp32", threads=lut.threads)
    reference = Reference(backend, lut.reference_arch, lut.output_size)
    then = lut.profiled_reference_ms

    def measure(arch: Architecture) -> OnDevice:
        stats = measure_architecture(backend, arch, lut.output_size, reference,
                                     NETWORK_PROTOCOL)
        return OnDevice(stats.ratio * then, uncertainty(stats))

    return measure


def combined_uncertainty(values: list[float], rel_cis: list[float], center: float) -> float:
    """Relative half-width of several readings of one thing: their relative 95 % CIs combined
    (the CI of a mean of n readings narrows by √n), or half their spread if that is wider."""
    ci = math.sqrt(sum(c**2 for c in rel_cis)) / len(rel_cis)
    return max(ci, (max(values) - min(values)) / 2.0 / center)


def uncertainty(stats: RatioStats) -> float:
    """:func:`combined_uncertainty` of a measurement's sessions."""
    runs = stats.runs
    return combined_uncertainty([r.ratio for r in runs], [r.ci for r in runs], stats.ratio)


def pooled(a: OnDevice, b: OnDevice) -> OnDevice:
    """Two readings of one network as one: their mean, with their :func:`combined_uncertainty`
    (two readings that disagree widen the interval)."""
    ms = (a.ms + b.ms) / 2.0
    return OnDevice(ms, combined_uncertainty([a.ms, b.ms],
                                             [a.rel_uncertainty, b.rel_uncertainty], ms))


def is_surprise(predicted_ms: float, m: OnDevice, table_sigma: float) -> bool:
    """Whether a reading is further from the table than both uncertainties allow."""
    return abs(m.ms / predicted_ms - 1.0) > SURPRISE_Z * math.hypot(table_sigma,
                                                                      m.rel_uncertainty)


def refit_on_device(fit: FitResult, fit_again: Callable[[FitResult, float], FitResult],
                    to_arch: Callable[[FitResult], Architecture], budget_ms: float,
                    measure: Callable[[Architecture], OnDevice],
                    table_sigma: float | None = None) -> tuple[FitResult, list[dict[str, Any]]]:
    """Measure, and refit to the corrected budget until the measurement's confidence interval
    lies in the window.

    ``fit_again(current, corrected_budget)`` refits from the current choice. With the table's
    model uncertainty ``table_sigma``, a reading that :func:`is_surprise` is measured once more
    and the two are :func:`pooled` (a host hiccup inside one reading once put two networks
    11.5 % under a table that a later validation confirmed). Returns a measured fit (the last
    accepted on its bound; failing that, of those whose measurement is in the window, the one
    nearest its middle; failing that, the largest under the window's top; failing that, the
    fastest) and every round's prediction and measurement.
    """
    lo, hi = (f * budget_ms for f in MEASURED_WINDOW)
    history: list[dict[str, Any]] = []
    tried: list[tuple[FitResult, OnDevice]] = []
    current = fit
    for k in range(MAX_ROUNDS):
        arch = to_arch(current)
        m = measure(arch)
        readings = [m.ms]
        if table_sigma is not None and is_surprise(current.predicted_ms, m, table_sigma):
            logger.info(f"on-device check: {m.ms:.1f} ms ± {m.rel_uncertainty:.1%} is "
                f"{m.ms / current.predicted_ms - 1:+.1%} from the table ({table_sigma:.1%} "
                "uncertainty); measuring again")
            second = measure(arch)
            readings.append(second.ms)
            m = pooled(m, second)
        accepted = lo <= m.low and m.high <= hi
        history.append({"predicted_ms": current.predicted_ms, "measured_ms": m.ms,
                        "uncertainty": m.rel_uncertainty, "readings_ms": readings,
                        "accepted": accepted})
        tried.append((current, m))
        logger.info(f"on-device check: predicted {current.predicted_ms:.1f} ms, measured "
            f"{m.ms:.1f} ms ± {m.rel_uncertainty:.1%} (window {lo:.0f}–{hi:.0f} ms"
            f"{', accepted' if accepted else ''})")
        if accepted or k == MAX_ROUNDS - 1:
            break
        # Aim the refit at the window's middle, where the interval fits best.
        target = budget_ms * current.predicted_ms / m.ms
        nxt = fit_again(current, target)
        if nxt.choice == current.choice:  # the fit cannot move: stop rather than loop
            break
        current = nxt
    bound = [t for t in tried if lo <= t[1].low and t[1].high <= hi]
    inside = [t for t in tried if lo <= t[1].ms <= hi]
    under = [t for t in tried if t[1].ms <= hi]
    middle = sum(MEASURED_WINDOW) / 2.0 * budget_ms
    best = (bound[-1] if bound else min(inside, key=lambda t: abs(t[1].ms - middle)) if inside
            else max(under, key=lambda t: t[1].ms) if under
            else min(tried, key=lambda t: t[1].ms))
    return best[0], history
