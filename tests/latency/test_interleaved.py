"""Ratio timing: interleaved pairs cancel host drift, the CI decides when to stop, runs combine."""

import itertools

import numpy as np
import pytest

from tnas_pipeline.latency.interleaved import (
    RatioProtocol,
    RatioRun,
    RatioStats,
    combine,
    interleaved_run,
    median_ci,
    relative_ci,
)


def drifting_pair(ratio: float, seed: int = 0, noise: float = 0.01):
    """A target taking ``ratio`` × a reference, on a host whose speed wanders by ±30 % over
    time (both see the same speed within a pair), with small independent jitter."""
    rng = np.random.default_rng(seed)
    speed = itertools.cycle(1.0 + 0.3 * np.sin(np.arange(500) / 7.0))
    state = {"s": 1.0}

    def target() -> float:
        state["s"] = next(speed)
        return 10.0 * ratio * state["s"] * (1 + noise * rng.standard_normal())

    def reference() -> float:
        return 10.0 * state["s"] * (1 + noise * rng.standard_normal())

    return target, reference


def test_drift_cancels_in_the_ratio():
    target, reference = drifting_pair(2.5)
    run = interleaved_run(target, reference, RatioProtocol(min_pairs=20, max_pairs=20))
    assert run.ratio == pytest.approx(2.5, rel=0.01)
    assert run.pairs == 20 and 0 < run.ci < 0.02
    # The plain medians move with the host; the ratio of the two does not.
    assert run.target_ms / run.reference_ms == pytest.approx(2.5, rel=0.05)


def test_a_run_stops_at_the_ci_target_or_at_the_cap():
    quiet = interleaved_run(*drifting_pair(2.0, noise=0.001),
                            RatioProtocol(min_pairs=5, max_pairs=40, target_ci=0.01))
    assert quiet.pairs == 5 and quiet.ci <= 0.01  # precise at once: stops at the minimum
    noisy = interleaved_run(*drifting_pair(2.0, noise=0.2),
                            RatioProtocol(min_pairs=5, max_pairs=12, target_ci=0.001))
    assert noisy.pairs == 12 and noisy.ci > 0.001  # never precise enough: the cap
    clock = itertools.count(0.0, 1.0)  # every call to the clock is one second later
    timed = interleaved_run(*drifting_pair(2.0, noise=0.2),
                            RatioProtocol(min_pairs=2, max_pairs=100, target_ci=0.0,
                                          max_seconds=5.0), clock=lambda: next(clock))
    assert timed.pairs < 10


def test_an_outlier_pair_does_not_move_the_median_ratio():
    times = iter([10.0, 5.0] * 6 + [80.0, 5.0] + [10.0, 5.0] * 6)
    run = interleaved_run(lambda: next(times), lambda: next(times),
                          RatioProtocol(warmup=0, min_pairs=13, max_pairs=13))
    assert run.ratio == 2.0


def test_median_ci_covers_the_median_about_95_percent_of_the_time():
    rng = np.random.default_rng(0)
    hits = 0
    for _ in range(400):
        x = rng.lognormal(0.0, 0.1, size=15)
        lo, hi = median_ci(x)
        hits += lo <= 1.0 <= hi  # the true median of a lognormal(0, σ) is 1
    assert 0.90 <= hits / 400 <= 0.995
    assert median_ci([3.0]) == (3.0, 3.0)
    assert relative_ci([1.0, 1.0, 1.0, 1.0]) == 0.0


def test_runs_combine_into_a_value_with_the_spread_of_the_runs():
    runs = [RatioRun(2.0, 0.01, 10, 20.0, 10.0), RatioRun(2.2, 0.02, 12, 22.0, 10.0),
            RatioRun(2.1, 0.005, 8, 21.0, 10.0)]
    s = combine(runs)
    assert s.ratio == 2.1 and s.sd == pytest.approx(0.1) and s.ci == 0.02
    assert s.ms == pytest.approx(21.0) and s.rel_sd == pytest.approx(0.1 / 2.1)
    back = RatioStats.from_dict(s.to_dict())
    assert back.runs == s.runs and back.sd == pytest.approx(s.sd) and back.ratio == s.ratio
    with pytest.raises(ValueError):
        combine([])
    with pytest.raises(ValueError):
        RatioProtocol(min_pairs=5, max_pairs=3)
