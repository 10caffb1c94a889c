"""The shipped latency tables load, match the current search space, and say what they are."""

from pathlib import Path

import numpy as np
import pytest

from pipeline.latency.lut import LatencyTable
from pipeline.search_space import DEFAULT_SPACE

PROFILES = sorted((Path(__file__).resolve().parent.parent / "hardware_profiles").glob("*.json"))


def test_the_expected_profiles_ship():
    names = {p.name for p in PROFILES}
    assert {"cpu-2core-ort-fp32-x2-1280x720.json", "jetson-orin-nano-fp16-x2-1280x720.json",
            "jetson-agx-orin-fp16-x2-1280x720.json"} <= names


@pytest.mark.parametrize("path", PROFILES, ids=lambda p: p.name)
def test_shipped_profile_is_current(path):
    table = LatencyTable.load(path)
    table.require_compatible(DEFAULT_SPACE)  # a changed space needs its tables made again
    lo, hi = table.reachable_range()
    arch = DEFAULT_SPACE.random_architecture(np.random.default_rng(0))
    assert 0 < lo <= table.predict_ms(arch) <= hi
    if path.name.startswith("jetson"):
        assert table.is_estimate and table.estimate_notice()
    else:
        assert not table.is_estimate and table.calibration["networks"] >= 30
        assert table.data["runtime"]["threads"] >= 1
