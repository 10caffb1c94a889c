"""The efficiency term of the architecture loss: expected latency from the device's LUT.

Under the relaxed weights of the three levels (:class:`RelaxedWeights`), the expected latency is

    E[T] = a · ( T_head + T_skip + Σ_k δ_k T_up(k)
                 + Σ_n g_n Σ_e Σ_o α_neo Σ_w β_neow T(o, w) ) + b

with ``g_n`` the path weight of cell ``n`` and ``a, b`` the table's model reduced to a line
(:meth:`~tnas_pipeline.latency.lut.LatencyTable.linear_calibration`; the fit of the discrete network
uses the whole model). It is linear in every level's weights, so its gradient reaches all
three. :class:`BudgetPenalty` holds it to a target ``B`` with the excess ``h = E/B − 1`` and a
multiplier λ adapted by dual ascent ``λ ← λ + η h`` (as in constrained NAS such as TF-NAS, Hu et
al. 2020):

* ``augmented`` (the default): the augmented Lagrangian of ``E = B`` (the method of multipliers,
  Hestenes 1969, Powell 1969; Nocedal & Wright, ch. 17), ``λ h + (μ/2) h²``: the quadratic term
  pulls at once in proportion to the miss, λ removes the steady-state error;
* ``hinge``: ``λ · max(0, h)`` with λ ≥ 0: the budget is a ceiling only;
* ``lagrangian``: ``λ · h`` with λ free in sign: over budget λ grows and pushes the latency
  down, long under budget λ turns negative and lets the search spend what is left.

The search scales the penalty to the task: its gradient on each tensor of architecture parameters
is ``s · c(h) · ∇h`` with ``c`` the penalty's slope and ``s = ‖∇ task‖ / ‖∇h‖`` on that tensor
(the task norm a running mean), so a slope of 1 pulls as hard as the task loss does, on any
device, budget or dataset (:meth:`BudgetPenalty.combine`). SR quality grows with compute, so using
the budget is what users want.

Parameters and Mult-Adds have the same linear form and can be added with their weights.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from tnas_pipeline.latency.blocks import Block, architecture_blocks
from tnas_pipeline.latency.lut import LatencyTable
from tnas_pipeline.nas.supernet import RelaxedWeights
from tnas_pipeline.networks.complexity import lr_size
from tnas_pipeline.networks.ops import OPS
from tnas_pipeline.search_space import SearchSpace


@dataclass
class CostTables:
    """Per-choice costs of one quantity (ms, params or Mult-Adds) in the supernet's layout, per
    trunk width (``T`` = ``len(space.trunk_choices)``; a 1-D ``upsampler`` and 2-D ``op`` are one
    trunk's)."""

    fixed: torch.Tensor | float   # [T]: head + global skip
    upsampler: torch.Tensor       # [T, kernels]
    op: torch.Tensor              # [T, ops, widths]
    a: float = 1.0
    b: float = 0.0

    def __post_init__(self) -> None:
        self.fixed = torch.as_tensor(self.fixed, dtype=torch.float64).reshape(-1)
        if self.upsampler.dim() == 1:
            self.upsampler = self.upsampler.unsqueeze(0)
        if self.op.dim() == 2:
            self.op = self.op.unsqueeze(0)

    def expected(self, w: RelaxedWeights) -> torch.Tensor:
        """E[cost] under the relaxed weights (differentiable; the trunk is independent of the
        other choices, so this is the mean over trunks of each trunk's expectation)."""
        op = self.op.to(w.widths)                                          # [T, o, w]
        per_edge = (w.widths.unsqueeze(0) * op[:, None, None]).sum(-1)     # [T, n, e, o]
        per_cell = (w.ops.unsqueeze(0) * per_edge).sum(-1).sum(-1)         # [T, n]
        raw = (self.fixed.to(w.widths) + (self.upsampler.to(w.upsampler) * w.upsampler).sum(-1)
               + (w.path.unsqueeze(0) * per_cell).sum(-1))                 # [T]
        trunk = w.trunk if w.trunk.numel() == raw.numel() else raw.new_ones(1)
        return self.a * (trunk * raw).sum() + self.b

    def discrete(self, cells: list[list[tuple[str, int | None]]], kernel: int,
                 space: SearchSpace, trunk: int | None = None) -> float:
        """The cost of a discrete choice (the same sum with one-hot weights)."""
        t = space.trunk_choices.index(trunk or space.channels) if self.op.shape[0] > 1 else 0
        raw = float(self.fixed[t]) + float(self.upsampler[t, space.upsampler_kernels.index(kernel)])
        for cell in cells:
            for op, width in cell:
                wi = space.width_choices.index(width) if width in space.width_choices else 0
                raw += float(self.op[t, space.ops.index(op), wi])
        return self.a * raw + self.b


def latency_costs(lut: LatencyTable, space: SearchSpace) -> CostTables:
    """The table's entries (ms) in the supernet's layout, with its linear calibration. A
    re-parameterisable op costs what it is deployed as (its folded op)."""
    from tnas_pipeline.networks.reparam import folded_op

    w, h = lr_size(lut.output_size, space.scale)
    prec = lut.precision
    fixed, ups, ops = [], [], []
    for c in space.trunk_choices:
        probe = space.architecture([], space.upsampler_kernels[0], trunk=c)
        blocks = architecture_blocks(probe, lut.output_size, prec)
        fixed.append(lut.block_ms(blocks[0])
                     + sum(lut.block_ms(b) for b in blocks if b.kind == "skip"))
        ups.append([lut.block_ms(Block("upsampler", "pixel_shuffle", c, 3, h, w, prec, kernel=k,
                                       scale=space.scale)) for k in space.upsampler_kernels])
        ops.append([[lut.block_ms(Block("layer", folded_op(op), c, c, h, w, prec,
                                        width if OPS.get(op).uses_width else None, space.act))
                     for width in space.width_choices] for op in space.ops])
    a, b = lut.linear_calibration()
    return CostTables(fixed=torch.tensor(fixed, dtype=torch.float64),
                      upsampler=torch.tensor(ups, dtype=torch.float64),
                      op=torch.tensor(ops, dtype=torch.float64), a=a, b=b)


def param_costs(space: SearchSpace) -> CostTables:
    """Parameter counts per choice (an optional extra term)."""
    from torch import nn

    def count(m: nn.Module) -> float:
        return float(sum(p.numel() for p in m.parameters()))

    fixed, ups, ops = [], [], []
    for c in space.trunk_choices:
        fixed.append(count(nn.Conv2d(3, c, 3)))
        ups.append([count(nn.Conv2d(c, 3 * space.scale**2, k)) for k in space.upsampler_kernels])
        ops.append([[count(OPS.get(op).build(c, c, width if OPS.get(op).uses_width else None,
                                             space.act))
                     for width in space.width_choices] for op in space.ops])
    return CostTables(fixed=torch.tensor(fixed, dtype=torch.float64),
                      upsampler=torch.tensor(ups, dtype=torch.float64),
                      op=torch.tensor(ops, dtype=torch.float64))


def mult_add_costs(space: SearchSpace, output_size: tuple[int, int]) -> CostTables:
    """Mult-Adds per choice at ``output_size``: parameters × LR pixels (every layer is a
    stride-1 conv at the LR resolution, so weights × pixels, ignoring biases' tiny share)."""
    w, h = lr_size(output_size, space.scale)
    p = param_costs(space)
    px = float(w * h)
    return CostTables(fixed=p.fixed * px, upsampler=p.upsampler * px, op=p.op * px)


class BudgetPenalty:
    """Augmented-Lagrangian, hinge or Lagrangian penalty of ``h = E/B − 1`` with a multiplier
    adapted by dual ascent (module docstring)."""

    KINDS = ("augmented", "hinge", "lagrangian")
    EMA = 0.9  # running mean of the task gradient's norm (a step's is noisy)
    FLOOR = 0.25  # the least pull of the budget on a tensor, × the tensors' mean task norm

    def __init__(self, budget_ms: float, kind: str = "hinge", lam: float = 0.0,
                 step: float = 0.02, rho: float = 0.0) -> None:
        if kind not in self.KINDS:
            raise ValueError(f"unknown penalty {kind!r}; known: {', '.join(self.KINDS)}")
        self.budget_ms, self.kind, self.lam, self.step, self.rho = budget_ms, kind, lam, step, rho
        self.task_norm: list[float | None] | None = None  # per parameter tensor

    def excess(self, expected_ms: float | torch.Tensor) -> float | torch.Tensor:
        return expected_ms / self.budget_ms - 1.0

    def slope(self, excess: float) -> float:
        """The penalty's derivative in ``h`` at ``h = excess``."""
        if self.kind == "hinge":
            return self.lam if excess > 0 else 0.0
        if self.kind == "augmented":
            return self.lam + self.rho * excess
        return self.lam

    def __call__(self, expected_ms: torch.Tensor) -> torch.Tensor:
        """The penalty's value (unscaled)."""
        h = self.excess(expected_ms)
        if self.kind == "hinge":
            return self.lam * torch.clamp(h, min=0.0)
        if self.kind == "augmented":
            return self.lam * h + 0.5 * self.rho * h * h
        return self.lam * h

    def combine(self, task: list[torch.Tensor | None], constraint: list[torch.Tensor | None],
                excess: float) -> list[torch.Tensor | None]:
        """Gradients ``task + s · slope(h) · constraint`` on the same parameter tensors, with
        ``s`` per tensor the running mean of its ‖task‖ over its ‖constraint‖ (module
        docstring): each level (depth, upsampler, ops, widths) weighs the budget against its own
        share of the task, which differs by orders of magnitude between them."""
        if self.task_norm is None or len(self.task_norm) != len(task):
            self.task_norm = [None] * len(task)
        slope = self.slope(excess)
        for i, gt in enumerate(task):
            t = 0.0 if gt is None else float(gt.double().norm())
            prev = self.task_norm[i]
            self.task_norm[i] = t if prev is None else self.EMA * prev + (1 - self.EMA) * t
        norms = [n for n in self.task_norm if n is not None]
        # A tensor the task does not reach this step (a cell with zero path weight is not
        # computed) still feels the budget, at a share of the mean pull.
        floor = self.FLOOR * (sum(norms) / len(norms) if norms else 0.0)
        out: list[torch.Tensor | None] = []
        for i, (gt, gc) in enumerate(zip(task, constraint, strict=True)):
            if gt is None and gc is None:
                out.append(None)
                continue
            g = torch.zeros_like(gc) if gt is None else gt.clone()
            if gc is not None:
                c = float(gc.double().norm())
                if c > 0:
                    g = g + (max(self.task_norm[i] or 0.0, floor) / c * slope) * gc
            out.append(g)
        return out

    # The dual step integrates only while the excess is within ±this: far off, the augmented
    # term's pull (proportional to the miss) brings the latency in, and a multiplier that had
    # integrated all the way would overshoot the target by as much again (conditional
    # integration, the anti-windup of PI controllers).
    WINDUP = 0.2

    def update(self, expected_ms: float) -> None:
        """Dual ascent on λ: up while over budget, down while under (not below zero for the
        hinge, whose budget is only a ceiling)."""
        h = float(self.excess(expected_ms))
        if self.kind == "augmented" and abs(h) > self.WINDUP:
            return
        self.lam += self.step * h
        if self.kind == "hinge":
            self.lam = max(0.0, self.lam)

    def state(self) -> dict[str, Any]:
        return {"lam": self.lam, "task_norm": self.task_norm}

    def load(self, state: dict[str, Any]) -> None:
        self.lam = float(state["lam"])
        tn = state.get("task_norm")
        self.task_norm = list(tn) if isinstance(tn, list) else None
