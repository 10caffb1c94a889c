"""ABS: path angles from per-op statistics equal the angle of the concatenated weights, and the
ops that training moved most rank first."""

from __future__ import annotations

import copy
import math

import pytest
import torch

from tnas_pipeline.nas.angle_shrinking import (
    WeightStats,
    ops_to_drop,
    path_angle,
    rank_ops,
    supernet_op_scores,
)
from tnas_pipeline.nas.supernet import Supernet
from tnas_pipeline.search_space import SearchSpace

SPACE = SearchSpace(max_cells=2, widths=(8, 16), channels=8)


def test_path_angle_is_the_angle_of_the_concatenation():
    g = torch.Generator().manual_seed(0)
    now = [torch.randn(5, 3, generator=g), torch.randn(7, generator=g)]
    init = [torch.randn(5, 3, generator=g), torch.randn(7, generator=g)]
    parts = [WeightStats.of([a], [b]) for a, b in zip(now, init, strict=True)]
    a = torch.cat([t.flatten() for t in now]).double()
    b = torch.cat([t.flatten() for t in init]).double()
    expected = math.acos(float(a @ b / (a.norm() * b.norm())))
    assert path_angle(parts) == pytest.approx(expected, abs=1e-12)
    assert path_angle([WeightStats.of(now, now)]) == pytest.approx(0.0, abs=1e-6)


def test_the_op_training_moved_most_ranks_first_and_the_others_are_dropped():
    torch.manual_seed(0)
    net = Supernet(SPACE)
    init = copy.deepcopy(net.state_dict())
    moved = SPACE.ops.index("invres3x3")
    with torch.no_grad():
        for cell in net.cells:
            for edge in cell:
                for o, op in enumerate(edge):
                    for p in op.parameters():  # every op moves a little, one a lot
                        p.add_(torch.randn_like(p) * (1.0 if o == moved else 0.01))
    scores = supernet_op_scores(net, init, samples=500)
    assert scores.shape == (2, SPACE.edges_per_cell, len(SPACE.ops))
    assert not torch.isnan(scores).any()
    ranking = rank_ops(scores, SPACE.ops)
    assert ranking[0][0] == "invres3x3"
    dropped = ops_to_drop(scores, SPACE.ops, 2)
    assert len(dropped) == 2 and "invres3x3" not in dropped
    assert [name for name, _ in ranking[-2:]] == dropped
    with pytest.raises(ValueError):
        ops_to_drop(scores, SPACE.ops, len(SPACE.ops))


def test_an_untrained_supernet_has_zero_angles():
    net = Supernet(SPACE)
    scores = supernet_op_scores(net, net.state_dict(), samples=50)
    assert torch.nanmean(scores).item() == pytest.approx(0.0, abs=1e-6)
