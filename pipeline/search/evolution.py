"""Search-space evolution (NSE; Ci et al., "Evolving Search Space for Neural Architecture
Search", ICCV 2021) over an op pool larger than one supernet holds (``--evolve-rounds``).

The table is made for the whole pool (``profile --space pool``). Round ``r`` searches a supernet
of ``evolve_active`` ops of the pool for ``1/R`` of the search budget, then:

1. ranks its ops, by their cell-level weight (the mean over every edge of the op's relaxed
   weight, each cell counted by its path weight: what the search kept) or by ABS (the mean
   angle of the sampled paths through the op, :mod:`pipeline.search.angle_shrinking`);
2. drops the ``evolve_drop`` lowest and draws as many from the pending pool, in pool order (the
   dropped ones go to the back of it, so a later round may try them again, as NSE's pool is);
3. builds the next round's supernet: the surviving ops keep their weights and logits on every
   edge (inheritance), the new ops start fresh with the mean of the survivors' logits; the head,
   the upsamplers and the network-level logits carry over.

Each round records its subset, the ranking, its derived network with the LUT prediction, and a
Pareto front: ``front_samples`` sub-networks drawn from the round's supernet, scored on the
validation set with the shared weights, against their predicted latency. The last round's
supernet is then derived, fitted, inherited and fine-tuned as a one-round search is.
"""

from __future__ import annotations

import copy
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from pipeline.errors import UserError
from pipeline.io_utils import atomic_path, write_json_atomic
from pipeline.latency.lut import LatencyTable
from pipeline.search.angle_shrinking import rank_ops, supernet_op_scores
from pipeline.search.config import SearchConfig
from pipeline.search.derive import Choice
from pipeline.search.searcher import Searcher, _FrozenSupernet
from pipeline.search.supernet import RelaxedWeights, one_hot_weights
from pipeline.training.trainer import validate


def round_config(cfg: SearchConfig, active: list[str], r: int) -> SearchConfig:
    """The configuration of round ``r``: the active ops, 1/R of the search budget, and a seed
    of its own (so that rounds draw other patches)."""
    n, f = cfg.evolve_rounds, cfg.search_fraction
    seed = cfg.seed + 1000 * r
    if cfg.iters is not None:
        return replace(cfg, ops=list(active), seed=seed,
                       iters=max(2, round(cfg.search_iters / n / f)))
    return replace(cfg, ops=list(active), seed=seed, minutes=cfg.search_minutes / n / f)


def weight_scores(searcher: Searcher) -> dict[str, float]:
    """Each op's relaxed weight, averaged over every edge, cells weighted by their path."""
    with torch.no_grad():
        w = searcher.relaxed()
    path = w.path.view(-1, 1, 1)
    per_op = (w.ops * path).sum((0, 1)) / (path.sum() * w.ops.shape[1])
    return {op: float(per_op[i]) for i, op in enumerate(searcher.space.ops)}


def abs_scores(searcher: Searcher, init_state: dict[str, torch.Tensor],
               seed: int) -> dict[str, float]:
    scores = supernet_op_scores(searcher.supernet, init_state, seed=seed)
    return dict(rank_ops(scores, list(searcher.space.ops)))


def next_active(active: list[str], scores: dict[str, float], pending: list[str],
                drop: int) -> tuple[list[str], list[str], list[str], list[str]]:
    """(next active ops, dropped, added, next pending): the ``drop`` lowest-scored ops leave
    for the back of the pool and the first ``drop`` pending ops come in (fewer if the pool is
    short); ties are broken by the active order."""
    ranked = sorted(active, key=lambda op: (scores[op], -active.index(op)))
    dropped = ranked[:min(drop, len(pending))]
    added = pending[:len(dropped)]
    keep = [op for op in active if op not in dropped]
    return keep + added, dropped, added, pending[len(dropped):] + dropped


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
        choice = Choice(len(arch.cells), cells, arch.upsampler.kernel)
        w = one_hot_weights(s, choice.depth, cells, choice.upsampler_kernel)
        w = RelaxedWeights(*(t.to(searcher.cfg.device) for t in
                             (w.depth, w.path, w.upsampler, w.ops, w.widths)))
        val = validate(_FrozenSupernet(searcher.supernet, w), searcher.cfg)
        points.append({"predicted_ms": searcher.predict_choice(choice),
                       "psnr_y": next(iter(val.values()))["psnr_y"],
                       "cells": [list(c) for c in cells[: choice.depth]]})
    return points


def evolve(cfg: SearchConfig, lut: LatencyTable, out: Path, progress: bool = True,
           front_samples: int = 6, resume: bool = False,
           log=print) -> tuple[Searcher, Choice, list[dict[str, Any]]]:
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
    derived: Choice | None = None
    for r in range(cfg.evolve_rounds):
        searcher = Searcher(round_config(cfg, active, r), lut,
                            Path(out) / "search" / "rounds" / str(r), progress=progress)
        if prev is not None:
            transfer(prev, searcher)
        init_file = searcher.dir.path / "init_state.pt"
        if resume and searcher.dir.checkpoint.is_file() and init_file.is_file():
            init_state = torch.load(init_file, weights_only=True)
            searcher.restore()
        else:
            init_state = copy.deepcopy(searcher.supernet.state_dict())
            searcher.dir.path.mkdir(parents=True, exist_ok=True)
            with atomic_path(init_file) as tmp:
                torch.save(init_state, tmp)
        log(f"evolution round {r + 1}/{cfg.evolve_rounds}: {', '.join(active)}")
        derived = searcher.search()  # returns at once for a round that had finished
        if r < len(records):
            rec = records[r]
        else:
            scores = (abs_scores(searcher, init_state, cfg.seed) if cfg.evolve_criterion == "abs"
                      else weight_scores(searcher))
            points = round_front(searcher, front_samples, cfg.seed + r)
            rec = {"round": r, "active": list(active), "criterion": cfg.evolve_criterion,
                   "scores": scores, "iterations": searcher.iteration,
                   "seconds": round(searcher.seconds, 2),
                   "derived": derived.architecture(searcher.space).to_dict(),
                   "derived_predicted_ms": searcher.predict_choice(derived),
                   "supernet_val": searcher.history[-1]["val"] if searcher.history else None,
                   "samples": points, "pareto_front": pareto(points)}
            if r + 1 < cfg.evolve_rounds:
                nxt, dropped, added, left = next_active(active, scores, pending,
                                                        cfg.evolve_drop)
                rec.update(dropped=dropped, added=added, next_active=nxt, pending_after=left)
            records.append(rec)
            write_json_atomic(record_file, {"pool": pool, "rounds": records})
        if r + 1 < cfg.evolve_rounds:
            active, pending = list(rec["next_active"]), list(rec["pending_after"])
        prev = searcher
    assert prev is not None and derived is not None
    return prev, derived, records
