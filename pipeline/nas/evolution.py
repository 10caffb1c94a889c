"""Search-space evolution (NSE; Ci et al., "Evolving Search Space for Neural Architecture
Search", ICCV 2021) over an op pool larger than one supernet holds (``--evolve-rounds``).

The table is made for the whole pool (``profile --space pool``). Round ``r`` searches a supernet
of ``evolve_active`` ops of the pool for ``1/R`` of the search budget, then:

1. ranks its ops, by their cell-level weight (the mean over every edge of the op's relaxed
   weight, each cell counted by its path weight: what the search kept) or by ABS (Hu et al.,
   "Angle-based Search Space Shrinking for Neural Architecture Search", ECCV 2020: the mean
   angle of the sampled paths through the op, :mod:`tnas_pipeline.nas.angle_shrinking`). ABS
   measures each op's angle from the weights it was *initialised* with: an op that survives
   rounds keeps its round-0 initialisation as reference (or the fresh weights it had when it
   last entered the supernet), never the weights a later round started from
   (:func:`abs_reference`);
2. drops the ``evolve_drop`` lowest and draws as many from the pending pool, in pool order (the
   dropped ones go to the back of it, so a later round may try them again, as NSE's pool is).
   The ranking never decides on a tie (scores equal within :data:`TIE_TOL`, as sparsestmax's
   exact zeros make them): ops tied across the cut are separated by further measurements (the
   weight criterion: the ops' logits; ABS: the weight score, then the logits), and if they are
   still tied, by a draw seeded by the round's seed, never by their order in the list. The
   round's record says when and how a tie was broken (``tie``) and holds the further scores
   (``tiebreak_scores``);
3. builds the next round's supernet: the surviving ops keep their weights and logits on every
   edge (inheritance), the new ops start fresh with the mean of the survivors' logits; the head,
   the upsamplers and the network-level logits carry over.

Each round records its subset, the ranking, its derived network with the LUT prediction, and a
Pareto front: ``front_samples`` sub-networks drawn from the round's supernet, scored on the
validation set with the shared weights, against their predicted latency. The last round's
supernet is then derived, fitted, inherited and fine-tuned as a one-round search is.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import replace
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch

from tnas_pipeline.errors import UserError
from tnas_pipeline.io_utils import atomic_path, write_json_atomic
from tnas_pipeline.latency.lut import LatencyTable
from tnas_pipeline.nas.angle_shrinking import rank_ops, supernet_op_scores
from tnas_pipeline.nas.config import SearchConfig
from tnas_pipeline.nas.derive import Choice
from tnas_pipeline.nas.searcher import Searcher, _FrozenSupernet
from tnas_pipeline.nas.supernet import one_hot_weights
from tnas_pipeline.training.trainer import validate

logger = logging.getLogger(__name__)


def round_config(cfg: SearchConfig, active: list[str], r: int) -> SearchConfig:
    """The configuration of round ``r``: the active ops, 1/R of the search budget, and a seed
    of its own (so that rounds draw other patches)."""
    n, f = cfg.evolve_rounds, cfg.search_fraction
    seed = cfg.seed + 1000 * r
    if cfg.iters is not None:
        return replace(cfg, ops=list(active), seed=seed,
                       iters=max(2, round(cfg.search_iters / n / f)))
    return replace(cfg, ops=list(active), seed=seed, minutes=cfg.search_minutes / n / f)


def _path_mean(searcher: Searcher, per_edge: torch.Tensor) -> dict[str, float]:
    """``[cells, edges, ops]`` values averaged over every edge, cells weighted by their path."""
    with torch.no_grad():
        path = searcher.relaxed().path.view(-1, 1, 1)
    per_op = (per_edge.detach() * path).sum((0, 1)) / (path.sum() * per_edge.shape[1])
    return {op: float(per_op[i]) for i, op in enumerate(searcher.space.ops)}


def weight_scores(searcher: Searcher) -> dict[str, float]:
    """Each op's relaxed weight, averaged over every edge, cells weighted by their path."""
    with torch.no_grad():
        w = searcher.relaxed()
    return _path_mean(searcher, w.ops)


def logit_scores(searcher: Searcher) -> dict[str, float]:
    """Each op's logit, averaged as :func:`weight_scores`: the measurement under the relaxed
    weight, which stays apart where the relaxation maps several ops to the same weight
    (sparsestmax's exact zeros)."""
    return _path_mean(searcher, searcher.arch.ops)


def abs_scores(searcher: Searcher, init_state: dict[str, torch.Tensor],
               seed: int) -> dict[str, float]:
    """ABS's score of each op: the mean angle of the sampled paths through it, from
    ``init_state`` (the weights each op was initialised with, :func:`abs_reference`)."""
    scores = supernet_op_scores(searcher.supernet, init_state, seed=seed)
    return dict(rank_ops(scores, list(searcher.space.ops)))


def abs_reference(searcher: Searcher, prev: Searcher | None = None,
                  prev_reference: dict[str, torch.Tensor] | None = None
                  ) -> dict[str, torch.Tensor]:
    """The weights ABS measures this round's angles from, keyed as ``searcher.supernet``'s
    state dict: every op's and the head's and upsamplers' *initialisation*.

    Round 0 (no ``prev``): the supernet's weights now, before training. Later rounds, called
    after :func:`transfer`: an op that survives from ``prev`` keeps its reference in
    ``prev_reference`` (so its round-0 initialisation, however many rounds it survives), the
    head and the upsamplers too (they carry over); a new op's reference is its fresh weights
    now, what it starts from. The previous round's trained weights are never a reference:
    ABS's angle is from initialisation, not from the round's start (Hu et al., ECCV 2020)."""
    state = searcher.supernet.state_dict()
    ref = {k: v.detach().clone() for k, v in state.items()}
    if prev is None or prev_reference is None:
        return ref
    old_ops, ops = list(prev.space.ops), list(searcher.space.ops)
    for key in state:
        if key.startswith("cells."):
            _, n, e, o, rest = key.split(".", 4)
            op = ops[int(o)]
            if op not in old_ops:
                continue
            ref[key] = prev_reference[f"cells.{n}.{e}.{old_ops.index(op)}.{rest}"].clone()
        elif key in prev_reference:
            ref[key] = prev_reference[key].clone()
    return ref


# Scores within this (relative, absolute below 1) of each other are a tie: the criterion does
# not tell the ops apart.
TIE_TOL = 1e-6


def _tied(a: float, b: float) -> bool:
    if a == b:
        return True
    if math.isinf(a) or math.isinf(b):
        return False
    return abs(a - b) <= TIE_TOL * max(1.0, abs(a), abs(b))


def _value(scores: dict[str, float], op: str) -> float:
    """A score to sort on: NaN (ABS: an op no sampled path used) is no evidence, the lowest."""
    v = float(scores[op])
    return -math.inf if math.isnan(v) else v


def lowest(ops: list[str], k: int, criteria: list[tuple[str, dict[str, float]]],
           seed: int) -> tuple[list[str], dict[str, Any] | None]:
    """The ``k`` lowest-ranked of ``ops`` and, when a tie lay across the cut, how it was broken.

    ``criteria`` are ``(name, scores)``, the first the ranking's, the others its tie-breakers.
    Under each, the ops clearly below the ``k``-th are taken; if the ops tied with it (within
    :data:`TIE_TOL`) are more than the places left, the next criterion ranks only those. If
    every criterion leaves them tied, the places left are drawn among them (sorted by name) by
    a generator seeded with ``seed``: a tie is never decided by the order of ``ops``. The
    record (None without a tie across the cut) names the tied ops, the criteria they tied on,
    and what broke the tie: a criterion's name, or ``"random draw"`` with its seed and draw."""
    chosen: list[str] = []
    pool, left = list(ops), min(k, len(ops))
    tie: dict[str, Any] | None = None
    for name, scores in criteria:
        if left == 0 or left >= len(pool):
            break
        val = {op: _value(scores, op) for op in pool}
        boundary = val[sorted(pool, key=lambda op: (val[op], op))[left - 1]]
        tied = [op for op in pool if _tied(val[op], boundary)]
        below = [op for op in pool if val[op] < boundary and op not in tied]
        chosen += below
        left -= len(below)
        if len(tied) <= left:  # the cut is not inside the tie: every tied op goes
            chosen += tied
            left -= len(tied)
            pool = []
            if tie is not None:
                tie["broken_by"] = name
            break
        if tie is None:
            tie = {"among": sorted(tied), "places": left, "tied_on": []}
        tie["tied_on"].append(name)
        pool = tied
    if left:  # still tied after every criterion (or nothing to rank by)
        if left < len(pool):
            rng = np.random.default_rng(seed)
            drawn = [str(op) for op in rng.choice(sorted(pool), size=left, replace=False)]
            tie = tie or {"among": sorted(pool), "places": left, "tied_on": []}
            tie.update(broken_by="random draw", seed=seed, drawn=sorted(drawn))
            chosen += drawn
        else:
            chosen += pool
    first = criteria[0][1] if criteria else {}
    order = {op: i for i, op in enumerate(sorted(chosen))}
    chosen.sort(key=lambda op: (_value(first, op) if first else 0.0, order[op]))
    return chosen, tie


class Turnover(NamedTuple):
    """One round's turnover (:func:`next_active`)."""

    active: list[str]
    dropped: list[str]
    added: list[str]
    pending: list[str]
    tie: dict[str, Any] | None


def next_active(active: list[str], scores: dict[str, float], pending: list[str], drop: int,
                tiebreak: list[tuple[str, dict[str, float]]] | None = None, seed: int = 0,
                criterion: str = "score") -> Turnover:
    """The ``drop`` lowest-scored ops leave for the back of the pool and the first ``drop``
    pending ops come in (fewer if the pool is short). Ties across the cut go to ``tiebreak``
    (further ``(name, scores)`` measurements), then to a draw seeded by ``seed``
    (:func:`lowest`); never to the order of ``active``. ``tie`` says how one was broken."""
    criteria = [(criterion, scores), *(tiebreak or [])]
    dropped, tie = lowest(active, min(drop, len(pending)), criteria, seed)
    added = pending[:len(dropped)]
    keep = [op for op in active if op not in dropped]
    return Turnover(keep + added, dropped, added, pending[len(dropped):] + dropped, tie)


def transfer(prev: Searcher, new: Searcher) -> None:
    """Carry the previous round's weights into the next round's supernet and logits: head,
    upsamplers, network-level logits, and every surviving op on every edge."""
    new.supernet.head.load_state_dict(prev.supernet.head.state_dict())
    new.supernet.upsamplers.load_state_dict(prev.supernet.upsamplers.state_dict())
    old_ops, ops = list(prev.space.ops), list(new.space.ops)
    survivors = [(ops.index(op), old_ops.index(op)) for op in ops if op in old_ops]
    with torch.no_grad():
        new.arch.depth.copy_(prev.arch.depth)
        new.arch.upsampler.copy_(prev.arch.upsampler)
        new.arch.trunk.copy_(prev.arch.trunk)
        for n, cell in enumerate(new.supernet.cells):
            for e, edge in enumerate(cell):
                for i, j in survivors:
                    edge[i].load_state_dict(prev.supernet.cells[n][e][j].state_dict())
        idx_new = [i for i, _ in survivors]
        idx_old = [j for _, j in survivors]
        fresh = [i for i in range(len(ops)) if i not in idx_new]
        new.arch.ops[..., idx_new] = prev.arch.ops[..., idx_old]
        new.arch.widths[..., idx_new, :] = prev.arch.widths[..., idx_old, :]
        if fresh and idx_old:
            new.arch.ops[..., fresh] = prev.arch.ops[..., idx_old].mean(-1, keepdim=True)
            new.arch.widths[..., fresh, :] = prev.arch.widths[..., idx_old, :].mean(
                -2, keepdim=True)


def pareto(points: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The points no other beats on both latency (lower) and PSNR (higher), by latency."""
    front, best = [], -np.inf
    for p in sorted(points, key=lambda p: p["predicted_ms"]):
        if p["psnr_y"] > best:
            front.append(p)
            best = p["psnr_y"]
    return front


def round_front(searcher: Searcher, samples: int, seed: int) -> list[dict[str, Any]]:
    """``samples`` random sub-networks of the round's space, scored with the shared weights."""
    rng = np.random.default_rng(seed)
    s = searcher.space
    points = []
    for _ in range(samples):
        arch = s.random_architecture(rng)
        cells = tuple(tuple((layer.op, layer.width) for layer in c.ops) for c in arch.cells)
        cells += tuple(cells[-1:] * (s.max_cells - len(cells)))  # unused, any valid op
        trunk = arch.head.out if s.trunk_widths else None
        choice = Choice(len(arch.cells), cells, arch.upsampler.kernel, trunk=trunk)
        w = one_hot_weights(s, choice.depth, cells, choice.upsampler_kernel, trunk)
        w = w.map(lambda t: t.to(searcher.cfg.device))
        val = validate(_FrozenSupernet(searcher.supernet, w), searcher.cfg)
        points.append({"predicted_ms": searcher.predict_choice(choice),
                       "psnr_y": next(iter(val.values()))["psnr_y"],
                       "cells": [list(c) for c in cells[: choice.depth]]})
    return points


def evolve(cfg: SearchConfig, lut: LatencyTable, out: Path, progress: bool = True,
           front_samples: int = 6, resume: bool = False
           ) -> tuple[Searcher, Choice, list[dict[str, Any]]]:
    """Run the rounds (module docstring); return the last round's searcher, its derived choice
    and the rounds' records (also written to ``RUN/search/evolution.json``).

    With ``resume``, finished rounds are rebuilt from their final checkpoints (their records
    stand) and the interrupted one continues from its checkpoint."""
    pool = list(lut.space.ops)
    if cfg.evolve_active >= len(pool):
        raise UserError(f"--evolve-active {cfg.evolve_active} leaves nothing to evolve in the "
                        f"table's pool of {len(pool)} ops; profile --space pool")
    active, pending = pool[: cfg.evolve_active], pool[cfg.evolve_active:]
    record_file = Path(out) / "search" / "evolution.json"
    records: list[dict[str, Any]] = []
    if resume and record_file.is_file():
        records = json.loads(record_file.read_text())["rounds"]
    prev: Searcher | None = None
    reference: dict[str, torch.Tensor] | None = None
    derived: Choice | None = None
    for r in range(cfg.evolve_rounds):
        searcher = Searcher(round_config(cfg, active, r), lut,
                            Path(out) / "search" / "rounds" / str(r), progress=progress)
        if prev is not None:
            transfer(prev, searcher)
        # ABS's reference: every op's initialisation, kept across the rounds it survives.
        init_file = searcher.dir.path / "init_state.pt"
        if resume and searcher.dir.checkpoint.is_file() and init_file.is_file():
            init_state = torch.load(init_file, weights_only=True)
            searcher.restore()
        else:
            init_state = abs_reference(searcher, prev, reference)
            searcher.dir.path.mkdir(parents=True, exist_ok=True)
            with atomic_path(init_file) as tmp:
                torch.save(init_state, tmp)
        logger.info(f"evolution round {r + 1}/{cfg.evolve_rounds}: {', '.join(active)}")
        derived = searcher.search()  # returns at once for a round that had finished
        if r < len(records):
            rec = records[r]
        else:
            weights, logits = weight_scores(searcher), logit_scores(searcher)
            if cfg.evolve_criterion == "abs":
                scores = abs_scores(searcher, init_state, cfg.seed)
                tiebreak = [("weight", weights), ("logit", logits)]
            else:
                scores, tiebreak = weights, [("logit", logits)]
            points = round_front(searcher, front_samples, cfg.seed + r)
            rec = {"round": r, "active": list(active), "criterion": cfg.evolve_criterion,
                   "scores": scores, "tiebreak_scores": dict(tiebreak),
                   "iterations": searcher.iteration,
                   "seconds": round(searcher.seconds, 2),
                   "derived": derived.architecture(searcher.space).to_dict(),
                   "derived_predicted_ms": searcher.predict_choice(derived),
                   "supernet_val": searcher.history[-1]["val"] if searcher.history else None,
                   "samples": points, "pareto_front": pareto(points)}
            if r + 1 < cfg.evolve_rounds:
                turn = next_active(active, scores, pending, cfg.evolve_drop, tiebreak,
                                   seed=cfg.seed + 1000 * r,
                                   criterion=cfg.evolve_criterion)
                rec.update(dropped=turn.dropped, added=turn.added, next_active=turn.active,
                           pending_after=turn.pending, tie=turn.tie)
                if turn.tie is not None:
                    logger.info(f"round {r + 1}: {', '.join(turn.tie['among'])} tied on "
                        f"{', '.join(turn.tie['tied_on'])}; broken by {turn.tie['broken_by']}")
            records.append(rec)
            write_json_atomic(record_file, {"pool": pool, "rounds": records})
        if r + 1 < cfg.evolve_rounds:
            active, pending = list(rec["next_active"]), list(rec["pending_after"])
        prev, reference = searcher, init_state
    assert prev is not None and derived is not None
    return prev, derived, records
