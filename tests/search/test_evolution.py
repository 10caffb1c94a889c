"""Search-space evolution (NSE): the op turnover, weight inheritance between rounds, and a
whole evolution run over a pool larger than one supernet."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
import torch

from pipeline.latency.roofline import estimate_table
from pipeline.search.config import SearchConfig
from pipeline.search.evolution import next_active, pareto, round_config, transfer
from pipeline.search.run import run_search
from pipeline.search.searcher import Searcher
from pipeline.search_space import POOL_SPACE

POOL = replace(POOL_SPACE, max_cells=2, widths=(4, 8), channels=8)


@pytest.fixture(scope="module")
def pool_table(tmp_path_factory):
    t = estimate_table("jetson-orin-nano", POOL, (1280, 720), "fp32")
    t.save(tmp_path_factory.mktemp("lut") / "pool.json")
    return t


def test_the_lowest_ops_leave_for_the_back_of_the_pool_and_pending_ones_come_in():
    active, pending = ["a", "b", "c", "d"], ["e", "f", "g"]
    scores = {"a": 0.4, "b": 0.1, "c": 0.3, "d": 0.05}
    nxt, dropped, added, left = next_active(active, scores, pending, 2)
    assert dropped == ["d", "b"] and added == ["e", "f"]
    assert nxt == ["a", "c", "e", "f"] and left == ["g", "d", "b"]
    # A short pool replaces only as many as it has.
    nxt, dropped, added, left = next_active(active, scores, ["e"], 2)
    assert dropped == ["d"] and nxt == ["a", "b", "c", "e"] and left == ["d"]


def test_pareto_front_keeps_only_unbeaten_points():
    pts = [{"predicted_ms": 10, "psnr_y": 30}, {"predicted_ms": 20, "psnr_y": 29},
           {"predicted_ms": 30, "psnr_y": 31}, {"predicted_ms": 5, "psnr_y": 28}]
    assert [p["predicted_ms"] for p in pareto(pts)] == [5, 10, 30]


def cfg_for(table, image_folder, **kw):
    return SearchConfig(budget_ms=float(sum(table.reachable_range()) / 3), lut=str(table.path),
                        train_data=[str(image_folder)], val_data=[str(image_folder)],
                        iters=12, batch_size=2, patch_size=16, finetune_batch_size=2,
                        finetune_patch_size=16, threads=1, evolve_rounds=2, evolve_active=4,
                        evolve_drop=2, **kw)


def test_survivors_keep_their_weights_and_logits_new_ops_start_from_the_mean(
        tmp_path, image_folder, pool_table):
    cfg = cfg_for(pool_table, image_folder)
    first = Searcher(round_config(cfg, ["resblock3x3", "conv3x3_1x1", "invres3x3", "invres5x5"],
                                  0), pool_table, tmp_path / "r0", progress=False)
    with torch.no_grad():
        for p in first.arch.parameters():
            p.normal_()
    second = Searcher(round_config(cfg, ["resblock3x3", "invres3x3", "resblock5x5",
                                         "invres7x7"], 1), pool_table, tmp_path / "r1",
                      progress=False)
    transfer(first, second)
    for n in range(POOL.max_cells):
        for e in range(POOL.edges_per_cell):
            for new_i, old_i in ((0, 0), (1, 2)):  # resblock3x3, invres3x3 survive
                old = first.supernet.cells[n][e][old_i].state_dict()
                new = second.supernet.cells[n][e][new_i].state_dict()
                assert all(torch.equal(old[k], new[k]) for k in old)
                assert second.arch.ops[n, e, new_i] == first.arch.ops[n, e, old_i]
            mean = first.arch.ops[n, e, [0, 2]].mean()
            assert torch.allclose(second.arch.ops[n, e, 2:], mean.expand(2))
    assert torch.equal(second.arch.depth, first.arch.depth)


@pytest.mark.parametrize("criterion", ["weight", "abs"])
def test_an_evolution_run_records_every_round_and_derives_from_the_last(
        tmp_path, image_folder, pool_table, criterion):
    cfg = cfg_for(pool_table, image_folder, evolve_criterion=criterion)
    out = tmp_path / "run"
    summary = run_search(cfg, pool_table, out, progress=False)
    rec = json.loads((out / "search" / "evolution.json").read_text())
    assert rec["pool"] == list(POOL.ops)
    first, last = rec["rounds"]
    assert first["active"] == list(POOL.ops[:4]) and len(first["dropped"]) == 2
    assert last["active"] == first["next_active"]
    assert set(first["added"]) <= set(last["active"]) and not set(first["dropped"]) & set(
        last["active"])
    for r in rec["rounds"]:
        assert set(r["scores"]) == set(r["active"]) and r["pareto_front"]
        assert all(p["predicted_ms"] > 0 for p in r["samples"])
    arch = json.loads((out / "arch.json").read_text())
    used = {op["op"] for cell in arch["cells"] for op in cell["ops"]}
    assert used <= set(last["active"])
    result = json.loads((out / "search" / "result.json").read_text())
    assert result["evolution"] == rec["rounds"]
    assert summary["search_iterations"] == sum(r["iterations"] for r in rec["rounds"])
