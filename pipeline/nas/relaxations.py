"""Continuous relaxations of a discrete choice, by name (``--relaxation``).

Each maps architecture logits ``z`` (last dimension = the ``K`` choices) and a radius ``r`` in
[0, 1] to weights on the probability simplex:

* ``softmax``: DARTS (Liu et al., ICLR 2019); dense, ignores ``r``. The ablation baseline.
* ``sparsemax``: the Euclidean projection of ``z`` onto the simplex (Martins & Astudillo,
  ICML 2016); exact zeros, ignores ``r``.
* ``sparsestmax``: SSN's definition (Shao et al., "SSN: Learning Sparse Switchable Normalization
  via SparsestMax", CVPR 2019; used at all three levels by Trilevel NAS, Wu et al.,
  arXiv 2101.06658): the Euclidean projection of ``z`` onto the simplex *less the open ball* of
  radius ``r·R`` around the simplex centre ``u = 1/K``, with ``R = √(1 − 1/K)`` the distance from
  ``u`` to a vertex. The ball is fixed: ``r = 0`` is sparsemax, and ``r = 1`` leaves only the
  vertices, so the weights are one-hot. When sparsemax already lies outside the ball it is the
  answer (for ``z = (0.6, 0.6, 0, 0)`` at ``r = 0.3`` the weights stay ``(0.5, 0.5, 0, 0)``).

The network level's depth is sorted path weights of a continuous depth
(:class:`tnas_pipeline.nas.supernet.ArchParams`), with sparsestmax on its one partial cell.
:func:`path_to_depth` turns path weights into the distribution over depths.

The projection out of the ball is not convex, so :func:`sparsestmax` solves it exactly by its
optimality conditions instead of SSN's staged approximation: the optimum lies in the relative
interior of some face ``S`` of the simplex, where it is either the projection ``q_S`` of ``z`` onto
the face's plane (when that is outside the ball) or the point of the sphere nearest ``q_S``. On the
plane of ``S`` the sphere is a sphere around the face's centre ``c_S`` of radius
``√((rR)² − |c_S − u|²)``, because ``p − c_S ⟂ c_S − u`` there. Every face's two candidates are
computed at once (``2^K − 1`` faces; ``K ≤ 8`` here) and the feasible one nearest ``z`` wins, ties
to the lower face index, so the largest logit wins a tie. The tests compare it with a brute-force
search of the simplex.

Gradients: the exact Jacobian is zero wherever the weights sit on a vertex, which by the end of a
search is most rows, while the budget's multiplier keeps integrating. :func:`straight_through`
keeps the forward value and backpropagates through sparsemax (``diag(s) − s sᵀ/|S|`` on its
support ``S``), so the expected latency and the task loss keep moving the logits to the end (the
straight-through estimator, Bengio et al. 2013, as used for one-hot NAS by ProxylessNAS).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import torch

from tnas_pipeline.registry import Registry


def sparsemax(z: torch.Tensor) -> torch.Tensor:
    """Euclidean projection of each row of ``z`` onto the probability simplex."""
    zs, _ = torch.sort(z, dim=-1, descending=True)
    k = torch.arange(1, z.shape[-1] + 1, device=z.device, dtype=z.dtype)
    cumsum = zs.cumsum(-1)
    in_support = (1 + k * zs) > cumsum
    support = in_support.sum(-1, keepdim=True)
    tau = (cumsum.gather(-1, support - 1) - 1) / support.to(z.dtype)
    return torch.clamp(z - tau, min=0.0)


_ZERO = 1e-6  # weights below this are rounding residue of a vertex or a face: exact zeros
_FEASIBLE = 1e-9  # slack of the feasibility tests (double rounding)


@functools.lru_cache(maxsize=16)
def _faces(k: int) -> torch.Tensor:
    """``[2^k − 1, k]``: row ``i`` is the indicator of the face whose bitmask is ``i + 1``."""
    bits = torch.arange(1, 2**k).unsqueeze(-1)
    return ((bits >> torch.arange(k)) & 1).double()


def _project_out_of_ball(z: torch.Tensor, r2: float) -> torch.Tensor:
    """Rows ``z`` ``[N, K]`` projected onto the simplex less the open ball of squared radius
    ``r2`` around its centre (module docstring: a candidate pair per face, the nearest wins)."""
    # In double precision: the faces' directions are differences of nearly equal numbers.
    dtype, z = z.dtype, z.double()
    n, k = z.shape
    faces = _faces(k).to(device=z.device)                           # [F, K]
    size = faces.sum(-1)                                            # [F]
    centre = faces / size.unsqueeze(-1)                             # [F, K]
    centre_off = 1.0 / size - 1.0 / k                               # |c_S − u|²
    zz = z.unsqueeze(1)                                             # [N, 1, K]
    tau = ((zz * faces).sum(-1) - 1.0) / size                       # [N, F]
    q = (zz - tau.unsqueeze(-1)) * faces                            # projection onto the plane
    d = q - centre
    d2 = (d * d).sum(-1)                                            # [N, F]
    interior_ok = (q >= -_FEASIBLE).all(-1) & (d2 + centre_off >= r2 - _FEASIBLE)
    # At the face's centre there is no nearest sphere point: lean towards the largest logit
    # (the first on ties), so that the result is deterministic.
    degenerate = d2 < 1e-20  # (q = c up to double rounding)
    lean = torch.where(faces.bool(), zz, torch.full_like(q, -torch.inf)).argmax(-1)
    lean = torch.nn.functional.one_hot(lean, k).to(z.dtype) - centre
    d = torch.where(degenerate.unsqueeze(-1), lean, d)
    norm = (d * d).sum(-1).clamp_min(1e-30).sqrt()                 # clamped: no 0·∞ gradients
    rho2 = r2 - centre_off
    rho = rho2.clamp_min(0.0).sqrt()
    sphere = centre + (rho / norm).unsqueeze(-1) * d
    sphere_ok = (rho2 > 0) & (sphere >= -_FEASIBLE).all(-1) & (norm > 1e-12)
    cands = torch.cat([q, sphere], dim=1)                           # [N, 2F, K]
    ok = torch.cat([interior_ok, sphere_ok], dim=1)
    dist = ((cands - zz) ** 2).sum(-1)
    dist = torch.where(ok, dist, torch.full_like(dist, torch.inf))
    best = dist.detach().argmin(-1)  # the first of equal distances: the lower face
    return cands[torch.arange(n, device=z.device), best].to(dtype)


def sparsestmax(z: torch.Tensor, r: float) -> torch.Tensor:
    """Sparsestmax of every row of ``z`` at radius ``r`` ∈ [0, 1] (module docstring)."""
    if not 0.0 <= r <= 1.0:
        raise ValueError(f"sparsestmax radius must be in [0, 1], got {r}")
    k = z.shape[-1]
    p = sparsemax(z)
    if r <= 0.0 or k == 1:
        return p
    r2 = r * r * (1.0 - 1.0 / k)
    flat, pf = z.reshape(-1, k), p.reshape(-1, k)
    inside = ((pf - 1.0 / k) ** 2).sum(-1) < r2
    if not bool(inside.any()):
        return p
    rows = torch.nonzero(inside).flatten()
    pushed = _project_out_of_ball(flat[rows], r2)
    pushed = torch.where(pushed > _ZERO, pushed, torch.zeros_like(pushed))
    pushed = pushed / pushed.sum(-1, keepdim=True)
    return pf.index_put((rows,), pushed).reshape(z.shape)


def straight_through(forward: torch.Tensor, surrogate: torch.Tensor) -> torch.Tensor:
    """``forward``'s value with ``surrogate``'s gradient (the straight-through estimator)."""
    return forward.detach() + surrogate - surrogate.detach()


def path_to_depth(g: torch.Tensor) -> torch.Tensor:
    """Path weights (non-increasing, ``g_0 = 1``) → the distribution over depths."""
    nxt = torch.cat([g[..., 1:], torch.zeros_like(g[..., :1])], dim=-1)
    return g - nxt


def depth_to_path(p: torch.Tensor) -> torch.Tensor:
    """Distribution over depths → path weights ``g_n = Σ_{d ≥ n} p_d``."""
    return p.flip(-1).cumsum(-1).flip(-1)


@dataclass(frozen=True)
class Relaxation:
    """A relaxation: its weights at a radius, and the surrogate its straight-through gradient
    passes through (None: exact gradients, and the radius is ignored)."""

    weights: Callable[[torch.Tensor, float], torch.Tensor]
    surrogate: Callable[[torch.Tensor], torch.Tensor] | None = None

    @property
    def pushes(self) -> bool:
        """Whether the weights are pushed towards one-hot as the radius grows."""
        return self.surrogate is not None

    def __call__(self, z: torch.Tensor, r: float, straight: bool = False) -> torch.Tensor:
        p = self.weights(z, r)
        if straight and self.surrogate is not None:
            p = straight_through(p, self.surrogate(z))
        return p


RELAXATIONS: Registry[Relaxation] = Registry("relaxation")
RELAXATIONS.add("softmax", Relaxation(lambda z, r: torch.softmax(z, dim=-1)))
RELAXATIONS.add("sparsemax", Relaxation(lambda z, r: sparsemax(z)))
# The exact Jacobian dies on a vertex (module docstring): backpropagate through sparsemax.
RELAXATIONS.add("sparsestmax", Relaxation(sparsestmax, surrogate=sparsemax))


def uses_radius(name: str) -> bool:
    """Whether relaxation ``name`` pushes towards one-hot as the radius grows."""
    return RELAXATIONS.get(name).pushes


def relax(name: str, z: torch.Tensor, r: float, straight: bool = False) -> torch.Tensor:
    """Relaxation ``name`` of ``z`` at radius ``r``; with ``straight``, its gradient is the
    surrogate's where it has one (:func:`straight_through`)."""
    return RELAXATIONS.get(name)(z, r, straight)
