"""Relaxations: on the simplex, sparse where they should be, one-hot at r = 1, right gradients."""

import math

import pytest
import torch

from pipeline.errors import UserError
from pipeline.search.relaxations import (
    RELAXATIONS,
    depth_to_path,
    network_level,
    path_to_depth,
    sparsemax,
    sparsestmax,
)


def on_simplex(p, atol=1e-6):
    return bool((p >= -atol).all()) and torch.allclose(p.sum(-1), torch.ones(p.shape[:-1]),
                                                       atol=atol)


def test_sparsemax_known_values_and_projection():
    z = torch.tensor([1.0, 0.5, -2.0])
    # Support {0, 1}: tau = (1 + 0.5 - 1) / 2 = 0.25.
    assert torch.allclose(sparsemax(z), torch.tensor([0.75, 0.25, 0.0]))
    # Already on the simplex: unchanged. Uniform logits: uniform.
    p = torch.tensor([0.2, 0.3, 0.5])
    assert torch.allclose(sparsemax(p), p)
    assert torch.allclose(sparsemax(torch.zeros(4)), torch.full((4,), 0.25))


def test_sparsemax_jacobian_matches_closed_form():
    z = torch.tensor([0.9, 0.6, 0.1, -1.0], requires_grad=True)
    p = sparsemax(z)
    s = (p > 0).double()
    expected = torch.diag(s) - torch.outer(s, s) / s.sum()
    jac = torch.autograd.functional.jacobian(sparsemax, z.detach().double())
    assert torch.allclose(jac, expected, atol=1e-9)


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("r", [0.0, 0.3, 0.7, 0.99])
def test_sparsestmax_stays_on_simplex_and_outside_the_ball(seed, r):
    z = torch.randn(3, 5, generator=torch.Generator().manual_seed(seed)) * 0.3
    p = sparsestmax(z, r)
    assert on_simplex(p)
    for row in p:
        support = row > 1e-9
        m = int(support.sum())
        if m > 1:  # the point is at least r·R from its face's centre
            centre = support.float() / m
            assert float((row - centre).norm()) >= r * math.sqrt(1 - 1 / m) - 1e-5


def test_sparsestmax_limits():
    z = torch.randn(8, 4, generator=torch.Generator().manual_seed(1)) * 0.1
    assert torch.allclose(sparsestmax(z, 0.0), sparsemax(z))
    one_hot = sparsestmax(z, 1.0)
    assert torch.allclose(one_hot.max(-1).values, torch.ones(8))
    assert ((one_hot > 0).sum(-1) == 1).all()
    # The vertex it lands on is the largest logit's for these small, distinct logits.
    assert torch.equal(one_hot.argmax(-1), z.argmax(-1))
    # Even exactly at the centre it is deterministic.
    assert torch.equal(sparsestmax(torch.zeros(4), 1.0), torch.tensor([1.0, 0, 0, 0]))
    with pytest.raises(ValueError):
        sparsestmax(z, 1.5)


def test_sparsestmax_becomes_sparser_as_r_grows():
    z = torch.randn(20, 6, generator=torch.Generator().manual_seed(3)) * 0.2
    counts = [int((sparsestmax(z, r) > 0).sum()) for r in (0.0, 0.5, 0.9, 1.0)]
    assert counts == sorted(counts, reverse=True) and counts[-1] == 20 and counts[0] > 20


def test_sparsestmax_gradients_reach_only_the_support():
    z = torch.tensor([1.0, 0.8, 0.7, -3.0], requires_grad=True)
    p = sparsestmax(z, 0.5)
    assert p[3] == 0 and (p[:3] > 0).all()
    (p * torch.tensor([1.0, 2.0, 3.0, 4.0])).sum().backward()
    assert z.grad[3] == 0                      # outside the support: no gradient
    assert z.grad[:3].abs().sum() > 0          # inside: the loss moves the weights
    assert abs(float(z.grad.sum())) < 1e-6     # the sum stays 1, so gradients sum to zero


def test_sorted_sparsestmax_path_weights():
    f = RELAXATIONS.get("sorted-sparsestmax")
    z = torch.tensor([0.1, 0.5, 0.2, 0.4, -0.3, 0.0])
    for r in (0.0, 0.5, 1.0):
        g = f(z, r)
        assert abs(float(g[0]) - 1.0) < 1e-6
        assert (g[1:] <= g[:-1] + 1e-6).all()  # sorted: a deeper cell never weighs more
        assert on_simplex(path_to_depth(g))
    step = f(z, 1.0)
    assert torch.allclose(step, torch.tensor([1.0, 1.0, 0, 0, 0, 0]))  # depth 2 = argmax
    p = sparsestmax(z, 0.3)
    assert torch.allclose(path_to_depth(depth_to_path(p)), p)


def test_registry():
    assert {"softmax", "sparsemax", "sparsestmax", "sorted-sparsestmax"} <= set(RELAXATIONS)
    assert network_level("sparsestmax") == "sorted-sparsestmax"
    assert network_level("softmax") == "softmax"
    p = RELAXATIONS.get("softmax")(torch.zeros(3), 1.0)
    assert torch.allclose(p, torch.full((3,), 1 / 3))
    with pytest.raises(UserError, match="known: "):
        RELAXATIONS.get("gumbel")
