"""Expected latency: equals the LUT's prediction at one-hot weights, differentiable everywhere."""

import numpy as np
import pytest
import torch

from tests.nas.conftest import one_hot_weights, random_cells
from tnas_pipeline.latency.resolve import resolve_profile
from tnas_pipeline.nas.derive import Choice
from tnas_pipeline.nas.latency_term import (
    BudgetPenalty,
    latency_costs,
    mult_add_costs,
    param_costs,
)
from tnas_pipeline.nas.supernet import ArchParams
from tnas_pipeline.networks.complexity import count_complexity


@pytest.fixture(scope="module")
def lut():
    return resolve_profile("cpu")


@pytest.mark.parametrize("seed", range(5))
def test_one_hot_expectation_is_the_linear_calibration_of_the_lut_sum(lut, seed):
    """The differentiable term is the table's entries under the model reduced to a line
    (a·ΣLUT + b); the fit then uses the whole model, which the line follows closely."""
    space = lut.space
    rng = np.random.default_rng(seed)
    cells = random_cells(space, rng)
    depth = int(rng.integers(1, space.max_cells + 1))
    k = space.upsampler_kernels[int(rng.integers(2))]
    arch = Choice(depth, tuple(tuple(c) for c in cells), k).architecture(space)
    costs = latency_costs(lut, space)
    w = one_hot_weights(space, depth, cells, k)
    a, b = lut.linear_calibration()
    line = a * lut.raw_ms(arch) + b
    assert float(costs.expected(w)) == pytest.approx(line, rel=1e-5)
    assert costs.discrete([list(c) for c in cells[:depth]], k, space) == pytest.approx(
        line, rel=1e-9)
    assert line == pytest.approx(lut.predict_ms(arch), rel=0.1)
    # Parameters and Mult-Adds have the same form and agree with the network's own count.
    params = param_costs(space).discrete([list(c) for c in cells[:depth]], k, space)
    madds = mult_add_costs(space, (1280, 720)).discrete([list(c) for c in cells[:depth]], k, space)
    c = count_complexity(__import__("tnas_pipeline.networks", fromlist=["build_network"])
                         .build_network(arch), 2, (1280, 720))
    assert params == c.params
    assert madds == pytest.approx(c.mult_adds, rel=0.02)  # biases are not Mult-Adds


def test_expected_latency_is_differentiable_at_all_levels(lut):
    space = lut.space
    params = ArchParams(space)
    costs = latency_costs(lut, space)
    for name in ("sparsestmax", "softmax"):
        params.zero_grad()
        costs.expected(params.relaxed(name, 0.0)).backward()
        for level in ("depth", "upsampler", "ops", "widths"):
            assert getattr(params, level).grad.abs().sum() > 0, (name, level)
    # Wider is slower: the gradient raises the cost of the widest width's logit.
    assert float(params.widths.grad[0, 0, 0, -1]) > float(params.widths.grad[0, 0, 0, 0])


def test_hinge_penalty_is_a_ceiling_and_lambda_adapts():
    p = BudgetPenalty(100.0, "hinge", lam=0.5, step=0.1)
    assert float(p(torch.tensor(80.0))) == 0.0
    assert float(p(torch.tensor(150.0))) == pytest.approx(0.25)
    p.update(150.0)
    assert p.lam == pytest.approx(0.55)
    for _ in range(20):
        p.update(50.0)
    assert p.lam == 0.0  # never negative for a ceiling


def test_lagrangian_pulls_from_both_sides():
    p = BudgetPenalty(100.0, "lagrangian", lam=0.0, step=0.1)
    for _ in range(5):
        p.update(50.0)
    assert p.lam < 0  # long under budget: spending latency now lowers the loss
    e = torch.tensor(50.0, requires_grad=True)
    p(e).backward()
    assert float(e.grad) < 0
    with pytest.raises(ValueError):
        BudgetPenalty(100.0, "quadratic")
