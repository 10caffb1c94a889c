from collections import Counter

import numpy as np
import pytest

from tnas_pipeline.latency.shipped import shipped_table
from tnas_pipeline.nas.budget import prediction_window
from tnas_pipeline.nas.random_choice import fitted_random_architecture, random_choice
from tnas_pipeline.search_space import MIXED_SPACE


def test_random_choices_cover_the_space_uniformly(default_space):
    rng = np.random.default_rng(0)
    draws = [random_choice(default_space, rng) for _ in range(600)]
    assert all(len(c.cells) == default_space.max_cells for c in draws)
    depths = Counter(c.depth for c in draws)
    assert set(depths) == set(range(1, default_space.max_cells + 1))
    assert max(depths.values()) < 2 * min(depths.values())  # 100 expected each
    ops = Counter(op for c in draws for cell in c.cells for op, _ in cell)
    assert set(ops) == set(default_space.ops)
    with pytest.raises(ValueError, match="single-path"):
        random_choice(MIXED_SPACE, rng)


@pytest.mark.parametrize("budget", [80.0, 250.0])
def test_a_random_draw_is_fitted_into_the_searchs_window(budget):
    table = shipped_table("cpu", 2, "default")
    arch, record = fitted_random_architecture(table, budget, seed=3, check_on_device=False)
    lo, hi = prediction_window(table.sigma)
    assert record["in_window"] and lo * budget <= record["predicted_ms"] <= hi * budget
    assert table.predict_ms(arch) == pytest.approx(record["predicted_ms"])
    assert record["device_check"] is None and arch.name == f"random-{budget:g}ms-s3"
    # Seeds draw different networks; a seed draws the same one every time.
    again, _ = fitted_random_architecture(table, budget, seed=3, check_on_device=False)
    other, _ = fitted_random_architecture(table, budget, seed=4, check_on_device=False)
    assert again == arch and other.cells != arch.cells
