import json

import numpy as np
import pytest

from pipeline.errors import UserError
from pipeline.latency.blocks import architecture_blocks
from pipeline.latency.lut import LatencyTable
from pipeline.latency.roofline import estimate_table
from pipeline.search_space import DEFAULT_SPACE


@pytest.fixture
def table(tmp_path):
    t = estimate_table("jetson-agx-orin", DEFAULT_SPACE, (1280, 720), "fp16")
    t.data["calibration"] = {"a": 1.5, "b": 0.25, "networks": 0, "in_sample": {}}
    t.save(tmp_path / "lut.json")
    return LatencyTable.load(tmp_path / "lut.json")


def test_prediction_is_the_calibrated_block_sum(table):
    arch = DEFAULT_SPACE.random_architecture(np.random.default_rng(1))
    raw = sum(table.block_ms(b) for b in architecture_blocks(arch, (1280, 720), "fp16"))
    assert table.predict_ms(arch) == pytest.approx(1.5 * raw + 0.25)


def test_reachable_range_bounds_every_architecture(table):
    lo, hi = table.reachable_range()
    rng = np.random.default_rng(2)
    preds = [table.predict_ms(DEFAULT_SPACE.random_architecture(rng)) for _ in range(50)]
    assert lo <= min(preds) and max(preds) <= hi
    s = DEFAULT_SPACE
    choices = [(op, w) for op in s.ops for w in s.widths]
    one_cell = {c: table.predict_ms(s.architecture([[c] * s.edges_per_cell], 3)) for c in choices}
    worst = max(one_cell, key=one_cell.get)
    up = max(s.upsampler_kernels,
             key=lambda k: table.predict_ms(s.architecture([[worst] * s.edges_per_cell], k)))
    slowest = s.architecture([[worst] * s.edges_per_cell] * s.max_cells, up)
    assert table.predict_ms(slowest) == pytest.approx(hi)


@pytest.mark.parametrize(("mutate", "message"), [
    (lambda d: d.update(version=9), "version 9"),
    (lambda d: d.update(format="x"), "not a tnas-pipeline latency table"),
    (lambda d: d["search_space"].update(hash="0" * 16), "corrupt latency table"),
    (lambda d: d["entries"].update(bad={"median_ms": 1}), "corrupt latency table"),
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
    from pipeline.search_space import SearchSpace

    with pytest.raises(UserError, match="profile this search space again"):
        table.require_compatible(SearchSpace(max_cells=3))
    with pytest.raises(UserError, match="x4 but"):
        table.predict_ms(DEFAULT_SPACE.with_scale(4).random_architecture(np.random.default_rng()))


def test_estimates_say_so(table):
    assert table.is_estimate and "ROOFLINE ESTIMATE" in table.describe()
    assert "not a measurement" in table.estimate_notice()
