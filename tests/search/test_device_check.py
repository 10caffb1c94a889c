"""The on-device check: refit by the measured error until the device lands in the window."""

from __future__ import annotations

import copy

from pipeline.latency.shipped import resolve_profile
from pipeline.search.device_check import MEASURED_WINDOW, device_here_reason, refit_on_device
from pipeline.search.fit import FitResult


def fake_fit(pred: float, tag: int) -> FitResult:
    return FitResult(choice=tag, predicted_ms=pred, in_window=True)  # type: ignore[arg-type]


def test_refits_to_the_corrected_budget_until_the_device_agrees():
    budget, bias = 100.0, 1.15  # the device is 15 % slower than the table says
    asked = []

    def fit_again(current, corrected):
        asked.append(corrected)
        return fake_fit(0.92 * corrected, current.choice + 1)

    final, rounds = refit_on_device(fake_fit(92.0, 0), fit_again, lambda f: f,
                                    budget, lambda f: bias * f.predicted_ms, log=lambda _: None)
    assert asked == [budget * 92.0 / (92.0 * bias)]  # B' = B · predicted / measured
    assert [r["measured_ms"] for r in rounds] == [92.0 * bias, 92.0]
    lo, hi = (f * budget for f in MEASURED_WINDOW)
    assert lo <= rounds[-1]["measured_ms"] <= hi and final.choice == 1


def test_stops_when_the_fit_cannot_move():
    final, rounds = refit_on_device(fake_fit(92.0, 0), lambda cur, b: cur, lambda f: f, 100.0,
                                    lambda f: 200.0, log=lambda _: None)
    assert final.choice == 0 and len(rounds) == 1


def test_device_check_needs_the_tables_own_device():
    assert "estimate" in device_here_reason(resolve_profile("jetson"))
    gpu = copy.deepcopy(resolve_profile("cpu"))
    gpu.data["device"]["kind"] = "cuda"
    assert "GPU" in device_here_reason(gpu)


def test_keeps_a_measured_fit_when_the_window_is_never_reached():
    """Four rounds that all miss: the fit kept is one that was measured, the largest under the
    window's top, never an unmeasured refit."""
    measured = iter([120.0, 99.0, 60.0, 130.0])
    final, rounds = refit_on_device(fake_fit(92.0, 0), lambda cur, b: fake_fit(b, cur.choice + 1),
                                    lambda f: f, 100.0, lambda f: next(measured),
                                    log=lambda _: None)
    assert len(rounds) == 4 and final.choice == 2  # measured 60 ms: the only one under 97
