"""Fitting a derived network to the latency budget against the table's latency model.

The search holds the *expected* latency to the budget; the discrete network it derives can still
land outside. This greedy fit changes one thing at a time (an edge's width one step, an edge's op,
the depth by one cell, the upsampler kernel) until the prediction (``predict``, the table's
model: ΣLUT with its residual correction) lies in ``[lo, hi] × budget``; callers narrow that
window by the model's uncertainty (:func:`tnas_pipeline.nas.budget.prediction_window`). Each move
is ranked by how much the search disliked it (the drop in the chosen option's logit) per
millisecond it saves or spends, so the fit removes what the search valued least; a move that
lands inside the window wins outright. Deepening reuses the cells the supernet trained beyond
the derived depth. If no sequence of moves reaches the window, the result
says why (budget below the fastest or above the slowest network the space can build).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

import torch

from tnas_pipeline.nas.derive import Choice
from tnas_pipeline.nas.supernet import ArchParams
from tnas_pipeline.search_space import SearchSpace


@dataclass
class FitResult:
    """The fitted choice, its prediction, whether it is in the window, and what was changed."""

    choice: Choice
    predicted_ms: float
    in_window: bool
    moves: list[str] = field(default_factory=list)
    reason: str | None = None


def _logit(t: torch.Tensor, i: int) -> float:
    return float(t.detach().cpu()[i])


def _neighbours(c: Choice, space: SearchSpace, z: ArchParams) -> list[tuple[Choice, float, str]]:
    """Every one-step change of ``c`` with its preference cost (logit drop) and a description."""
    out = []
    ops = space.ops
    for n in range(c.depth):
        for e in range(space.edges_per_cell):
            op, w = c.cells[n][e]
            o = ops.index(op)
            widths = space.op_widths(op)
            wi = widths.index(w) if w in widths else 0
            for wj in (wi - 1, wi + 1):
                if 0 <= wj < len(widths):
                    cost = _logit(z.widths[n, e, o], wi) - _logit(z.widths[n, e, o], wj)
                    out.append((c.with_edge(n, e, op, widths[wj]), cost,
                                f"cell {n} edge {e}: {op} width {w} -> {widths[wj]}"))
            for oj, other in enumerate(ops):
                if oj != o:
                    # The other op keeps the width where it takes one (else its first width).
                    ow = space.op_widths(other)
                    w2 = w if w in ow else ow[0]
                    cost = _logit(z.ops[n, e], o) - _logit(z.ops[n, e], oj)
                    out.append((c.with_edge(n, e, other, w2), cost,
                                f"cell {n} edge {e}: {op} -> {other} (width {w2})"))
    for d in (c.depth - 1, c.depth + 1):
        if 1 <= d <= space.max_cells:
            cost = z.depth_preference(c.depth) - z.depth_preference(d)
            out.append((replace(c, depth=d), cost, f"depth {c.depth} -> {d} cells"))
    if space.trunk_widths:
        choices = space.trunk_choices
        ti = choices.index(c.trunk or space.channels)
        for tj in (ti - 1, ti + 1):
            if 0 <= tj < len(choices):
                cost = _logit(z.trunk, ti) - _logit(z.trunk, tj)
                out.append((replace(c, trunk=choices[tj]), cost,
                            f"trunk {choices[ti]} -> {choices[tj]} channels"))
    ki = space.upsampler_kernels.index(c.upsampler_kernel)
    for kj, k in enumerate(space.upsampler_kernels):
        if kj != ki:
            cost = _logit(z.upsampler, ki) - _logit(z.upsampler, kj)
            out.append((replace(c, upsampler_kernel=k), cost,
                        f"upsampler kernel {c.upsampler_kernel} -> {k}"))
    return out


def _two_step_landings(c: Choice, space: SearchSpace, z: ArchParams, predict,
                       lo_ms: float, hi_ms: float) -> list[tuple[Choice, float, str, float]]:
    """Pairs of one-step changes that land in the window, with their summed cost."""
    out = []
    for c1, cost1, what1 in _neighbours(c, space, z):
        for c2, cost2, what2 in _neighbours(c1, space, z):
            p = predict(c2)
            if lo_ms <= p <= hi_ms and _key(c2) != _key(c):
                out.append((c2, cost1 + cost2, f"{what1}, then {what2}", p))
    return out


def _key(c: Choice) -> tuple:
    return (c.depth, c.cells[: c.depth], c.upsampler_kernel, c.trunk)


def fit_to_budget(choice: Choice, params: ArchParams, predict: Callable[[Choice], float],
                  space: SearchSpace, budget_ms: float, lo: float = 0.9, hi: float = 1.0,
                  max_moves: int = 200) -> FitResult:
    """Greedily move ``choice`` until ``lo·B ≤ predict(choice) ≤ hi·B`` (module docstring)."""
    lo_ms, hi_ms = lo * budget_ms, hi * budget_ms

    current, pred, moves = choice, predict(choice), []
    seen = {_key(choice)}
    eps = 1e-3
    for _ in range(max_moves):
        if lo_ms <= pred <= hi_ms:
            return FitResult(current, pred, True, moves)
        over = pred > hi_ms
        cands, crosses = [], False
        for c, cost, what in _neighbours(current, space, params):
            if _key(c) in seen:
                continue
            p = predict(c)
            crosses |= (p < lo_ms) if over else (p > hi_ms)
            if (over and p < pred) or (not over and pred < p <= hi_ms):
                cands.append((c, cost, what, p))
        landing = [x for x in cands if lo_ms <= x[3] <= hi_ms]
        if not landing and crosses:  # single steps jump over the window: try pairs of steps
            landing = _two_step_landings(current, space, params, predict, lo_ms, hi_ms)
        if not cands and not landing:
            break
        if landing:
            best = min(landing, key=lambda x: x[1])
        elif over:
            safe = [x for x in cands if x[3] >= lo_ms]
            best = (min(safe, key=lambda x: (max(x[1], 0.0) + eps) / (pred - x[3])) if safe
                    else max(cands, key=lambda x: x[3]))
        else:
            best = min(cands, key=lambda x: (max(x[1], 0.0) + eps) / (x[3] - pred))
        current, pred = best[0], best[3]
        moves.append(f"{best[2]}: {pred:.1f} ms")
        seen.add(_key(current))
    in_window = lo_ms <= pred <= hi_ms
    reason = None
    if not in_window:
        reason = (f"no sequence of one-step changes brings the prediction ({pred:.1f} ms) into "
                  f"[{lo_ms:.1f}, {hi_ms:.1f}] ms; the space's steps are coarser than the window "
                  "here, or the budget is at the edge of the reachable range")
    return FitResult(current, pred, in_window, moves, reason)
