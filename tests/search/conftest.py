"""A small search space and helpers for one-hot architecture weights."""

import numpy as np
import pytest
import torch

from pipeline.search.supernet import ArchParams, RelaxedWeights
from pipeline.search_space import DEFAULT_SPACE, SearchSpace


@pytest.fixture
def small_space() -> SearchSpace:
    return SearchSpace(widths=(4, 8, 12), max_cells=3, channels=8)


def one_hot_weights(space: SearchSpace, depth: int, cells, kernel: int) -> RelaxedWeights:
    """Relaxed weights that select exactly one architecture (``cells``: max_cells (op, w))."""
    n, e = space.max_cells, space.edges_per_cell
    d = torch.zeros(n)
    d[depth - 1] = 1
    ops = torch.zeros(n, e, len(space.ops))
    widths = torch.zeros(n, e, len(space.ops), len(space.widths))
    for i, cell in enumerate(cells):
        for j, (op, w) in enumerate(cell):
            o = space.ops.index(op)
            ops[i, j, o] = 1
            widths[i, j, o, space.widths.index(w)] = 1
    ups = torch.zeros(len(space.upsampler_kernels))
    ups[space.upsampler_kernels.index(kernel)] = 1
    path = d.flip(-1).cumsum(-1).flip(-1)
    return RelaxedWeights(depth=d, path=path, upsampler=ups, ops=ops, widths=widths)


def random_cells(space: SearchSpace, rng: np.random.Generator):
    return [[(space.ops[int(rng.integers(len(space.ops)))],
              space.widths[int(rng.integers(len(space.widths)))])
             for _ in range(space.edges_per_cell)] for _ in range(space.max_cells)]


@pytest.fixture
def default_space() -> SearchSpace:
    return DEFAULT_SPACE


@pytest.fixture
def arch_params(small_space) -> ArchParams:
    torch.manual_seed(0)
    p = ArchParams(small_space)
    with torch.no_grad():
        for t in p.parameters():
            t.normal_(0, 0.3)
    return p
