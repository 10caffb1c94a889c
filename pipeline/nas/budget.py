"""Parsing ``--latency-budget`` and checking it against what the device's LUT can reach."""

from __future__ import annotations

import re

from tnas_pipeline.errors import UserError
from tnas_pipeline.latency.lut import LatencyTable

_UNITS = {"ms": 1.0, "s": 1000.0, "us": 1e-3, "µs": 1e-3}
_PATTERN = re.compile(r"\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*(ms|s|us|µs)\s*")


def parse_latency_budget(text: str) -> float:
    """``"30ms"``, ``"30 ms"``, ``"0.03s"`` → 30.0 (milliseconds). A unit is required."""
    raw = (text or "").strip()
    m = _PATTERN.fullmatch(raw)
    if not m:
        if re.fullmatch(r"\s*-.*", raw):
            raise UserError(f"--latency-budget {text!r} is negative; give a positive time "
                            "such as 30ms")
        if re.fullmatch(r"[0-9]*\.?[0-9]+", raw):
            raise UserError(f"--latency-budget {text!r} has no unit; write {raw}ms or {raw}s")
        raise UserError(f"--latency-budget {text!r} is not a time; write it like 30ms, 30 ms "
                        "or 0.03s")
    ms = float(m.group(1)) * _UNITS[m.group(2)]
    if not ms > 0:
        raise UserError(f"--latency-budget {text!r} must be more than zero")
    return ms


def check_reachable(budget_ms: float, lut: LatencyTable) -> tuple[float, float]:
    """Refuse a budget outside the LUT's reachable range (before any training); return it."""
    lo, hi = lut.reachable_range()
    where = lut.describe()
    if budget_ms < lo:
        raise UserError(f"latency budget {budget_ms:g} ms is below the fastest network the search "
                        f"space reaches on {where} ({lo:.1f} ms); raise the budget or choose a "
                        "smaller output size")
    if budget_ms * 0.9 > hi:
        raise UserError(f"latency budget {budget_ms:g} ms is above 1/0.9 of the slowest network "
                        f"the space reaches on {where} ({hi:.1f} ms); no network could use it; "
                        "lower the budget or widen the search space")
    return lo, hi


# How many standard deviations of the latency model the fit keeps between its prediction and
# the window's edges: one, so a network the model predicts at the window's top measures over
# the budget about one time in six, the rest of the time inside.
CONFIDENCE_K = 1.0


def prediction_window(rel_sigma: float, lo: float = 0.9, hi: float = 1.0,
                      k: float = CONFIDENCE_K) -> tuple[float, float]:
    """Where a prediction must lie (× budget) for the measurement to land in ``[lo, hi]`` ×
    budget with ``k`` standard deviations to spare: ``p·(1 + kσ) ≤ hi`` and ``p·(1 − kσ) ≥
    lo``. When the model is too uncertain for both (σ over about 5 %), its middle ± 1 %."""
    low, high = lo / max(1.0 - k * rel_sigma, 1e-6), hi / (1.0 + k * rel_sigma)
    if low > high:
        mid = (lo + hi) / 2.0
        return mid - 0.01, mid + 0.01
    return low, high


# CPUs of one family differ by up to about 2.5× on the same networks; a budget more than this
# factor outside a foreign table's range is out of reach here too.
FOREIGN_SLACK = 3.0


def table_for_budget(device: str, scale: int | None, space: str, budget_ms: float | None,
                     bring_up: str | None,
                     progress: bool = True) -> LatencyTable:
    """The device's table, bringing this CPU up first if needed; a budget that no CPU like the
    shipped one could reach is refused before any measuring, and the final table checks it
    exactly."""
    from tnas_pipeline.latency.devices import cpu_mismatch
    from tnas_pipeline.latency.resolve import resolve_profile

    table = resolve_profile(device, scale, space)
    if device == "cpu" and bring_up and cpu_mismatch(table.data.get("device", {})):
        if budget_ms is not None:
            lo, hi = table.reachable_range()
            if budget_ms < lo / FOREIGN_SLACK:
                raise UserError(f"latency budget {budget_ms:g} ms is below the fastest network "
                                f"of the search space even on a CPU {FOREIGN_SLACK:g}x faster "
                                f"than the shipped table's ({lo:.1f} ms there); raise the "
                                "budget or choose a smaller output size")
            if budget_ms * 0.9 > hi * FOREIGN_SLACK:
                raise UserError(f"latency budget {budget_ms:g} ms is above what the slowest "
                                f"network of the space takes even on a CPU {FOREIGN_SLACK:g}x "
                                f"slower than the shipped table's ({hi:.0f} ms there); lower "
                                "the budget or widen the search space")
        table = resolve_profile(device, scale, space, bring_up=bring_up,
                                progress=progress)
    if budget_ms is not None:
        check_reachable(budget_ms, table)
    return table
