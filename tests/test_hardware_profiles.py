"""The shipped latency tables load, match the current search space, and say what they are."""

import json
from pathlib import Path

import numpy as np
import pytest

from tnas_pipeline.errors import UserError
from tnas_pipeline.latency.lut import LatencyTable
from tnas_pipeline.latency.resolve import resolve_profile
from tnas_pipeline.search_space import SPACES

PROFILES = sorted((Path(__file__).resolve().parent.parent / "hardware_profiles").glob("*.json"))


def test_the_expected_profiles_ship():
    names = {p.name for p in PROFILES}
    assert {"cpu-2core-ort-fp32-x2-1280x720.json", "cpu-2core-ort-fp32-x4-1280x720.json",
            "jetson-orin-nano-fp16-x2-1280x720.json",
            "jetson-agx-orin-fp16-x2-1280x720.json"} <= names


@pytest.mark.parametrize("path", PROFILES, ids=lambda p: p.name)
def test_shipped_profile_is_current(path):
    table = LatencyTable.load(path)
    # A changed space needs its tables made again: every table is of one of today's spaces.
    spaces = [sp.with_scale(table.data["scale"]) for sp in SPACES.values()]
    space = next((sp for sp in spaces if sp.hash == table.data["search_space"]["hash"]), None)
    assert space is not None, f"{path.name} is for no current search space"
    table.require_compatible(space)
    lo, hi = table.reachable_range()
    arch = space.random_architecture(np.random.default_rng(0))
    assert 0 < lo <= table.predict_ms(arch) <= hi
    if path.name.startswith("jetson"):
        assert table.is_estimate and table.estimate_notice()
    else:
        # Measured as version 2: ratios to the reference network from 3 separate runs each,
        # and a model fitted on a few hundred random and fit-output networks.
        data = json.loads(path.read_text())
        assert data["version"] == 2 and not table.is_estimate
        assert table.profiled_reference_ms > 0 and table.reference_arch.cells == ()
        assert all(len(e["runs"]) >= 3 for e in data["entries"].values())
        sources = [s["source"] for s in data["model_samples"]]
        assert table.model["networks"] >= 150 and {"random", "fit"} <= set(sources)
        assert 0 < table.sigma < 0.05
        assert table.data["runtime"]["threads"] >= 1
        assert table.data["device"]["cpu_fingerprint"]["flags"]


def test_a_shipped_device_resolves_to_the_table_of_the_scale_asked_for():
    # Without a bring-up, --device cpu is the shipped table (or this CPU's cached one).
    assert resolve_profile("cpu").data["scale"] == 2
    x4 = resolve_profile("cpu", 4)
    assert x4.data["scale"] == 4
    # The x4 cells run at a quarter of the x2 pixels, so the same network costs less there.
    assert x4.reachable_range()[1] < resolve_profile("cpu", 2).reachable_range()[1]


def test_a_scale_without_a_shipped_table_names_the_profile_command():
    with pytest.raises(UserError, match="profile --device jetson --precision fp16 --scale 4"):
        resolve_profile("jetson", 4)
