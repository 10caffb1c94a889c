"""Continuous relaxations of a discrete choice, by name (``--relaxation``).

Each maps architecture logits ``z`` (last dimension = the choices) and a radius ``r`` in [0, 1]
to weights on the probability simplex:

* ``softmax``: DARTS (Liu et al., ICLR 2019); dense, ignores ``r``. The ablation baseline.
* ``sparsemax``: the Euclidean projection of ``z`` onto the simplex (Martins & Astudillo,
  ICML 2016); exact zeros, ignores ``r``.
* ``sparsestmax``: sparsemax, then a projection *out of* a ball of radius ``r·R`` around the
  centre of the active face (Shao et al., ICML 2019 "SSN"; used at all three levels by Trilevel
  NAS, Wu et al., arXiv 2101.06658). ``R`` is the distance from that centre to a vertex, so
  ``r = 0`` is sparsemax and ``r = 1`` leaves only vertices: the weights are one-hot.
* ``sorted-sparsestmax``: for the network level, where choice ``d`` means "use ``d + 1`` cells".
  It returns the *path weights* of the cells, ``g_n = Σ_{d ≥ n} p_d`` for ``p = sparsestmax(z)``:
  sorted (non-increasing) by construction, ``g_0 = 1``, a step 1…1 0…0 at ``r = 1``. A deeper cell
  never weighs more than a shallower one, and a depth's logit pays for every cell it keeps, which
  is how we read the paper's "sorting for network-level compression". :func:`path_to_depth`
  turns path weights back into the depth distribution.

All are differentiable by autograd: sparsemax's Jacobian is ``diag(s) − s sᵀ/|S|`` on its support
``S``; after the ball projection, gradients reach only the coordinates still in the support.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from pipeline.registry import Registry

Relaxation = Callable[[torch.Tensor, float], torch.Tensor]
RELAXATIONS: Registry[Relaxation] = Registry("relaxation")


def sparsemax(z: torch.Tensor) -> torch.Tensor:
    """Euclidean projection of each row of ``z`` onto the probability simplex."""
    zs, _ = torch.sort(z, dim=-1, descending=True)
    k = torch.arange(1, z.shape[-1] + 1, device=z.device, dtype=z.dtype)
    cumsum = zs.cumsum(-1)
    in_support = (1 + k * zs) > cumsum
    support = in_support.sum(-1, keepdim=True)
    tau = (cumsum.gather(-1, support - 1) - 1) / support.to(z.dtype)
    return torch.clamp(z - tau, min=0.0)


_ZERO = 1e-6  # weights below this after the sphere step are rounding residue of a vertex


def _sparsestmax_row(z: torch.Tensor, r: float) -> torch.Tensor:
    """One row, with the rounding residue of the sphere step set to exact zeros (so that a
    vertex is exactly one-hot and zero-weight choices are skipped by the supernet)."""
    p = _push_out_of_ball(z, r)
    if r <= 0.0:
        return p
    kept = torch.where(p > _ZERO, p, torch.zeros_like(p))
    return kept / kept.sum()


def _push_out_of_ball(z: torch.Tensor, r: float) -> torch.Tensor:
    """One row: sparsemax, then push out of the ball around the active face's centre until the
    point lies on the sphere inside the simplex (shrinking the face when the push leaves it)."""
    p = sparsemax(z)
    if r <= 0.0:
        return p
    for _ in range(z.shape[-1]):
        support = p > 0
        m = int(support.sum())
        if m <= 1:
            return p
        centre = support.to(p.dtype) / m
        radius = r * math.sqrt(1.0 - 1.0 / m)
        offset = p - centre
        dist = float(offset.detach().norm())
        if dist >= radius - 1e-9:
            return p
        if dist < 1e-12:
            # At the centre there is no direction; lean towards the largest logit (the first on
            # ties) so that the result is deterministic.
            direction = torch.zeros_like(p)
            idx = int(torch.argmax(torch.where(support, z.detach(), -torch.inf)))
            direction[idx] = 1.0
            direction = direction - centre
            offset = direction * 1e-6 + offset
            dist = float(offset.detach().norm())
        pushed = centre + offset * (radius / offset.norm())
        if bool((pushed >= 0).all()):
            return pushed
        # The sphere point left the face: project back onto the simplex, which drops at least
        # one coordinate, and repeat on the smaller face.
        p = sparsemax(pushed)
    return p


def sparsestmax(z: torch.Tensor, r: float) -> torch.Tensor:
    """Sparsestmax of every row of ``z`` at radius ``r`` ∈ [0, 1] (module docstring)."""
    if not 0.0 <= r <= 1.0:
        raise ValueError(f"sparsestmax radius must be in [0, 1], got {r}")
    flat = z.reshape(-1, z.shape[-1])
    rows = [_sparsestmax_row(row, r) for row in flat]
    return torch.stack(rows).reshape(z.shape)


def path_to_depth(g: torch.Tensor) -> torch.Tensor:
    """Path weights (non-increasing, ``g_0 = 1``) → the distribution over depths."""
    nxt = torch.cat([g[..., 1:], torch.zeros_like(g[..., :1])], dim=-1)
    return g - nxt


def depth_to_path(p: torch.Tensor) -> torch.Tensor:
    """Distribution over depths → path weights ``g_n = Σ_{d ≥ n} p_d``."""
    return p.flip(-1).cumsum(-1).flip(-1)


RELAXATIONS.add("softmax", lambda z, r: torch.softmax(z, dim=-1))
RELAXATIONS.add("sparsemax", lambda z, r: sparsemax(z))
RELAXATIONS.add("sparsestmax", sparsestmax)
RELAXATIONS.add("sorted-sparsestmax", lambda z, r: depth_to_path(sparsestmax(z, r)))

# The relaxation a search uses at the network level, given the one named by --relaxation.
NETWORK_LEVEL = {"sparsestmax": "sorted-sparsestmax"}


def network_level(name: str) -> str:
    """The network-level relaxation paired with ``name`` (sorted for sparsestmax)."""
    RELAXATIONS.get(name)
    return NETWORK_LEVEL.get(name, name)


def is_path_weights(name: str) -> bool:
    """Whether relaxation ``name`` returns path weights (sorted) rather than a distribution."""
    return name.startswith("sorted-")
