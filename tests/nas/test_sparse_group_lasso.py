"""Sparse group lasso: the proximal operator is the exact minimiser, and the accelerated
proximal gradient converges to the regularised optimum with exact zeros (Sparse Supernet)."""

from __future__ import annotations

import pytest
import torch

from tnas_pipeline.nas.sparse_group_lasso import (
    AcceleratedProximalSGL,
    SGLWeights,
    kept_branches,
    prox_sgl,
    sgl_penalty,
)

LAM = SGLWeights(l1=0.05, edge=0.08, cell=0.05)


def prox_objective(x, alpha, step, lam, l1_extra=None, edge_extra=None):
    return 0.5 * (x - alpha).pow(2).sum() + step * sgl_penalty(x, lam, l1_extra, edge_extra)


@pytest.mark.parametrize("seed", range(5))
def test_prox_is_the_minimiser(seed):
    """The objective is convex, so no point near the prox may do better than the prox."""
    g = torch.Generator().manual_seed(seed)
    alpha = torch.randn(3, 2, 4, generator=g, dtype=torch.float64) * 0.4
    x = prox_sgl(alpha, 1.0, LAM)
    best = prox_objective(x, alpha, 1.0, LAM)
    for scale in (1e-1, 1e-2, 1e-4):
        for _ in range(200):
            other = x + scale * torch.randn(x.shape, generator=g, dtype=torch.float64)
            assert prox_objective(other, alpha, 1.0, LAM) >= best - 1e-12
    # Zeros are exact: some leaves, edges or cells are dropped whole at these strengths.
    assert (x == 0).any() and (x != 0).any()


@pytest.mark.parametrize("seed", range(3))
def test_prox_with_the_weighted_leaf_and_edge_terms_is_the_minimiser(seed):
    """The latency charges (a weighted ℓ1 on the leaves, a weighted norm on each edge) are terms
    of the same tree: the composed operator is still the exact minimiser, nonnegative too."""
    g = torch.Generator().manual_seed(seed)
    alpha = torch.randn(3, 2, 3, generator=g, dtype=torch.float64) * 0.4
    l1_extra = torch.tensor([0.06, 0.0, 0.0], dtype=torch.float64)
    edge_extra = torch.rand(3, 2, generator=g, dtype=torch.float64) * 0.2
    for nonneg in (False, True):
        x = prox_sgl(alpha, 1.0, LAM, nonneg, l1_extra, edge_extra)
        best = prox_objective(x, alpha, 1.0, LAM, l1_extra, edge_extra)
        for scale in (1e-1, 1e-2, 1e-4):
            for _ in range(200):
                other = x + scale * torch.randn(x.shape, generator=g, dtype=torch.float64)
                if nonneg:
                    other = other.clamp_min(0.0)
                assert prox_objective(other, alpha, 1.0, LAM, l1_extra, edge_extra) >= best - 1e-12
    # A number charges every edge alike.
    per_edge = torch.full((3, 2), 0.1, dtype=torch.float64)
    assert torch.allclose(prox_sgl(alpha, 1.0, LAM, edge_extra=0.1),
                          prox_sgl(alpha, 1.0, LAM, edge_extra=per_edge), rtol=0, atol=1e-15)


def test_each_level_alone_has_its_closed_form():
    alpha = torch.tensor([[[0.5, -0.02, 0.0, 0.3], [0.01, 0.02, -0.01, 0.0]]])
    soft = prox_sgl(alpha, 1.0, SGLWeights(l1=0.05))
    assert torch.allclose(soft, torch.sign(alpha) * (alpha.abs() - 0.05).clamp_min(0))
    edge = prox_sgl(alpha, 1.0, SGLWeights(edge=0.05))  # threshold 0.05·√4 = 0.1
    assert torch.equal(edge[0, 1], torch.zeros(4))  # ‖(0.01, 0.02, -0.01, 0)‖ < 0.1: dropped
    n = alpha[0, 0].norm()
    assert torch.allclose(edge[0, 0], alpha[0, 0] * (1 - 0.1 / n))
    cell = prox_sgl(alpha, 1.0, SGLWeights(cell=1.0))  # threshold √8 > ‖α‖: the cell drops
    assert torch.equal(cell, torch.zeros_like(alpha))
    nonneg = prox_sgl(alpha, 1.0, SGLWeights(l1=0.05), nonnegative=True)
    assert (nonneg >= 0).all() and nonneg[0, 0, 1] == 0 and nonneg[0, 0, 0] == pytest.approx(0.45)


def test_accelerated_proximal_gradient_reaches_the_regularised_optimum():
    """min ½‖α − t‖² + R(α): with step 1 the optimum is prox(t), reached by the iteration."""
    g = torch.Generator().manual_seed(0)
    target = torch.randn(4, 2, 4, generator=g, dtype=torch.float64) * 0.3
    target[1] *= 0.05  # a cell with little use
    target[2, 0] *= 0.05  # an edge with little use
    alpha = torch.nn.Parameter(torch.zeros_like(target))
    opt = AcceleratedProximalSGL([alpha], lr=0.3, lam=LAM, momentum=0.5)
    for _ in range(300):
        opt.zero_grad()
        (0.5 * (alpha - target).pow(2).sum()).backward()
        opt.step()
    optimum = prox_sgl(target, 1.0, LAM)
    sparse = opt.proximal_point(alpha)
    assert torch.allclose(sparse, optimum, atol=1e-8)
    kept = kept_branches(sparse)
    assert not kept[1].any() and not kept[2, 0].any()  # the unused cell and edge drop whole
    assert kept.any(dim=-1).sum() >= 2  # and edges that matter keep one or several ops
    assert (kept.sum(-1) > 1).any()  # at least one mixed path (an edge with several ops)


def test_bad_settings_are_refused():
    with pytest.raises(ValueError):
        SGLWeights(l1=-1.0)
    with pytest.raises(ValueError):
        AcceleratedProximalSGL([torch.nn.Parameter(torch.zeros(1, 1, 2))], lr=0.0, lam=LAM)
    with pytest.raises(ValueError):
        prox_sgl(torch.zeros(2, 3), 1.0, LAM)


def test_weighted_l1_cuts_the_costly_branch_first_and_the_state_reloads_safely(tmp_path):
    """Two branches the loss values equally: the one with the larger cost threshold goes to
    zero, the other stays; the optimiser's state round-trips through weights_only loading."""
    target = torch.full((1, 1, 2), 0.3, dtype=torch.float64)
    alpha = torch.nn.Parameter(torch.full_like(target, 0.3))
    opt = AcceleratedProximalSGL([alpha], lr=0.5, lam=SGLWeights(), momentum=0.5,
                                 nonnegative=True)
    opt.param_groups[0]["l1_extra"] = torch.tensor([0.8, 0.1], dtype=torch.float64)
    for _ in range(100):
        opt.zero_grad()
        (0.5 * (alpha - target).pow(2).sum()).backward()
        opt.step()
    sparse = opt.proximal_point(alpha)
    assert sparse[0, 0, 0] == 0 and sparse[0, 0, 1] == pytest.approx(0.2)
    torch.save(opt.state_dict(), tmp_path / "opt.pt")
    again = AcceleratedProximalSGL([torch.nn.Parameter(alpha.detach().clone())], lr=0.5,
                                   lam=SGLWeights())
    again.load_state_dict(torch.load(tmp_path / "opt.pt", weights_only=True))
    assert torch.equal(again.param_groups[0]["l1_extra"], opt.param_groups[0]["l1_extra"])


def test_the_edge_charge_drops_an_edge_whole_and_old_state_still_steps(tmp_path):
    """An edge charged more than its group norm is worth drops whole; the other edge keeps its
    branches. A saved state from before the edge charge (no ``edge_extra``) still steps."""
    target = torch.tensor([[[0.3, 0.2, 0.0], [0.3, 0.2, 0.0]]], dtype=torch.float64)
    alpha = torch.nn.Parameter(target.clone())
    opt = AcceleratedProximalSGL([alpha], lr=0.5, lam=SGLWeights(), momentum=0.5,
                                 nonnegative=True)
    opt.param_groups[0]["edge_extra"] = torch.tensor([[0.5, 0.1]], dtype=torch.float64)
    for _ in range(200):
        opt.zero_grad()
        (0.5 * (alpha - target).pow(2).sum()).backward()
        opt.step()
    sparse = opt.proximal_point(alpha)
    assert torch.equal(sparse[0, 0], torch.zeros(3, dtype=torch.float64))
    assert (sparse[0, 1, :2] > 0).all()
    old = opt.state_dict()
    del old["param_groups"][0]["edge_extra"]
    again = AcceleratedProximalSGL([torch.nn.Parameter(target.clone())], lr=0.5,
                                   lam=SGLWeights())
    again.load_state_dict(old)
    again.step()
