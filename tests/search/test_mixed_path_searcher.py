"""Mixed-path search (--relaxation sparse-group-lasso): costs agree with the table's folded
prediction, the fit cuts what the search valued least, the derived network inherits exactly
the supernet's path, and a whole run derives, fine-tunes and exports folded."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import onnx
import pytest
import torch

from pipeline.latency.roofline import estimate_table
from pipeline.networks import build_network
from pipeline.networks.mixed_path import LINEAR_BRANCHES
from pipeline.search.config import SearchConfig
from pipeline.search.mixed_path_search import (
    MixedChoice,
    MixedCosts,
    MixedSupernet,
    fit_mixed,
    inherit_mixed_state,
    kept_choice,
    last_kept,
)
from pipeline.search.run import run_search
from pipeline.search_space import MIXED_SPACE
from tests.networks.test_mixed_path import randomise_bn

SMALL = replace(MIXED_SPACE, max_cells=3, channels=8)


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    """A roofline table of the small mixed space: deterministic, nothing measured."""
    t = estimate_table("jetson-orin-nano", SMALL, (1280, 720), "fp32")
    t.save(tmp_path_factory.mktemp("lut") / "mixed.json")
    return t


def random_alpha(seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    a = torch.rand(SMALL.max_cells, SMALL.edges_per_cell, len(LINEAR_BRANCHES), generator=g)
    return torch.where(a < 0.4, torch.zeros_like(a), a)  # some exact zeros, edges dropped


@pytest.mark.parametrize("seed", range(4))
def test_search_costs_are_the_tables_folded_prediction(table, seed):
    costs = MixedCosts(table, SMALL)
    choice = kept_choice(random_alpha(seed), 3)
    arch = choice.architecture(SMALL)
    assert costs.predict(choice) == pytest.approx(table.predict_ms(arch), rel=1e-9)


def test_fit_cuts_the_least_valued_branch_per_millisecond(table):
    costs = MixedCosts(table, SMALL)
    alpha = torch.full((3, 2, 3), 0.5)
    alpha[1, 0, 0] = 0.01  # the search barely wanted this 3x3
    full = kept_choice(alpha, 3)
    budget = costs.predict(full) - 0.5 * (costs.layer["rep3x3"] - costs.layer["rep1x1"]) * costs.a
    fit = fit_mixed(full, alpha, costs, budget, 0.9, 1.0)
    assert fit.predicted_ms <= budget and fit.moves[0].startswith("cell 1 edge 0: cut conv3x3")
    assert fit.choice.kept[1][0] == ("conv1x1", "identity")
    tight = fit_mixed(full, alpha, costs, costs.predict(MixedChoice(((),) * 3, 3)) * 0.5,
                      0.9, 1.0)
    assert tight.reason and not tight.in_window  # nothing left to cut


def test_fit_adds_back_what_the_search_kept_longest_without_passing_the_ceiling(table):
    costs = MixedCosts(table, SMALL)
    alpha = torch.zeros(3, 2, 3)
    alpha[0, 0, 1] = 0.5  # the search ended with one 1x1 kept
    when = torch.full((3, 2, 3), 10)
    value = torch.full((3, 2, 3), 0.3)
    when[2, 1, 0], value[2, 1, 0] = 90, 0.2  # this 3x3 was kept until late
    when[1, 1, :] = -1  # this edge was never kept: never added
    start = kept_choice(alpha, 3)
    one_3x3 = costs.a * costs.layer["rep3x3"]
    budget = costs.predict(start) + 1.5 * one_3x3
    fit = fit_mixed(start, alpha, costs, budget, 0.9, 1.0, when=when, value=value)
    assert fit.moves[0].startswith("cell 2 edge 1: add conv3x3 back")
    assert fit.predicted_ms <= budget
    assert fit.choice.kept[1][1] == ()
    assert "conv1x1" in fit.choice.kept[0][0]  # what the search kept stays
    # Without a trajectory the fit only cuts, and says the result is under the window.
    bare = fit_mixed(start, alpha, costs, budget, 0.9, 1.0)
    assert bare.choice == start and not bare.in_window and "under" in bare.reason


def test_last_kept_reads_the_trajectory():
    pts = [{"iteration": 1, "alpha": [[[0.5, 0.5, 0.0]]]},
           {"iteration": 2, "alpha": [[[0.0, 0.4, 0.0]]]},
           {"iteration": 3, "alpha": [[[0.0, 0.0, 0.0]]]}]
    when, value = last_kept(pts, (1, 1, 3))
    assert when.tolist() == [[[1, 2, -1]]]
    assert value.flatten().tolist() == pytest.approx([0.5, 0.4, 0.0])


def test_a_cut_branch_and_a_cut_edge_still_get_a_gradient_to_grow_back():
    torch.manual_seed(0)
    net = MixedSupernet(SMALL)
    alpha = torch.full((3, 2, 3), 0.5)
    alpha[0, 0, 1] = 0.0  # one branch cut
    alpha[1, 1, :] = 0.0  # a whole edge cut
    alpha.requires_grad_(True)
    x = torch.rand(2, 3, 12, 16)
    ref = net(x, alpha.detach())  # the weight step's forward: cut branches skipped
    out = net(x, alpha)
    assert torch.allclose(out, ref, atol=1e-6)  # same value with every branch run
    out.square().mean().backward()
    assert alpha.grad[0, 0, 1] != 0 and (alpha.grad[1, 1] != 0).all()


def test_the_derived_network_computes_what_the_supernet_path_computed():
    torch.manual_seed(0)
    net = MixedSupernet(SMALL)
    randomise_bn(net, 4, strength=0.3)
    net.eval()
    alpha = random_alpha(7)
    choice = kept_choice(alpha, net.kernel)
    arch = choice.architecture(SMALL)
    derived = build_network(arch)
    derived.load_state_dict(inherit_mixed_state(net, choice, alpha, arch))
    derived.eval()
    x = torch.rand(2, 3, 12, 16)
    with torch.no_grad():
        assert torch.allclose(derived(x), net(x, alpha), atol=1e-5)


def test_a_mixed_path_search_run_derives_fine_tunes_and_exports_folded(tmp_path, image_folder,
                                                                       table):
    from export.exporter import ExportRequest, export_run

    lo, hi = table.reachable_range()
    cfg = SearchConfig(budget_ms=float(lo + 0.4 * (hi - lo)), lut=str(table.path),
                       relaxation="sparse-group-lasso", train_data=[str(image_folder)],
                       val_data=[str(image_folder)], iters=10, batch_size=2, patch_size=16,
                       finetune_batch_size=2, finetune_patch_size=16, threads=1, seed=0)
    out = tmp_path / "run"
    summary = run_search(cfg, table, out, progress=False)
    result = json.loads((out / "search" / "result.json").read_text())
    arch = json.loads((out / "arch.json").read_text())
    ops = [op["op"] for cell in arch["cells"] for op in cell["ops"]]
    assert all(op.startswith("rep") for op in ops)
    assert summary["predicted_ms"] <= cfg.budget_ms or result["fit_reason"]
    traj = json.loads((out / "search" / "trajectories.json").read_text())
    assert traj["branches"] == list(LINEAR_BRANCHES)
    assert np.array(traj["points"][-1]["alpha"]).shape == (3, 2, 3)
    assert (out / "search" / "trajectories.png").is_file()
    ck = torch.load(out / "search" / "checkpoint.pt", weights_only=True)
    assert ck["a_opt"]["param_groups"][0]["grad_scale"] > 0  # λ's scale resumes with the run

    manifest = export_run(ExportRequest(run=out), progress=False, log=lambda m: None)
    static = next(a for a in manifest["artifacts"] if a.get("variant") == "static")
    graph = onnx.load(out / "export" / static["file"]).graph
    convs = sum(n.op_type == "Conv" for n in graph.node)
    assert convs == 1 + len(ops) + 1  # head, one folded conv per kept edge, upsampler
    assert not any(n.op_type == "BatchNormalization" for n in graph.node)
    assert manifest["parity"]["static_onnx"]["max_abs_diff"] <= 1e-5
