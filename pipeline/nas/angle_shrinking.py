"""Angle-based search-space shrinking (ABS; Hu et al., "Angle-based Search Space Shrinking for
Neural Architecture Search", ECCV 2020).

A child network's *angle* is the angle between the vector of all its weights now and the same
vector at initialisation. In a weight-sharing supernet it ranks child networks better than their
supernet accuracy early in training, so the ops whose child networks have the smallest angles
are dropped first. An op's score is the mean angle of the sampled child networks that use it.

The angle of a concatenation needs only three sums per component, so a path's angle is exact
from per-op statistics and thousands of paths cost no forward pass:
``cos θ = Σ ⟨w, w₀⟩ / √(Σ ‖w‖² · Σ ‖w₀‖²)``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn


@dataclass(frozen=True)
class WeightStats:
    """⟨w, w₀⟩, ‖w‖², ‖w₀‖² of one component's weights (current ``w``, initial ``w₀``)."""

    dot: float
    now_sq: float
    init_sq: float

    @classmethod
    def of(cls, now: Iterable[torch.Tensor], init: Iterable[torch.Tensor]) -> WeightStats:
        dot = now_sq = init_sq = 0.0
        for a, b in zip(now, init, strict=True):
            a, b = a.detach().double().flatten(), b.detach().double().flatten()
            dot += float(a @ b)
            now_sq += float(a @ a)
            init_sq += float(b @ b)
        return cls(dot, now_sq, init_sq)


def path_angle(parts: Sequence[WeightStats]) -> float:
    """The angle (radians) between the concatenated current and initial weights of ``parts``."""
    dot = sum(p.dot for p in parts)
    norm = math.sqrt(sum(p.now_sq for p in parts) * sum(p.init_sq for p in parts))
    if norm == 0.0:
        return 0.0
    return math.acos(max(-1.0, min(1.0, dot / norm)))


def _stats(module: nn.Module, init: Mapping[str, torch.Tensor], prefix: str) -> WeightStats:
    names = [n for n, _ in module.named_parameters()]
    return WeightStats.of((p for _, p in module.named_parameters()),
                          (init[f"{prefix}.{n}"] for n in names))


def supernet_op_scores(supernet: nn.Module, init_state: Mapping[str, torch.Tensor],
                       samples: int = 2000, seed: int = 0) -> torch.Tensor:
    """ABS scores ``[cells, edges, ops]`` of a :class:`~tnas_pipeline.nas.supernet.Supernet`.

    ``init_state`` is the supernet's ``state_dict()`` at initialisation: the weights each op
    was created with (across the rounds of search-space evolution, an op's original
    initialisation, :func:`tnas_pipeline.nas.evolution.abs_reference`, not the weights a later
    round started from, which would measure one round's movement only). Child networks are
    drawn uniformly (depth, one op per edge, upsampler); each path holds the head, its ops and
    its upsampler. An op no sampled path used scores NaN."""
    space = supernet.space
    head = _stats(supernet.head, init_state, "head")
    ops = [[[_stats(op, init_state, f"cells.{n}.{e}.{o}") for o, op in enumerate(edge)]
            for e, edge in enumerate(cell)] for n, cell in enumerate(supernet.cells)]
    ups = [_stats(u, init_state, f"upsamplers.{k}") for k, u in enumerate(supernet.upsamplers)]
    total = np.zeros((space.max_cells, space.edges_per_cell, len(space.ops)))
    count = np.zeros_like(total)
    rng = np.random.default_rng(seed)
    for _ in range(samples):
        depth = int(rng.integers(1, space.max_cells + 1))
        choice = rng.integers(len(space.ops), size=(depth, space.edges_per_cell))
        parts = [head, ups[int(rng.integers(len(ups)))]]
        parts += [ops[n][e][int(choice[n, e])] for n in range(depth)
                  for e in range(space.edges_per_cell)]
        angle = path_angle(parts)
        for n in range(depth):
            for e in range(space.edges_per_cell):
                total[n, e, choice[n, e]] += angle
                count[n, e, choice[n, e]] += 1
    with np.errstate(invalid="ignore"):
        return torch.from_numpy(total / count)


def rank_ops(scores: torch.Tensor, names: Sequence[str]) -> list[tuple[str, float]]:
    """Ops by their mean score over every edge, best (largest angle) first."""
    mean = torch.nanmean(scores.reshape(-1, scores.shape[-1]), dim=0)
    order = sorted(range(len(names)), key=lambda i: -float(mean[i]))
    return [(names[i], float(mean[i])) for i in order]


def ops_to_drop(scores: torch.Tensor, names: Sequence[str], drop: int) -> list[str]:
    """The ``drop`` ops ABS shrinks away: the lowest-ranked ones."""
    if not 0 <= drop < len(names):
        raise ValueError(f"can drop 0 to {len(names) - 1} of {len(names)} ops, not {drop}")
    return [name for name, _ in rank_ops(scores, names)[len(names) - drop:]]
