"""The on-device check: refit by the measured error until the measurement, with its confidence
interval, lies in [0.9, 1.0] × budget; never accept on a point inside and an interval outside."""

from __future__ import annotations

import copy

import pytest

from tnas_pipeline.latency.resolve import resolve_profile
from tnas_pipeline.nas.device_check import (
    MEASURED_WINDOW,
    OnDevice,
    device_here_reason,
    refit_on_device,
)
from tnas_pipeline.nas.fit import FitResult


def fake_fit(pred: float, tag: int) -> FitResult:
    return FitResult(choice=tag, predicted_ms=pred, in_window=True)  # type: ignore[arg-type]


def exact(ms: float) -> OnDevice:
    return OnDevice(ms, 0.005)


def test_refits_to_the_corrected_budget_until_the_device_agrees():
    budget, bias = 100.0, 1.15  # the device is 15 % slower than the table says
    asked = []

    def fit_again(current, corrected):
        asked.append(corrected)
        return fake_fit(0.95 * corrected, current.choice + 1)

    final, rounds = refit_on_device(fake_fit(95.0, 0), fit_again, lambda f: f,
                                    budget, lambda f: exact(bias * f.predicted_ms))
    assert asked == [budget * 95.0 / (95.0 * bias)]  # B' = B · predicted / measured
    assert [r["measured_ms"] for r in rounds] == [95.0 * bias, 95.0]
    assert [r["accepted"] for r in rounds] == [False, True]
    lo, hi = (f * budget for f in MEASURED_WINDOW)
    assert lo <= rounds[-1]["measured_ms"] <= hi and final.choice == 1


def test_a_point_inside_with_an_interval_outside_is_not_accepted():
    """98 ms ± 5 % may be 103 ms: refit, and keep the one whose interval fits."""
    measured = iter([OnDevice(98.0, 0.05), OnDevice(95.0, 0.01)])
    final, rounds = refit_on_device(fake_fit(98.0, 0), lambda cur, b: fake_fit(b, cur.choice + 1),
                                    lambda f: f, 100.0, lambda f: next(measured))
    assert [r["accepted"] for r in rounds] == [False, True] and final.choice == 1


def test_stops_when_the_fit_cannot_move():
    final, rounds = refit_on_device(fake_fit(92.0, 0), lambda cur, b: cur, lambda f: f, 100.0,
                                    lambda f: exact(200.0))
    assert final.choice == 0 and len(rounds) == 1


def test_device_check_needs_the_tables_own_device():
    assert "estimate" in device_here_reason(resolve_profile("jetson"))
    gpu = copy.deepcopy(resolve_profile("cpu"))
    gpu.data["device"]["kind"] = "cuda"
    assert "GPU" in device_here_reason(gpu)


def test_keeps_a_measured_fit_when_the_window_is_never_reached():
    """Four rounds that all miss: the fit kept is one that was measured, the largest under the
    window's top, never an unmeasured refit."""
    measured = iter([exact(120.0), exact(101.0), exact(60.0), exact(130.0)])
    final, rounds = refit_on_device(fake_fit(92.0, 0), lambda cur, b: fake_fit(b, cur.choice + 1),
                                    lambda f: f, 100.0, lambda f: next(measured))
    assert len(rounds) == 4 and final.choice == 2  # measured 60 ms: the only one under 100


def test_of_several_inside_the_one_nearest_the_middle_is_kept():
    measured = iter([OnDevice(99.0, 0.03), OnDevice(91.0, 0.03), OnDevice(96.0, 0.03),
                     OnDevice(90.5, 0.03)])
    final, _ = refit_on_device(fake_fit(92.0, 0), lambda cur, b: fake_fit(b, cur.choice + 1),
                               lambda f: f, 100.0, lambda f: next(measured))
    assert final.choice == 2  # 96 ms: nearest 95


def test_the_uncertainty_of_several_sessions():
    from tnas_pipeline.latency.interleaved import RatioRun, combine
    from tnas_pipeline.nas.device_check import uncertainty

    agree = combine([RatioRun(2.0, 0.04, 12, 0, 0), RatioRun(2.0, 0.02, 12, 0, 0)])
    assert uncertainty(agree) == pytest.approx((0.04**2 + 0.02**2) ** 0.5 / 2)
    apart = combine([RatioRun(2.0, 0.01, 12, 0, 0), RatioRun(2.2, 0.01, 12, 0, 0)])
    assert uncertainty(apart) == pytest.approx(0.1 / apart.ratio)


def test_a_reading_far_from_the_table_is_measured_again_and_pooled():
    """84 ms against a table that says 95 (σ 1.6 %) is a surprise: a second reading, and the two
    pooled, with their disagreement as the uncertainty, so neither is trusted alone."""
    readings = iter([OnDevice(84.0, 0.01), OnDevice(95.5, 0.01)])
    measured = []

    def measure(f):
        measured.append(f.choice)
        return next(readings)

    _, rounds = refit_on_device(fake_fit(95.0, 0), lambda cur, b: cur, lambda f: f, 100.0,
                                measure,
                                table_sigma=0.016)
    first = rounds[0]
    assert measured == [0, 0] and first["readings_ms"] == [84.0, 95.5]
    assert first["measured_ms"] == pytest.approx(89.75)
    assert first["uncertainty"] == pytest.approx(5.75 / 89.75) and not first["accepted"]


def test_a_reading_that_agrees_with_the_table_is_not_measured_again():
    calls = []
    _, rounds = refit_on_device(fake_fit(95.0, 0), lambda cur, b: cur, lambda f: f, 100.0,
                                lambda f: calls.append(f) or exact(95.5),
                                table_sigma=0.016)
    assert len(calls) == 1 and rounds[0]["readings_ms"] == [95.5] and rounds[0]["accepted"]
