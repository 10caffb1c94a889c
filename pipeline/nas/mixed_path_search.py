"""Mixed-path search (``--relaxation sparse-group-lasso``): Sparse Supernet inside our search.

Sparse Supernet (Wu et al., AAAI 2021) replaces the simplex of the architecture weights by a
sparse-group-lasso constraint, so that an edge may keep zero, one or several ops. Here every edge
of every cell holds the three linear branches of :mod:`tnas_pipeline.networks.mixed_path` (3×3, 1×1,
identity, each with batch norm *without* affine parameters, so that ``α`` is a branch's only
scale and ``|α|`` measures what it contributes: a learnable ``γ`` would let ``α`` shrink while
``γ`` grows, which the ℓ1 term rewards without any change to the network) and computes
``x + act(Σ_b α_b · branch_b(x))``; ``α`` is free (held ≥ 0) and updated by the accelerated
proximal gradient step of :mod:`tnas_pipeline.nas.sparse_group_lasso` after each architecture
batch:

* the task loss gives the gradient (every branch runs in this step, the cut ones too, so a
  branch at zero can grow back);
* the proximal step applies the sparse group lasso (leaves, edges, cells) plus the latency,
  charged as the folded edge costs: the branches of an edge fold into one conv, which is a
  folded 3×3 (``T3``) if the edge keeps its 3×3 and a folded 1×1 (``T1``) otherwise. So the
  edge as a whole (its group) is charged ``T1`` and the 3×3 leaf ``T3 − T1``; the 1×1 and
  identity leaves are charged nothing of their own (beside a kept 3×3 they cost nothing, and
  alone the edge's ``T1`` is theirs). Summed over the groups an edge keeps, the charges are
  its folded cost for every set of branches (:meth:`MixedCosts.charged_ms`); the proximal
  step uses their convex relaxation (``T1 ‖α_edge‖₂ + (T3 − T1) |α_3×3|``, exact by the
  tree composition of the proximal operators). Each charge is scaled by ``λ · ḡ / T3``: ``ḡ``
  is the running mean size of the task gradient on ``α``, so ``λ`` has no units (at
  ``λ = 1`` an edge that keeps only its 3×3 is charged the mean task gradient, whatever the
  loss's scale);
* ``λ`` follows dual ascent on the latency of the network the current exact zeros keep,
  folded as it will be deployed, against the budget (the hinge of
  :class:`~tnas_pipeline.nas.latency_term.BudgetPenalty`: a ceiling).

The weight step trains the network at the last proximal point (the exactly sparse ``α``, the
network the search currently keeps), not at the momentum look-ahead the accelerated step holds
in ``α`` between steps (``MixedPathSearcher.frozen_weights``).

The network level needs no relaxation of its own: an edge that keeps no branch is the identity
and drops out, a cell that keeps no edge drops whole (the cell group of the lasso), and the
upsampler is the space's largest kernel. The derived network keeps the branches whose weight is
exactly non-zero in the last proximal point; it is fitted to the budget by cutting the branches
the search valued least per millisecond, or by adding back those it kept longest
(:func:`fit_mixed`), inherits the branches' weights (and their ``α``, so it starts as the
supernet's path: each kept branch's ``α`` becomes its batch norm's ``γ``), is fine-tuned,
and is folded into one conv per edge at export.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from tnas_pipeline.latency.blocks import Block, architecture_blocks
from tnas_pipeline.latency.lut import LatencyTable
from tnas_pipeline.nas.fit import FitResult
from tnas_pipeline.networks.architecture import Architecture
from tnas_pipeline.networks.builder import anchor, build_network
from tnas_pipeline.networks.complexity import lr_size
from tnas_pipeline.networks.layers import ACTIVATIONS
from tnas_pipeline.networks.mixed_path import LinearBranch
from tnas_pipeline.networks.reparam import LINEAR_BRANCHES, rep_op_name
from tnas_pipeline.search_space import SearchSpace


@dataclass(frozen=True)
class MixedChoice:
    """The branches every edge of every cell keeps (an empty tuple: the edge is left out)."""

    kept: tuple[tuple[tuple[str, ...], ...], ...]  # [cells][edges] → branches
    upsampler_kernel: int
    notes: tuple[str, ...] = field(default=())

    def architecture(self, space: SearchSpace, name: str = "searched") -> Architecture:
        cells = [[(rep_op_name(b), None) for b in cell if b] for cell in self.kept]
        return space.architecture([c for c in cells if c], self.upsampler_kernel, name=name)

    def without(self, n: int, e: int, branch: str) -> MixedChoice:
        kept = [list(c) for c in self.kept]
        kept[n][e] = tuple(b for b in kept[n][e] if b != branch)
        return MixedChoice(tuple(tuple(c) for c in kept), self.upsampler_kernel, self.notes)

    def with_branch(self, n: int, e: int, branch: str) -> MixedChoice:
        """``branch`` added to edge ``e`` of cell ``n`` (branches kept in their canonical order)."""
        kept = [list(c) for c in self.kept]
        have = set(kept[n][e]) | {branch}
        kept[n][e] = tuple(b for b in LINEAR_BRANCHES if b in have)
        return MixedChoice(tuple(tuple(c) for c in kept), self.upsampler_kernel, self.notes)

    def branch_count(self) -> int:
        return sum(len(b) for cell in self.kept for b in cell)


class MixedCosts:
    """Latency of mixed-path networks from a table of the mixed space (folded layers)."""

    def __init__(self, lut: LatencyTable, space: SearchSpace) -> None:
        w, h = lr_size(lut.output_size, space.scale)
        c, prec = space.channels, lut.precision
        probe = space.architecture([], space.upsampler_kernels[-1])
        blocks = architecture_blocks(probe, lut.output_size, prec)
        self.fixed = lut.block_ms(blocks[0]) + sum(lut.block_ms(b) for b in blocks
                                                   if b.kind == "skip")
        self.upsampler = {k: lut.block_ms(Block("upsampler", "pixel_shuffle", c, 3, h, w, prec,
                                                kernel=k, scale=space.scale))
                          for k in space.upsampler_kernels}
        self.layer = {op: lut.block_ms(Block("layer", op, c, c, h, w, prec, None, space.act))
                      for op in ("rep3x3", "rep1x1")}
        self.lut, self.space = lut, space
        self.a, self.b = lut.linear_calibration()
        # What the proximal step charges (ms, calibrated slope; module docstring): an edge that
        # keeps any branch folds to at least a 1×1 layer (its group), a kept 3×3 makes it a
        # 3×3 layer (its leaf: the difference).
        t1, t3 = self.a * self.layer["rep1x1"], self.a * self.layer["rep3x3"]
        self.edge_charge_ms = t1
        self.leaf_charge_ms = torch.tensor(
            [max(t3 - t1, 0.0) if b == "conv3x3" else 0.0 for b in LINEAR_BRANCHES],
            dtype=torch.float64)
        self.full_edge_ms = t1 + float(self.leaf_charge_ms.max())

    def charged_ms(self, branches: tuple[str, ...]) -> float:
        """What the proximal step's groups charge an edge keeping ``branches`` (ms): the edge's
        group if it keeps any, plus the leaf of each kept branch. Equals the folded cost,
        ``a · edge_ms(branches)``."""
        if not branches:
            return 0.0
        return self.edge_charge_ms + sum(float(self.leaf_charge_ms[LINEAR_BRANCHES.index(b)])
                                         for b in branches)

    def prox_charges(self, scale: float) -> tuple[torch.Tensor, float]:
        """``(l1_extra, edge_extra)`` for :class:`~tnas_pipeline.nas.sparse_group_lasso.
        AcceleratedProximalSGL`: the leaf and edge-group charges times ``scale / T3`` (the
        search passes ``λ · ḡ``), in units of an edge that keeps its 3×3."""
        unit = scale / self.full_edge_ms if self.full_edge_ms > 0 else 0.0
        return self.leaf_charge_ms * unit, self.edge_charge_ms * unit

    def edge_ms(self, branches: tuple[str, ...]) -> float:
        """Raw LUT ms of one edge keeping ``branches``, folded (0 when it keeps none)."""
        if not branches:
            return 0.0
        return self.layer["rep3x3" if "conv3x3" in branches else "rep1x1"]

    def predict(self, choice: MixedChoice) -> float:
        """The table's model prediction (ms) of the folded network ``choice`` keeps."""
        return self.lut.predict_ms(choice.architecture(self.space))

    def kept_ms(self, alpha: torch.Tensor, kernel: int) -> float:
        """The folded latency of the network that the exact zeros of ``alpha`` keep."""
        return self.predict(kept_choice(alpha, kernel))


def kept_choice(alpha: torch.Tensor, kernel: int) -> MixedChoice:
    """The branches with non-zero weight, edge by edge."""
    nz = alpha.detach().cpu() != 0
    kept = tuple(tuple(tuple(b for i, b in enumerate(LINEAR_BRANCHES) if nz[n, e, i])
                       for e in range(nz.shape[1])) for n in range(nz.shape[0]))
    return MixedChoice(kept, kernel)


class MixedArch(nn.Module):
    """The free mixed-path weights ``α`` ``[cells, edges, branches]``."""

    def __init__(self, space: SearchSpace, init: float = 0.5) -> None:
        super().__init__()
        self.alpha = nn.Parameter(torch.full(
            (space.max_cells, space.edges_per_cell, len(LINEAR_BRANCHES)), init))


class MixedSupernet(nn.Module):
    """Head → every edge of every cell with all three branches → the largest upsampler.

    The branches' batch norms have no affine parameters: ``α`` is each branch's only scale."""

    def __init__(self, space: SearchSpace) -> None:
        super().__init__()
        self.space = space
        c = space.channels
        self.kernel = space.upsampler_kernels[-1]
        probe = build_network(space.architecture([], self.kernel))
        self.head = probe.head
        self.upsampler = probe.upsampler[0]  # the conv; the anchor and the shuffle follow it
        self.cells = nn.ModuleList(
            nn.ModuleList(nn.ModuleList(LinearBranch(b, c, affine=False)
                                        for b in LINEAR_BRANCHES)
                          for _ in range(space.edges_per_cell))
            for _ in range(space.max_cells))
        self.act = ACTIVATIONS.get(space.act)(c)
        self.shuffle = nn.PixelShuffle(space.scale)

    def forward(self, x: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
        h = self.head(x)
        # An architecture step (α with a gradient) runs every branch, the cut ones too: a
        # branch at exactly zero then still gets the gradient that lets the proximal step
        # grow it back when the latency threshold falls below what it would bring. A weight
        # step (α detached) runs only the kept ones.
        regrow = torch.is_grad_enabled() and alpha.requires_grad
        for n, cell in enumerate(self.cells):
            for e, edge in enumerate(cell):
                a = alpha[n, e]
                if regrow and not bool((a != 0).any()):
                    # Every branch of the edge is cut: act(Σ α_b z_b) is act(0) = 0, whose
                    # gradient is 0 under ReLU. For α ≥ 0 and a positively homogeneous act
                    # (ReLU, PReLU) act(α_b z_b) = α_b act(z_b), so Σ α_b act(z_b) has the same
                    # value (0) and gives each α_b its right derivative.
                    h = h + sum(a[i] * self.act(branch(h)) for i, branch in enumerate(edge))
                    continue
                terms = [a[i] * branch(h) for i, branch in enumerate(edge)
                         if regrow or a[i] != 0]
                if terms:  # an edge that keeps nothing is the identity
                    h = h + self.act(sum(terms))
        y = self.upsampler(h) + anchor(x, self.space.scale)
        return self.shuffle(y)


def last_kept(points: list[dict[str, Any]], shape: tuple[int, ...]
              ) -> tuple[torch.Tensor, torch.Tensor]:
    """For every branch, from a search trajectory (:class:`MixedTrajectory` points): the last
    recorded iteration at which it was kept (-1: never) and its weight then (0: never)."""
    when = torch.full(shape, -1, dtype=torch.long)
    value = torch.zeros(shape)
    for p in points:
        a = torch.tensor(p["alpha"], dtype=torch.float32).reshape(shape)
        nz = a != 0
        when[nz] = int(p["iteration"])
        value[nz] = a[nz]
    return when, value


def _cut_moves(choice: MixedChoice, a: torch.Tensor, costs: MixedCosts, target: float
               ) -> tuple[MixedChoice, float, list[str]]:
    """Cut the branch whose weight per millisecond saved is smallest until at most ``target``."""
    moves: list[str] = []
    pred = costs.predict(choice)
    while pred > target and choice.branch_count():
        best = None
        for n, cell in enumerate(choice.kept):
            for e, branches in enumerate(cell):
                for b in branches:
                    nxt = choice.without(n, e, b)
                    saved = pred - costs.predict(nxt)
                    if saved <= 0:
                        continue
                    score = float(a[n, e, LINEAR_BRANCHES.index(b)]) / saved
                    if best is None or score < best[0]:
                        best = (score, nxt, f"cell {n} edge {e}: cut {b} (-{saved:.1f} ms)")
        if best is None:
            break
        choice, pred = best[1], costs.predict(best[1])
        moves.append(best[2])
    return choice, pred, moves


def _grow_moves(choice: MixedChoice, when: torch.Tensor, value: torch.Tensor,
                costs: MixedCosts, target: float, ceiling: float
                ) -> tuple[MixedChoice, float, list[str]]:
    """Add back cut branches until at least ``target``, never above ``ceiling``: each time the
    one the search kept longest (latest iteration still kept), then the one whose last weight
    per millisecond added is largest; a branch never kept is never added."""
    moves: list[str] = []
    pred = costs.predict(choice)
    while pred < target:
        best = None
        for n, cell in enumerate(choice.kept):
            for e, branches in enumerate(cell):
                for i, b in enumerate(LINEAR_BRANCHES):
                    if b in branches or int(when[n, e, i]) < 0:
                        continue
                    nxt = choice.with_branch(n, e, b)
                    p = costs.predict(nxt)
                    if p > ceiling:
                        continue
                    key = (int(when[n, e, i]), float(value[n, e, i]) / max(p - pred, 1e-3))
                    if best is None or key > best[0]:
                        best = (key, nxt, p, f"cell {n} edge {e}: add {b} back "
                                          f"(+{p - pred:.1f} ms, kept until iteration {key[0]})")
        if best is None:
            break
        choice, pred = best[1], best[2]
        moves.append(best[3])
    return choice, pred, moves


def fit_mixed(choice: MixedChoice, alpha: torch.Tensor, costs: MixedCosts, budget_ms: float,
              lo: float, hi: float, when: torch.Tensor | None = None,
              value: torch.Tensor | None = None) -> FitResult:
    """Fit the kept branches to ``[lo, hi] × budget``.

    Over ``hi``: cut branches, each time the one whose weight per millisecond saved is
    smallest (cutting a 1×1 or identity beside a kept 3×3 saves nothing, so those go last).
    Under ``lo``, given the trajectory's :func:`last_kept` (``when``, ``value``): add back the
    branches the search kept longest, without going over ``hi``. The dual ascent on λ leaves
    the last proximal point oscillating around the budget, so either may be needed."""
    target_hi, target_lo = hi * budget_ms, lo * budget_ms
    choice, pred, moves = _cut_moves(choice, alpha.detach().abs().cpu(), costs, target_hi)
    if pred < target_lo and when is not None and value is not None:
        choice, pred, grown = _grow_moves(choice, when, value, costs, target_lo, target_hi)
        moves += grown
    in_window = target_lo <= pred <= target_hi
    reason = None
    if pred > target_hi:
        reason = "over the budget with every branch cut"
    elif pred < target_lo:
        reason = (f"{pred:.1f} ms, under {lo:g} x budget, with every branch the search ever "
                  "kept that fits added back")
    return FitResult(choice=choice, predicted_ms=pred, in_window=in_window, moves=moves,
                     reason=reason)


def inherit_mixed_state(supernet: MixedSupernet, choice: MixedChoice, alpha: torch.Tensor,
                        arch: Architecture) -> dict[str, torch.Tensor]:
    """A state dict for ``build_network(arch)``: the kept branches' weights and batch-norm
    statistics, the head and the upsampler, so that the derived network computes what the
    supernet's path computed.

    The supernet's batch norms have no affine parameters and ``α`` is a branch's only scale; in
    the derived layer that scale is the batch norm's: ``γ = α``, ``β = 0`` and the layer's
    ``alphas`` 1 (:mod:`tnas_pipeline.networks.mixed_path`), which fine-tuning then trains."""
    net = build_network(arch)
    state = net.state_dict()
    out: dict[str, torch.Tensor] = {}
    for key in state:
        if key.startswith("head."):
            out[key] = supernet.head.state_dict()[key[len("head."):]].clone()
        elif key.startswith("upsampler.0."):
            out[key] = supernet.upsampler.state_dict()[key[len("upsampler.0."):]].clone()
    layers = [(n, e, b) for n, cell in enumerate(choice.kept) for e, b in enumerate(cell) if b]
    modules = [m for m in net.cells.modules() if hasattr(m, "kinds")]
    if len(layers) != len(modules):
        raise ValueError("the architecture does not match the choice")
    names = {m: k for k, m in net.named_modules()}
    for (n, e, branches), module in zip(layers, modules, strict=True):
        prefix = names[module]
        for j, b in enumerate(branches):
            i = LINEAR_BRANCHES.index(b)
            src = supernet.cells[n][e][i].state_dict()
            for k, v in src.items():
                out[f"{prefix}.branches.{j}.{k}"] = v.clone()
            ref = state[f"{prefix}.branches.{j}.bn.weight"]
            out[f"{prefix}.branches.{j}.bn.weight"] = torch.full_like(ref, float(alpha[n, e, i]))
            out[f"{prefix}.branches.{j}.bn.bias"] = torch.zeros_like(ref)
        out[f"{prefix}.alphas"] = torch.ones(len(branches))
    missing = set(state) - set(out)
    if missing:
        raise KeyError(f"no supernet weight for {sorted(missing)[:3]}")
    return out


def mixed_summary(choice: MixedChoice) -> dict[str, Any]:
    """How many edges keep zero, one, two or three branches (a mixed path keeps several)."""
    counts = [len(b) for cell in choice.kept for b in cell]
    return {str(k): counts.count(k) for k in range(len(LINEAR_BRANCHES) + 1)}
