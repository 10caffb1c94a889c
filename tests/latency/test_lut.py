import json

import numpy as np
import pytest

from tnas_pipeline.errors import UserError
from tnas_pipeline.latency.arch_codec import encode_arch
from tnas_pipeline.latency.blocks import architecture_blocks
from tnas_pipeline.latency.lut import LatencyTable
from tnas_pipeline.latency.lut_sign import sign_entries
from tnas_pipeline.latency.model import fit_on_samples
from tnas_pipeline.latency.roofline import estimate_table
from tnas_pipeline.search_space import DEFAULT_SPACE


@pytest.fixture
def table(tmp_path):
    """An estimate (entries in ms over a nominal 1 ms reference) with a model fitted on
    networks that run 1.5× the sum of their entries."""
    t = estimate_table("jetson-agx-orin", DEFAULT_SPACE, (1280, 720), "fp16")
    rng = np.random.default_rng(0)
    archs = [DEFAULT_SPACE.random_architecture(rng) for _ in range(20)]
    samples = [(a, 1.5 * t.raw_ratio(a)) for a in archs]
    t.data["model_samples"] = [{"arch": encode_arch(a), "ratio": r, "source": "random"}
                               for a, r in samples]
    t.data["model"] = fit_on_samples(DEFAULT_SPACE, samples, t.parts)
    t.save(tmp_path / "lut.json")
    return LatencyTable.load(tmp_path / "lut.json")


def test_prediction_is_the_block_sum_times_the_model(table):
    arch = DEFAULT_SPACE.random_architecture(np.random.default_rng(1))
    raw = sum(table.block_ms(b) for b in architecture_blocks(arch, (1280, 720), "fp16"))
    assert table.raw_ms(arch) == pytest.approx(raw)
    assert table.predict_ms(arch) == pytest.approx(1.5 * raw, rel=1e-6)
    assert table.predict(arch).rel_sigma == pytest.approx(table.sigma) and table.sigma < 0.01
    a, b = table.linear_calibration()
    assert a == pytest.approx(1.5, rel=1e-4) and b == pytest.approx(0.0, abs=1e-3)


def test_ratios_convert_with_the_reference_time_of_the_moment(table):
    arch = DEFAULT_SPACE.random_architecture(np.random.default_rng(2))
    now = table.at_reference_ms(2.0)
    assert now.predict_ms(arch) == pytest.approx(2.0 * table.predict_ms(arch))
    assert now.predict_ratio(arch).value == pytest.approx(table.predict_ratio(arch).value)
    assert table.reference_ms == 1.0  # the view did not change the table


def test_reachable_range_bounds_every_architecture(table):
    lo, hi = table.reachable_range()
    rng = np.random.default_rng(2)
    preds = [table.predict_ms(DEFAULT_SPACE.random_architecture(rng)) for _ in range(50)]
    assert lo <= min(preds) and max(preds) <= hi


@pytest.mark.parametrize(("mutate", "message"), [
    (lambda d: d.update(version=9), "version 9"),
    (lambda d: d.update(format="x"), "not a tnas-pipeline latency table"),
    (lambda d: d["search_space"].update(hash="0" * 16), "corrupt latency table"),
    (lambda d: d["entries"].update(bad={"median_ms": 1}), "corrupt latency table"),
    (lambda d: d.update(entries=[]), "corrupt latency table"),
    (lambda d: next(iter(d["entries"].values())).update(ratio="abc"), "corrupt latency table"),
    (lambda d: next(iter(d["entries"].values())).update(ratio=float("nan")),
     "corrupt latency table"),
    (lambda d: d.update(device="cpu"), "corrupt latency table"),
    (lambda d: d["reference"].update(ms=-1), "corrupt latency table"),
    (lambda d: d["model"].update(weights=[1.0]), "corrupt latency table"),
    (lambda d: d.update(output_size=[True, 720]), "corrupt latency table"),
])
def test_bad_tables_are_refused(tmp_path, table, mutate, message):
    data = json.loads(table.path.read_text())
    mutate(data)
    (tmp_path / "bad.json").write_text(json.dumps(data))
    with pytest.raises(UserError, match=message):
        LatencyTable.load(tmp_path / "bad.json")
    (tmp_path / "trunc.json").write_text(table.path.read_text()[:100])
    with pytest.raises(UserError, match="corrupt latency table"):
        LatencyTable.load(tmp_path / "trunc.json")


def test_other_space_or_scale_is_refused(table):
    with pytest.raises(UserError, match="x2, not x4"):
        table.require_compatible(DEFAULT_SPACE.with_scale(4))
    from tnas_pipeline.search_space import SearchSpace

    with pytest.raises(UserError, match="profile this search space again"):
        table.require_compatible(SearchSpace(max_cells=3))
    with pytest.raises(UserError, match="x4 but"):
        table.predict_ms(DEFAULT_SPACE.with_scale(4).random_architecture(np.random.default_rng()))


def test_estimates_say_so(table):
    assert table.is_estimate and "ROOFLINE ESTIMATE" in table.describe()
    assert "not a measurement" in table.estimate_notice()


def test_a_version_1_table_is_read_as_version_2(tmp_path):
    """Version 1: medians in ms, the base networks as context, calibration networks drawn from
    a seed. The base network of the largest kernel becomes the reference; the calibration
    networks are rebuilt and the model is fitted on them."""
    space = DEFAULT_SPACE
    est = estimate_table("jetson-agx-orin", space, (1280, 720), "fp32")
    entries = {k: {"median_ms": 10 * v["ratio"], "p90_ms": 0, "mean_ms": 0, "std_ms": 0.1, "n": 3}
               for k, v in est.data["entries"].items()}
    v1 = {k: v for k, v in est.data.items() if k not in ("reference", "model", "model_samples")}
    v1.update(version=1, method="measured", entries=entries, context_bases={
        "3": {"median_ms": 20.0, "p90_ms": 0, "mean_ms": 0, "std_ms": 0, "n": 3}},
        protocol={"calibration_seed": 7})
    t_ms = LatencyTable({**est.data, "entries": {k: {"ratio": e["median_ms"]} for k, e
                                                 in entries.items()}, "reference": {"ms": 1.0}})
    rng = np.random.default_rng(7)
    archs = [space.random_architecture(rng) for _ in range(8)]
    v1["calibration_samples"] = [{"raw_ms": t_ms.raw_ratio(a), "measured_ms": 1.2 *
                                  t_ms.raw_ratio(a), "cells": len(a.cells)} for a in archs]
    v1["calibration"] = {"a": 1.2, "b": 0.0}
    sign_entries(v1["entries"])  # as a shipped version 1 table is
    (tmp_path / "v1.json").write_text(json.dumps(v1))
    table = LatencyTable.load(tmp_path / "v1.json")
    assert table.data["version"] == 2 and table.data["upgraded_from"] == 1
    assert table.profiled_reference_ms == 20.0 and table.reference_arch.name == "reference"
    assert len(table.samples()) == 8
    arch = space.random_architecture(np.random.default_rng(3))
    assert table.predict_ms(arch) == pytest.approx(1.2 * t_ms.raw_ratio(arch), rel=1e-3)
