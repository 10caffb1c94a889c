import json

import pytest

from pipeline.errors import UserError
from pipeline.latency.blocks import space_blocks
from pipeline.latency.lut import LatencyTable
from pipeline.latency.profiler import check, profile
from pipeline.search_space import SearchSpace
from tests.latency.conftest import FAST, TINY_SIZE


def _profile(backend, space, out, **kw):
    return profile(backend, "cpu", space, TINY_SIZE, out, protocol=FAST, networks=4,
                   progress=False, **kw)


def test_profile_writes_a_calibrated_table_with_provenance(tmp_path, tiny_space, ort_backend):
    table = _profile(ort_backend, tiny_space, tmp_path / "lut.json")
    data = json.loads((tmp_path / "lut.json").read_text())
    assert data["method"] == "measured" and data["search_space"]["hash"] == tiny_space.hash
    assert len(data["entries"]) == len(space_blocks(tiny_space, TINY_SIZE, "fp32"))
    assert data["runtime"]["runtime"] == "onnxruntime" and data["runtime"]["threads"] == 1
    assert data["device"]["cpu"] and data["date"] and data["protocol"]["blocks"]["repeats"] == 3
    cal = data["calibration"]
    assert cal["networks"] == 4 and set(cal["in_sample"]) >= {"mape", "within_10pct"}
    lo, hi = table.reachable_range()
    assert 0 <= lo <= hi  # tiny blocks at a tiny size time at ~0 ms, within noise


def test_interrupted_profile_resumes_without_remeasuring(tmp_path, tiny_space, ort_backend,
                                                         monkeypatch):
    calls, crashed = [], []
    real = type(ort_backend).measure

    def flaky(self, module, shape, protocol):
        calls.append(shape)
        if len(calls) == 4 and not crashed:
            crashed.append(True)
            raise RuntimeError("simulated crash")
        return real(self, module, shape, protocol)

    monkeypatch.setattr(type(ort_backend), "measure", flaky)
    crashed.append(True)  # a clean run first, to count what a whole profile measures
    _profile(ort_backend, tiny_space, tmp_path / "full.json")
    full = len(calls)
    calls.clear()
    crashed.clear()
    with pytest.raises(RuntimeError, match="simulated crash"):
        _profile(ort_backend, tiny_space, tmp_path / "lut.json")
    assert LatencyTable.load(tmp_path / "lut.json").data["entries"]  # saved as it went
    calls.clear()
    crashed.append(True)  # no more crashes
    _profile(ort_backend, tiny_space, tmp_path / "lut.json", resume=True)
    assert len(calls) == full - 3  # the three measurements before the crash are not repeated
    n_blocks = len(space_blocks(tiny_space, TINY_SIZE, "fp32"))
    assert len(LatencyTable.load(tmp_path / "lut.json").data["entries"]) == n_blocks


def test_existing_table_needs_resume_and_matching_space(tmp_path, tiny_space, ort_backend):
    _profile(ort_backend, tiny_space, tmp_path / "lut.json")
    with pytest.raises(UserError, match="pass --resume"):
        _profile(ort_backend, tiny_space, tmp_path / "lut.json")
    other = SearchSpace(ops=("resblock3x3",), widths=(8,), max_cells=1, channels=8)
    with pytest.raises(UserError, match="search space"):
        _profile(ort_backend, other, tmp_path / "lut.json", resume=True)


def test_check_reports_fidelity_on_fresh_networks(tmp_path, tiny_space, ort_backend):
    table = _profile(ort_backend, tiny_space, tmp_path / "lut.json")
    result = check(table, ort_backend, networks=3, progress=False)
    assert result["networks"] == 3 and len(result["samples"]) == 3
    assert 0 <= result["within_10pct"] <= 1 and result["mape"] >= 0
    assert -1 <= result["kendall_tau"] <= 1


def test_the_mixed_path_space_is_profiled_folded_and_predicts_any_branch_set(tmp_path):
    """The mixed space's table holds the folded 3×3 and 1×1 layers; a network keeping any set
    of branches is predicted as the network it folds to."""
    from dataclasses import replace

    from pipeline.latency.backends.onnxruntime_backend import OnnxRuntimeBackend
    from pipeline.search_space import MIXED_SPACE

    space = replace(MIXED_SPACE, max_cells=2, channels=8)
    table = _profile(OnnxRuntimeBackend(threads=1), space, tmp_path / "mixed.json")
    keys = set(table.data["entries"])
    assert {k.split("|")[0] for k in keys} >= {"rep3x3", "rep1x1"}
    assert not any(k.startswith("rep3x3_") or k.startswith("repid") for k in keys)
    unfolded = space.architecture([[("rep3x3_1x1_id", None), ("rep1x1_id", None)]], 3)
    folded = space.architecture([[("rep3x3", None), ("rep1x1", None)]], 3)
    assert table.predict_ms(unfolded) == table.predict_ms(folded)
    lo, _ = table.reachable_range()
    assert lo <= table.predict_ms(space.architecture([], 1))  # no edge kept at all
