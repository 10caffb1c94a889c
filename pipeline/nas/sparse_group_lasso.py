"""Sparse group lasso on mixed-path architecture weights, and its accelerated proximal step.

Sparse Supernet (Wu et al., AAAI 2021) drops the simplex of DARTS: an edge's output is
``Σ_o α_o · op_o(x)`` with free weights ``α`` and a sparse-group-lasso regulariser, so an edge
can keep zero, one or several ops (a *mixed path*). The groups form a tree:

* leaves: every single weight (the ℓ1 term, ``λ_1 Σ |α|``);
* the ops of one edge (``λ_edge Σ_edges √|g| ‖α_g‖₂``): an edge that is not needed drops whole;
* the edges of one cell (``λ_cell Σ_cells √|g| ‖α_g‖₂``): a cell that is not needed drops whole.

For groups nested in a tree, the proximal operator of the sum of their norms is the composition
of the groups' own proximal operators from the leaves to the root (Jenatton et al., "Proximal
methods for hierarchical sparse coding", JMLR 2011, Proposition 1). Each step is closed-form:
the element-wise soft threshold for the leaves, then a group shrinkage
``α_g ← max(0, 1 − t λ √|g| / ‖α_g‖) α_g`` for the edges and then the cells (the sparse group
lasso's operator, Simon et al., JCGS 2013).

The weights are updated by an accelerated proximal gradient method with momentum, in the
reformulation of Huang & Wang ("Data-driven sparse structure selection", ECCV 2018), which
Sparse Supernet uses for its architecture weights: the gradient is taken at the current point,
so it fits an ordinary ``loss.backward(); optimizer.step()`` loop:

    z = α − η ∇L(α)
    v ← prox_ηR(z) − α + μ v
    α ← prox_ηR(z) + μ v

Between steps the parameter ``α`` holds the momentum look-ahead ``prox_ηR(z) + μ v``, which is
not sparse until the momentum has died out; the proximal point ``prox_ηR(z)`` is, and
:meth:`AcceleratedProximalSGL.proximal_point` returns it. Anything that should see the network
the search keeps (the supernet's weight step, the read-out of what is kept) uses that point.

Besides the three strengths, a caller may weight the tree per element: ``l1_extra`` adds a
weighted ℓ1 term on the leaves and ``edge_extra`` a weighted norm on the edge groups
(``Σ_edges d_e ‖α_e‖₂``); both are terms of the same tree, so the composition stays exact. The
mixed-path search puts its latency charges there (the edge group at the folded 1×1 layer, the
3×3 leaf at the difference to the folded 3×3 layer).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class SGLWeights:
    """The regularisation strengths of the three levels of the tree."""

    l1: float = 0.0
    edge: float = 0.0
    cell: float = 0.0

    def __post_init__(self) -> None:
        if min(self.l1, self.edge, self.cell) < 0:
            raise ValueError(f"sparse group lasso strengths must be ≥ 0, got {self}")


def _group_shrink(a: torch.Tensor, threshold: float | torch.Tensor,
                  dims: tuple[int, ...]) -> torch.Tensor:
    """``max(0, 1 − threshold / ‖a_g‖) a_g`` for every group ``g`` spanning ``dims``."""
    norm = a.pow(2).sum(dim=dims, keepdim=True).sqrt()
    factor = torch.clamp(1.0 - threshold / norm.clamp_min(1e-30), min=0.0)
    return a * factor


def sgl_penalty(alpha: torch.Tensor, lam: SGLWeights, l1_extra: torch.Tensor | None = None,
                edge_extra: torch.Tensor | float | None = None) -> torch.Tensor:
    """The regulariser ``R(α)`` for weights shaped ``[cells, edges, ops]``, with the weighted
    terms of :func:`prox_sgl` (``Σ c_i |α_i|`` and ``Σ_edges d_e ‖α_e‖₂``) when given."""
    _, e, o = alpha.shape
    edge_norms = alpha.pow(2).sum(-1).sqrt()
    cell_norms = alpha.pow(2).sum((-2, -1)).sqrt()
    r = (lam.l1 * alpha.abs().sum() + lam.edge * math.sqrt(o) * edge_norms.sum()
         + lam.cell * math.sqrt(e * o) * cell_norms.sum())
    if l1_extra is not None:
        r = r + (l1_extra.to(alpha) * alpha.abs()).sum()
    if edge_extra is not None:
        r = r + (_per_edge(edge_extra, alpha) * edge_norms).sum()
    return r


def _per_edge(d: torch.Tensor | float, alpha: torch.Tensor) -> torch.Tensor | float:
    """An edge charge as a number, or as a ``[cells, edges]`` tensor of ``alpha``'s type."""
    if torch.is_tensor(d) and d.dim() > 0:
        return d.to(alpha)
    return float(d)


def prox_sgl(alpha: torch.Tensor, step: float, lam: SGLWeights, nonnegative: bool = False,
             l1_extra: torch.Tensor | None = None,
             edge_extra: torch.Tensor | float | None = None) -> torch.Tensor:
    """``argmin_x ½‖x − α‖² + step · R(x)`` for weights shaped ``[cells, edges, ops]``.

    Leaves to root (module docstring): soft threshold, then the edges' group shrinkage, then
    the cells'. With ``nonnegative`` the weights are also held at ``x ≥ 0`` (the constraint is
    a leaf-level term, so it joins the soft threshold and the composition stays exact).
    ``l1_extra`` (broadcast to ``α``) adds a weighted ℓ1 term ``Σ c_i |α_i|``, also a leaf: the
    mixed-path search puts the 3×3 leaves' latency there. ``edge_extra`` (a number, or one per
    edge ``[cells, edges]``) adds a weighted group norm ``Σ_edges d_e ‖α_e‖₂`` to the edges'
    level, without the ``√|g|`` of ``λ_edge`` (it is a charge in its own units): the mixed-path
    search charges there what an edge costs as a whole."""
    if alpha.dim() != 3:
        raise ValueError(f"expected weights shaped [cells, edges, ops], got {tuple(alpha.shape)}")
    _, e, o = alpha.shape
    t1 = step * (lam.l1 if l1_extra is None else lam.l1 + l1_extra.to(alpha))
    if nonnegative:
        x = torch.clamp(alpha - t1, min=0.0)
    else:
        x = torch.sign(alpha) * torch.clamp(alpha.abs() - t1, min=0.0)
    if edge_extra is not None:
        d = _per_edge(edge_extra, alpha)
        edge_t = step * (lam.edge * math.sqrt(o) + (d.unsqueeze(-1) if torch.is_tensor(d) else d))
        x = _group_shrink(x, edge_t, dims=(-1,))
    elif lam.edge > 0:
        x = _group_shrink(x, step * lam.edge * math.sqrt(o), dims=(-1,))
    if lam.cell > 0:
        x = _group_shrink(x, step * lam.cell * math.sqrt(e * o), dims=(-2, -1))
    return x


class AcceleratedProximalSGL(torch.optim.Optimizer):
    """Accelerated proximal gradient on ``[cells, edges, ops]`` weights (module docstring).

    ``lr`` is the step η, ``momentum`` μ. Every parameter of the group is a weight tensor of
    that shape and gets the same regulariser."""

    def __init__(self, params, lr: float, lam: SGLWeights, momentum: float = 0.9,
                 nonnegative: bool = False) -> None:
        if lr <= 0 or not 0.0 <= momentum < 1.0:
            raise ValueError(f"need lr > 0 and 0 ≤ momentum < 1, got {lr}, {momentum}")
        # Plain numbers and tensors only, so that the optimiser's state_dict loads with
        # torch.load(weights_only=True). ``l1_extra`` and ``edge_extra`` are the weighted terms
        # of prox_sgl, set by the caller between steps (the mixed-path search's latency charges).
        super().__init__(params, {"lr": lr, "momentum": momentum, "l1": lam.l1,
                                  "edge": lam.edge, "cell": lam.cell,
                                  "nonnegative": nonnegative, "l1_extra": None,
                                  "edge_extra": None})

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            lr, mu = group["lr"], group["momentum"]
            for p in group["params"]:
                grad = p.grad if p.grad is not None else torch.zeros_like(p)
                state = self.state[p]
                v = state.setdefault("velocity", torch.zeros_like(p))
                lam = SGLWeights(group["l1"], group["edge"], group["cell"])
                x = prox_sgl(p - lr * grad, lr, lam, group["nonnegative"], group["l1_extra"],
                             group.get("edge_extra"))  # absent from older checkpoints
                # The proximal point has the exact zeros; the look-ahead below does not until
                # the momentum has died out, so the kept branches are read from here.
                state["prox"] = x.clone()
                v.mul_(mu).add_(x - p)
                p.copy_(x + mu * v)
                if group["nonnegative"]:  # the look-ahead may overshoot below zero
                    p.clamp_(min=0.0)
        return loss

    def proximal_point(self, p: torch.Tensor) -> torch.Tensor:
        """The last proximal point of ``p`` (exactly sparse), or ``p`` before any step."""
        return self.state[p].get("prox", p.detach()).clone()


def kept_branches(alpha: torch.Tensor, tol: float = 0.0) -> torch.Tensor:
    """Boolean ``[cells, edges, ops]``: the branches a mixed-path network keeps (``|α| > tol``).
    Pass the optimiser's :meth:`~AcceleratedProximalSGL.proximal_point`, which is exactly sparse."""
    return alpha.detach().abs() > tol
