"""Relaxations: on the simplex, sparse where they should be, one-hot at r = 1, right gradients."""

import math

import pytest
import torch

from tnas_pipeline.errors import UserError
from tnas_pipeline.nas.relaxations import (
    RELAXATIONS,
    depth_to_path,
    path_to_depth,
    relax,
    sparsemax,
    sparsestmax,
    uses_radius,
)


def on_simplex(p, atol=1e-6):
    return bool((p >= -atol).all()) and torch.allclose(p.sum(-1), torch.ones_like(p.sum(-1)),
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
def test_sparsestmax_stays_on_simplex_and_outside_the_fixed_ball(seed, r):
    z = torch.randn(3, 5, generator=torch.Generator().manual_seed(seed)) * 0.3
    p = sparsestmax(z, r)
    assert on_simplex(p)
    # SSN's ball is centred on the simplex's centre, whatever face the point is on.
    dist = (p - 1 / 5).norm(dim=-1)
    assert (dist >= r * math.sqrt(1 - 1 / 5) - 1e-5).all()


def test_sparsestmax_is_ssn_not_a_recentred_ball():
    """The issue's example: sparsemax of (0.6, 0.6, 0, 0) is (0.5, 0.5, 0, 0), 0.5 from the
    centre, outside the ball of radius 0.3·√(3/4); SSN leaves it, without breaking the tie."""
    z = torch.tensor([0.6, 0.6, 0.0, 0.0])
    assert torch.allclose(sparsestmax(z, 0.3), torch.tensor([0.5, 0.5, 0.0, 0.0]))
    assert torch.allclose(sparsestmax(z, 0.57), torch.tensor([0.5, 0.5, 0.0, 0.0]))
    assert (sparsestmax(z, 0.9)[:2] > 0).all()  # pushed along the edge, both still in


@pytest.mark.parametrize("r", [0.3, 0.5, 0.9, 1.0])
def test_sparsestmax_of_nearly_tied_float32_logits(r):
    """Logits a search leaves nearly tied (here from a real run) once gave NaN in float32."""
    z = torch.tensor([-6.731461035e-4, -6.731443573e-4, -6.731436588e-4, 6.731472677e-4])
    p = sparsestmax(z, r)
    assert on_simplex(p) and int(p.argmax()) == 3
    rng = torch.Generator().manual_seed(0)
    for _ in range(300):
        z = torch.randn(6, generator=rng) * 10 ** -float(torch.randint(1, 8, (1,), generator=rng))
        assert on_simplex(sparsestmax(z, r))


def _simplex_grid(k: int, steps: int) -> torch.Tensor:
    """Every point of the simplex with coordinates in multiples of 1/steps."""
    import itertools

    pts = [c for c in itertools.product(range(steps + 1), repeat=k - 1) if sum(c) <= steps]
    g = torch.tensor(pts, dtype=torch.float64) / steps
    return torch.cat([g, 1 - g.sum(-1, keepdim=True)], dim=-1)


@pytest.mark.parametrize("k,steps", [(2, 4000), (3, 400), (4, 90)])
def test_sparsestmax_matches_a_brute_force_projection(k, steps):
    """The nearest point of the simplex outside the ball, found by searching a fine grid of the
    simplex (plus its vertices), is no nearer than ours, and ours is feasible."""
    grid = _simplex_grid(k, steps)
    rng = torch.Generator().manual_seed(k)
    spacing = math.sqrt(2) / steps  # the grid's points are this close to any simplex point
    for trial in range(40):
        z = torch.randn(k, generator=rng, dtype=torch.float64) * (0.1 + 0.2 * (trial % 4))
        r = float(torch.rand(1, generator=rng))
        r2 = r * r * (1 - 1 / k)
        p = sparsestmax(z, r)
        assert on_simplex(p) and float(((p - 1 / k) ** 2).sum()) >= r2 - 1e-9
        ours = float(((p - z) ** 2).sum())
        ok = ((grid - 1 / k) ** 2).sum(-1) >= r2
        brute = float(((grid[ok] - z) ** 2).sum(-1).min())
        assert ours <= brute + 1e-9, (z, r, p)
        # and the grid comes as close as its spacing allows
        assert brute <= ours + 2 * spacing * (math.sqrt(ours) + 1) + spacing**2


def test_sparsestmax_gradients_match_finite_differences():
    rng = torch.Generator().manual_seed(0)
    checked = 0
    for _ in range(30):
        z = (torch.randn(4, generator=rng, dtype=torch.float64) * 0.3).requires_grad_()
        r = 0.2 + 0.7 * float(torch.rand(1, generator=rng))
        p = sparsestmax(z, r)
        if (p.detach() > 0).sum() < 2:
            continue  # on a vertex the weights are locally constant
        assert torch.autograd.gradcheck(lambda x, r=r: sparsestmax(x, r), (z,), eps=1e-7, atol=1e-5)
        checked += 1
    assert checked >= 10


def test_straight_through_keeps_the_gradient_alive_on_a_vertex():
    z = torch.tensor([0.3, 0.2, 0.1, 0.0], requires_grad=True)
    cost = torch.tensor([1.0, 2.0, 3.0, 4.0])
    exact = relax("sparsestmax", z, 1.0)
    assert torch.equal(exact.detach(), torch.tensor([1.0, 0, 0, 0]))
    (exact * cost).sum().backward()
    assert z.grad.abs().sum() == 0  # the exact Jacobian is dead on a vertex
    z.grad = None
    live = relax("sparsestmax", z, 1.0, straight=True)
    assert torch.equal(live.detach(), exact.detach())  # same forward value
    (live * cost).sum().backward()
    # The surrogate is sparsemax: gradient (T_j − mean T) on its support.
    sm = sparsemax(z.detach())
    s = (sm > 0).float()
    assert torch.allclose(z.grad, s * (cost - (cost * s).sum() / s.sum()))
    assert z.grad[0] < 0 < z.grad[2]  # the cheaper choice's logit would rise


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


def test_path_and_depth_round_trip():
    p = sparsestmax(torch.tensor([0.1, 0.5, 0.2, 0.4, -0.3, 0.0]), 0.3)
    assert torch.allclose(path_to_depth(depth_to_path(p)), p)


def test_registry():
    assert {"softmax", "sparsemax", "sparsestmax"} <= set(RELAXATIONS)
    assert uses_radius("sparsestmax") and not uses_radius("softmax")
    p = RELAXATIONS.get("softmax")(torch.zeros(3), 1.0)
    assert torch.allclose(p, torch.full((3,), 1 / 3))
    with pytest.raises(UserError, match="known: "):
        RELAXATIONS.get("gumbel")
