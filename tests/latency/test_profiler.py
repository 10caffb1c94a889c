import json

import numpy as np
import pytest

from tests.latency.conftest import QUICK, TINY_SIZE
from tnas_pipeline.errors import UserError
from tnas_pipeline.latency import measure as measure_module
from tnas_pipeline.latency.blocks import space_blocks
from tnas_pipeline.latency.lut import LatencyTable
from tnas_pipeline.latency.profiler import (
    check,
    measure_model_networks,
    plan_model_networks,
    profile,
    profile_units,
    random_networks,
)
from tnas_pipeline.search_space import SearchSpace


def _profile(backend, space, out, **kw):
    from dataclasses import replace

    return profile(backend, "cpu", space, TINY_SIZE, out, protocol=QUICK, networks=4,
                   progress=False, model_protocol=replace(QUICK, runs=1), **kw)


def test_profile_writes_ratio_entries_a_reference_and_a_model(tmp_path, tiny_space, ort_backend):
    table = _profile(ort_backend, tiny_space, tmp_path / "lut.json")
    data = json.loads((tmp_path / "lut.json").read_text())
    assert data["method"] == "measured" and data["search_space"]["hash"] == tiny_space.hash
    blocks = space_blocks(tiny_space, TINY_SIZE, "fp32")
    assert len(data["entries"]) == len(blocks)
    assert data["runtime"]["runtime"] == "onnxruntime" and data["runtime"]["threads"] == 1
    assert data["runtime"]["intra_op_spinning"] is False
    assert data["device"]["cpu_fingerprint"] and data["date"]
    assert data["protocol"]["entries"]["runs"] == 3
    # Every entry: a ratio to the reference, its ms at the reference's time, and the spread
    # of three separate runs.
    ref = data["reference"]
    assert ref["arch"]["cells"] == [] and ref["ms"] > 0 and len(ref["ms_per_run"]) == 3
    for entry in data["entries"].values():
        assert len(entry["runs"]) == 3 and entry["sd"] >= 0
        assert entry["median_ms"] == pytest.approx(entry["ratio"] * ref["ms"], abs=1e-5)
    # head + skip + upsampler of the reference's kernel is the reference itself, run by run
    # (a run's upsampler is 1 - head - skip, clipped at 0 when noise makes that negative). The
    # medians need not add up: a median of a difference is not the difference of medians, and
    # at this tiny size one CI run's medians summed to 0.90.
    fixed = [b for b in blocks if b.kind != "layer" or b.cin != b.cout]
    k3 = [b for b in fixed if b.kind != "upsampler" or b.kernel == 3]
    per_run = [data["entries"][b.key]["runs"] for b in k3]
    for i in range(3):
        total = sum(runs[i] for runs in per_run)
        assert total == pytest.approx(1.0, abs=1e-9) or (total > 1.0 and any(
            runs[i] == 0.0 for runs, b in zip(per_run, k3, strict=True) if b.kind == "upsampler"))
    for b in k3:
        assert table.entry_ratio(b) == float(np.median(data["entries"][b.key]["runs"]))
    model = data["model"]
    assert model["networks"] == 4 and set(model["loo"]) >= {"mape", "within_10pct"}
    assert len(data["model_samples"]) == 4
    lo, hi = table.reachable_range()
    assert 0 <= lo <= hi


def test_interrupted_profile_resumes_without_remeasuring(tmp_path, tiny_space, ort_backend,
                                                         monkeypatch):
    calls = []
    real = measure_module.interleaved_run
    crash_at = {"n": None}

    def counting(target, reference, protocol, **kw):
        calls.append(1)
        if crash_at["n"] is not None and len(calls) == crash_at["n"]:
            raise RuntimeError("simulated crash")
        return real(target, reference, protocol, **kw)

    monkeypatch.setattr(measure_module, "interleaved_run", counting)
    _profile(ort_backend, tiny_space, tmp_path / "full.json")
    full = len(calls)
    calls.clear()
    crash_at["n"] = 9
    with pytest.raises(RuntimeError, match="simulated crash"):
        _profile(ort_backend, tiny_space, tmp_path / "lut.json")
    saved = json.loads((tmp_path / "lut.json").read_text())["measurements"]
    assert sum(len(v) for v in saved.values()) == 8  # saved as it went
    calls.clear()
    crash_at["n"] = None
    _profile(ort_backend, tiny_space, tmp_path / "lut.json", resume=True)
    assert len(calls) == full - 8  # the runs before the crash are not repeated
    units, _ = profile_units(tiny_space, TINY_SIZE, "fp32")
    data = json.loads((tmp_path / "lut.json").read_text())
    assert all(len(data["measurements"][u.key]) == 3 for u in units)


def test_existing_table_needs_resume_and_matching_space(tmp_path, tiny_space, ort_backend):
    _profile(ort_backend, tiny_space, tmp_path / "lut.json")
    with pytest.raises(UserError, match="pass --resume"):
        _profile(ort_backend, tiny_space, tmp_path / "lut.json")
    other = SearchSpace(ops=("resblock3x3",), widths=(8,), max_cells=1, channels=8)
    with pytest.raises(UserError, match="search space"):
        _profile(ort_backend, other, tmp_path / "lut.json", resume=True)


def test_more_model_networks_refit_the_model(tmp_path, tiny_space, ort_backend):
    from tnas_pipeline.latency.arch_codec import encode_arch

    table = _profile(ort_backend, tiny_space, tmp_path / "lut.json")
    extra = random_networks(tiny_space, 3, seed=9)
    plan_model_networks(table, extra, "fit")
    plan_model_networks(table, extra, "fit")  # planned once each
    measure_model_networks(table, ort_backend, QUICK, progress=False)
    again = LatencyTable.load(tmp_path / "lut.json")
    distinct = {str(encode_arch(a)) for a in [*random_networks(tiny_space, 4, 0), *extra]}
    assert again.model["networks"] == len(distinct) > 4  # every network measured once
    assert {s["source"] for s in again.data["model_samples"]} == {"random", "fit"}


def test_check_reports_fidelity_on_fresh_networks_by_source(tmp_path, tiny_space, ort_backend):
    table = _profile(ort_backend, tiny_space, tmp_path / "lut.json")
    archs = [("random", a) for a in random_networks(tiny_space, 3, seed=5)]
    archs.append(("fit", random_networks(tiny_space, 1, seed=6)[0]))
    result = check(table, ort_backend, archs, protocol=QUICK, progress=False)
    assert result["networks"] == 4 and len(result["samples"]) == 4
    assert 0 <= result["within_10pct"] <= 1 and result["mape"] >= 0
    assert set(result["by_source"]) == {"random", "fit"}
    assert result["by_source"]["fit"]["networks"] == 1
    row = result["samples"][0]
    assert row["measured_ms"] == pytest.approx(row["measured_ratio"] * row["reference_ms"])


def test_the_mixed_path_space_is_profiled_folded_and_predicts_any_branch_set(tmp_path):
    """The mixed space's table holds the folded 3×3 and 1×1 layers; a network keeping any set
    of branches is predicted as the network it folds to."""
    from dataclasses import replace

    from tnas_pipeline.latency.backends.onnxruntime_backend import OnnxRuntimeBackend
    from tnas_pipeline.search_space import MIXED_SPACE

    space = replace(MIXED_SPACE, max_cells=2, channels=8)
    table = _profile(OnnxRuntimeBackend(threads=1), space, tmp_path / "mixed.json")
    keys = set(table.data["entries"])
    assert {k.split("|")[0] for k in keys} >= {"rep3x3", "rep1x1"}
    assert not any(k.startswith("rep3x3_") or k.startswith("repid") for k in keys)
    unfolded = space.architecture([[("rep3x3_1x1_id", None), ("rep1x1_id", None)]], 3)
    folded = space.architecture([[("rep3x3", None), ("rep1x1", None)]], 3)
    assert table.predict_ms(unfolded) == pytest.approx(table.predict_ms(folded))
    lo, _ = table.reachable_range()
    assert lo <= table.predict_ms(space.architecture([], 1)) * 1.0001  # no edge kept at all


def test_a_plain_space_profiles_every_trunk_width(tmp_path, ort_backend):
    """Per trunk width its own head, bases and op pairs; an ECB is the 3×3 conv it folds to."""
    space = SearchSpace(ops=("conv3x3", "ecb", "conv1x1"), widths=(), max_cells=2,
                        trunk_widths=(8, 16), channels=16)
    units, blocks = profile_units(space, TINY_SIZE, "fp32")
    keys = [u.key for u in units]
    assert keys[:2] == ["head", "skip"]
    assert {"head:c8", "base:c8:k1", "base:c8:k3", "base:k1", "pair:conv3x3:None",
            "pair:conv1x1:None:c8"} <= set(keys)
    assert not any("ecb" in k for k in keys)
    assert {(b.op, b.cin) for b in blocks if b.kind == "layer" and b.cin == b.cout} == {
        (op, c) for op in ("conv3x3", "conv1x1") for c in (8, 16)}
    table = _profile(ort_backend, space, tmp_path / "lut.json")
    assert len(table.data["entries"]) == len(blocks)
    wide = space.architecture([[("ecb", None), ("conv3x3", None)]], 3, trunk=16)
    narrow = space.architecture([[("ecb", None), ("conv3x3", None)]], 3, trunk=8)
    assert table.raw_ms(narrow) < table.raw_ms(wide)
    lo, hi = table.reachable_range()
    assert 0 < lo < hi
