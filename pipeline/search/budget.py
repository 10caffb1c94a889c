"""Parsing ``--latency-budget`` and checking it against what the device's LUT can reach."""

from __future__ import annotations

import re

from pipeline.errors import UserError
from pipeline.latency.lut import LatencyTable

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
