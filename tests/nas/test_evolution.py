"""Search-space evolution (NSE): the op turnover (ties never broken by list order), weight
inheritance between rounds, ABS's reference kept at each op's initialisation, and a whole
evolution run over a pool larger than one supernet."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
import torch

from tnas_pipeline.latency.roofline import estimate_table
from tnas_pipeline.nas.config import SearchConfig
from tnas_pipeline.nas.evolution import (
    abs_reference,
    lowest,
    next_active,
    pareto,
    round_config,
    transfer,
)
from tnas_pipeline.nas.run import run_search
from tnas_pipeline.nas.searcher import Searcher
from tnas_pipeline.search_space import POOL_SPACE

POOL = replace(POOL_SPACE, max_cells=2, widths=(4, 8), channels=8)


@pytest.fixture(scope="module")
def pool_table(tmp_path_factory):
    t = estimate_table("jetson-orin-nano", POOL, (1280, 720), "fp32")
    t.save(tmp_path_factory.mktemp("lut") / "pool.json")
    return t


def test_the_lowest_ops_leave_for_the_back_of_the_pool_and_pending_ones_come_in():
    active, pending = ["a", "b", "c", "d"], ["e", "f", "g"]
    scores = {"a": 0.4, "b": 0.1, "c": 0.3, "d": 0.05}
    nxt, dropped, added, left, tie = next_active(active, scores, pending, 2)
    assert dropped == ["d", "b"] and added == ["e", "f"] and tie is None
    assert nxt == ["a", "c", "e", "f"] and left == ["g", "d", "b"]
    # A short pool replaces only as many as it has.
    nxt, dropped, added, left, tie = next_active(active, scores, ["e"], 2)
    assert dropped == ["d"] and nxt == ["a", "b", "c", "e"] and left == ["d"]


def test_a_tie_goes_to_the_next_measurement_not_to_the_list_order():
    """Three ops at weight 0 (sparsestmax's exact zeros), one place to free: the logits decide,
    whatever the order of the active list; a tie that the cut does not split is no tie."""
    scores = {"a": 0.0, "b": 0.0, "c": 0.6, "d": 0.0}
    logits = {"a": -0.2, "b": -0.9, "c": 1.0, "d": 0.3}
    for active in (["a", "b", "c", "d"], ["d", "c", "b", "a"], ["b", "a", "d", "c"]):
        turn = next_active(active, scores, ["e"], 1, [("logit", logits)], criterion="weight")
        assert turn.dropped == ["b"]
        assert turn.tie == {"among": ["a", "b", "d"], "places": 1, "tied_on": ["weight"],
                            "broken_by": "logit"}
    # Within the tolerance is a tie too; an op clearly below goes first, the tie fills the rest.
    near = {"a": 0.1, "b": 0.1 + 1e-12, "c": 0.6, "d": 0.05}
    turn = next_active(["a", "b", "c", "d"], near, ["e", "f"], 2,
                       [("logit", {"a": 0.5, "b": 0.4, "c": 0.0, "d": 0.0})])
    assert turn.dropped == ["d", "b"] and turn.tie["places"] == 1
    whole = next_active(["a", "b", "c", "d"], {"a": 0.1, "b": 0.1, "c": 0.6, "d": 0.7},
                        ["e", "f"], 2)
    assert sorted(whole.dropped) == ["a", "b"] and whole.tie is None


def test_a_tie_on_every_measurement_is_a_seeded_draw_recorded_as_such():
    """Tied on every criterion: the places are drawn by the seed, the same draw whatever the
    list order (the old ranking dropped the last ops of the list), and recorded."""
    ops = ["a", "b", "c", "d", "e", "f"]
    flat = {op: 0.0 for op in ops}
    draws = set()
    for seed in range(12):
        picks = []
        for order in (ops, ops[::-1], ops[2:] + ops[:2]):
            dropped, tie = lowest(order, 2, [("weight", flat), ("logit", flat)], seed)
            assert tie["broken_by"] == "random draw" and tie["seed"] == seed
            assert tie["tied_on"] == ["weight", "logit"] and tie["among"] == sorted(ops)
            assert sorted(dropped) == tie["drawn"]
            picks.append(tuple(sorted(dropped)))
        assert len(set(picks)) == 1  # the list's order plays no part
        draws.add(picks[0])
    assert len(draws) > 1  # and the seed does
    # With no tie-breaker at all the same holds.
    dropped, tie = lowest(["x", "y"], 1, [("weight", {"x": 1.0, "y": 1.0})], 3)
    assert tie["broken_by"] == "random draw" and dropped == tie["drawn"]


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


def test_abs_measures_every_op_from_its_original_initialisation(tmp_path, image_folder,
                                                              pool_table):
    """Two rounds after the first, a surviving op's ABS reference is still the weights it was
    created with in round 0 (not the weights a later round started from); a new op's is its
    fresh initialisation, and the head's stays round 0's."""
    cfg = cfg_for(pool_table, image_folder)
    ops0 = ["resblock3x3", "conv3x3_1x1", "invres3x3", "invres5x5"]
    ops1 = ["resblock3x3", "invres3x3", "resblock5x5", "invres7x7"]
    ops2 = ["invres7x7", "resblock3x3", "conv5x5_1x1", "resblock1x1"]
    rounds, refs = [], []
    for r, ops in enumerate((ops0, ops1, ops2)):
        s = Searcher(round_config(cfg, ops, r), pool_table, tmp_path / f"r{r}", progress=False)
        if rounds:
            transfer(rounds[-1], s)
        refs.append(abs_reference(s, rounds[-1] if rounds else None, refs[-1] if refs else None))
        with torch.no_grad():  # the round trains: every weight moves
            for p in s.supernet.parameters():
                p.add_(torch.randn_like(p))
        rounds.append(s)
    original = refs[0]
    for n in range(POOL.max_cells):
        for e in range(POOL.edges_per_cell):
            for key, t in original.items():
                if key.startswith(f"cells.{n}.{e}.0."):  # resblock3x3: ops0[0] → ops2[1]
                    now = key.replace(f"cells.{n}.{e}.0.", f"cells.{n}.{e}.1.")
                    assert torch.equal(refs[2][now], t)
                    assert not torch.equal(refs[2][now], rounds[1].supernet.state_dict()[key])
            # invres7x7 entered in round 1 (index 3) and sits at index 0 in round 2: its
            # reference is its round-1 initialisation.
            for key, t in refs[1].items():
                if key.startswith(f"cells.{n}.{e}.3."):
                    now = key.replace(f"cells.{n}.{e}.3.", f"cells.{n}.{e}.0.")
                    assert torch.equal(refs[2][now], t)
    head = [k for k in original if k.startswith("head.")]
    assert head and all(torch.equal(refs[2][k], original[k]) for k in head)


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
    assert "tie" in first and set(first["tiebreak_scores"]) == (
        {"weight", "logit"} if criterion == "abs" else {"logit"})
    for r in rec["rounds"]:
        assert set(r["scores"]) == set(r["active"]) and r["pareto_front"]
    # ABS's reference of a surviving op in round 1 is its round-0 initialisation.
    rounds = out / "search" / "rounds"
    init = [torch.load(rounds / str(r) / "search" / "init_state.pt", weights_only=True)
            for r in range(2)]
    trained = torch.load(rounds / "0" / "search" / "checkpoint.pt",
                         weights_only=True)["supernet"]
    survivor = next(op for op in first["active"] if op not in first["dropped"])
    i0, i1 = first["active"].index(survivor), last["active"].index(survivor)
    keys = [k for k in init[0] if k.startswith(f"cells.0.0.{i0}.") and "weight" in k]
    assert keys
    for k in keys:
        k1 = k.replace(f"cells.0.0.{i0}.", f"cells.0.0.{i1}.")
        assert torch.equal(init[1][k1], init[0][k])
        assert not torch.equal(init[1][k1], trained[k])  # round 0 did train it
        assert all(p["predicted_ms"] > 0 for p in r["samples"])
    arch = json.loads((out / "arch.json").read_text())
    used = {op["op"] for cell in arch["cells"] for op in cell["ops"]}
    assert used <= set(last["active"])
    result = json.loads((out / "search" / "result.json").read_text())
    assert result["evolution"] == rec["rounds"]
    assert summary["search_iterations"] == sum(r["iterations"] for r in rec["rounds"])
