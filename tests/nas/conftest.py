"""A small search space and helpers for one-hot architecture weights."""

import numpy as np
import pytest
import torch

from tnas_pipeline.nas.supernet import ArchParams, one_hot_weights  # noqa: F401 (tests import it)
from tnas_pipeline.search_space import DEFAULT_SPACE, SearchSpace


@pytest.fixture
def small_space() -> SearchSpace:
    return SearchSpace(widths=(4, 8, 12), max_cells=3, channels=8)


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
