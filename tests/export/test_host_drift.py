"""The host-drift reference: the table's own calibration networks, rebuilt from their seed."""

from __future__ import annotations

import copy

import pytest

from export.host_drift import DriftReference, drift_record, drift_reference
from pipeline.latency.shipped import resolve_profile


def test_the_nearest_calibration_network_is_rebuilt_exactly():
    table = resolve_profile("cpu")
    samples = table.data["calibration_samples"]
    target = samples[7]["measured_ms"]
    ref = drift_reference(table, target + 0.01)
    assert ref is not None and ref.then_ms == pytest.approx(target)
    # Rebuilt from the seed: the LUT sums agree with what the profiler stored.
    assert table.raw_ms(ref.arch) == pytest.approx(samples[ref.index]["raw_ms"], rel=1e-9)


def test_no_reference_where_the_networks_cannot_be_rebuilt():
    table = resolve_profile("cpu")
    other = copy.deepcopy(table)
    other.data["protocol"]["calibration_seed"] = 99  # drawn from another seed: sums disagree
    assert drift_reference(other, 300.0) is None
    assert drift_reference(resolve_profile("jetson"), 10.0) is None  # an estimate


def test_drift_record_ratio():
    ref = DriftReference(index=3, arch=None, then_ms=100.0)  # type: ignore[arg-type]
    d = drift_record(ref, [110.0, 120.0, 115.0])
    assert d == {"reference": "calib-3", "then_ms": 100.0, "now_ms": 115.0,
                 "ratio": pytest.approx(1.15)}
