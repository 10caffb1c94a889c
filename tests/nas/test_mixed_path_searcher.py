"""Mixed-path search (--relaxation sparse-group-lasso): costs agree with the table's folded
prediction and the proximal step charges the folded cost, the supernet has no scale but α,
the weight step trains at the proximal point, the fit cuts what the search valued least, the
derived network inherits exactly the supernet's path (folded too), and a whole run derives,
fine-tunes and exports folded."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import onnx
import pytest
import torch
from torch import nn

from tests.networks.test_mixed_path import randomise_bn
from tnas_pipeline.latency.roofline import estimate_table
from tnas_pipeline.nas.config import SearchConfig
from tnas_pipeline.nas.mixed_path_search import (
    MixedChoice,
    MixedCosts,
    MixedSupernet,
    fit_mixed,
    inherit_mixed_state,
    kept_choice,
    last_kept,
)
from tnas_pipeline.nas.mixed_path_searcher import MixedPathSearcher
from tnas_pipeline.nas.run import run_search
from tnas_pipeline.nas.sparse_group_lasso import SGLWeights, prox_sgl
from tnas_pipeline.networks import build_network
from tnas_pipeline.networks.reparam import LINEAR_BRANCHES, REP_OPS, reparameterize_model
from tnas_pipeline.search_space import MIXED_SPACE

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


@pytest.mark.parametrize("branches", [(), *REP_OPS.values()])
def test_the_latency_charged_to_an_edge_is_its_folded_cost(table, branches):
    """The groups the proximal step charges (edge: a folded 1×1; 3×3 leaf: the rest of a folded
    3×3), summed over what an edge keeps, are the folded layer's cost for every branch set:
    {3×3, 1×1} costs a folded 3×3, not a 3×3 plus a 1×1."""
    costs = MixedCosts(table, SMALL)
    assert costs.layer["rep3x3"] > costs.layer["rep1x1"] > 0
    assert costs.charged_ms(branches) == pytest.approx(costs.a * costs.edge_ms(branches),
                                                       rel=1e-12)
    # The same through the proximal step's own charges (edge group, leaves), at any scale.
    leaf, edge = costs.prox_charges(2.5)
    kept = [LINEAR_BRANCHES.index(b) for b in branches]
    charged = (edge if branches else 0.0) + float(leaf[kept].sum())
    assert charged == pytest.approx(2.5 * costs.charged_ms(branches) / costs.full_edge_ms)


def test_the_proximal_step_cuts_at_the_folded_costs(table):
    """A lone 1×1 survives above the 1×1 charge, a lone 3×3 above the 3×3 charge; a 1×1 beside
    a kept 3×3 pays nothing of its own (the edge's group is paid once)."""
    costs = MixedCosts(table, SMALL)
    leaf, edge = costs.prox_charges(1.0)
    t3 = float(leaf[0]) + edge  # a folded 3x3 edge, in the step's units (1.0)
    assert t3 == pytest.approx(1.0) and edge == pytest.approx(
        costs.layer["rep1x1"] / costs.layer["rep3x3"])

    def prox(a3, a1, aid=0.0):
        a = torch.tensor([[[a3, a1, aid]]], dtype=torch.float64)
        return prox_sgl(a, 1.0, SGLWeights(), nonnegative=True, l1_extra=leaf,
                        edge_extra=edge)[0, 0]

    assert prox(0.0, 0.99 * edge)[1] == 0 and prox(0.0, 1.01 * edge)[1] > 0
    assert prox(0.99 * t3, 0.0)[0] == 0 and prox(1.01 * t3, 0.0)[0] > 0
    # Beside a large 3x3 the 1x1 is not thresholded by its own cost: only the edge's group
    # shrinks it, by the same factor as the 3x3 (the old additive charge cut it first).
    big = prox(10.0, 0.5 * edge)
    assert big[1] > 0 and big[1] / (0.5 * edge) == pytest.approx(big[0] / (10.0 - leaf[0]))


def test_the_supernet_has_no_scale_but_alpha():
    """No batch-norm γ, β in the supernet: α is the only scale of a branch, so the ℓ1 term
    cannot be dodged by shrinking α while γ grows (the scale symmetry)."""
    torch.manual_seed(0)
    net = MixedSupernet(SMALL)
    bns = [m for m in net.cells.modules() if isinstance(m, nn.BatchNorm2d)]
    assert len(bns) == SMALL.max_cells * SMALL.edges_per_cell * len(LINEAR_BRANCHES)
    assert not any(m.affine for m in bns)
    assert not any(".bn." in n for n, _ in net.named_parameters())
    # Every branch output is normalised in the supernet's training mode: whatever its conv
    # weights, a branch contributes α_b times a unit-variance signal.
    x = torch.rand(4, 3, 12, 16)
    h = net.head(x)
    for branch in net.cells[0][0]:
        y = branch(h)
        assert torch.allclose(y.var((0, 2, 3), unbiased=False), torch.ones(SMALL.channels),
                              atol=1e-2)


def test_the_weight_step_trains_at_the_proximal_point(tmp_path, image_folder, table):
    """The weight step runs the supernet at the last proximal point (exact zeros), not at the
    accelerated step's momentum look-ahead that ``arch.alpha`` holds between steps."""
    lo, hi = table.reachable_range()
    cfg = SearchConfig(budget_ms=float(lo + 0.4 * (hi - lo)), lut=str(table.path),
                       relaxation="sparse-group-lasso", train_data=[str(image_folder)],
                       val_data=[str(image_folder)], iters=10, batch_size=2, patch_size=16,
                       threads=1, seed=0)
    s = MixedPathSearcher(cfg, table, tmp_path / "run", progress=False)
    for _ in range(3):
        s._arch_step()
    with torch.no_grad():  # a cut branch: the look-ahead still holds it, the prox does not
        state = s.a_opt.state[s.arch.alpha]
        state["prox"][0, 0, 0] = 0.0
    prox = s.sparse_alpha()
    look_ahead = s.arch.alpha.detach().clone()
    assert not torch.equal(prox, look_ahead) and look_ahead[0, 0, 0] != 0
    seen = []
    supernet = s.net

    class Spy(nn.Module):
        def forward(self, x, alpha):
            seen.append(alpha.detach().clone())
            return supernet(x, alpha)

    s.net = Spy()
    s._weight_step()
    assert len(seen) == 1 and torch.equal(seen[0], prox)
    assert torch.equal(s.frozen_weights(), prox)  # validation sees the same network


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
    state = inherit_mixed_state(net, choice, alpha, arch)
    derived.load_state_dict(state)
    derived.eval()
    # The supernet's α is the derived branches' batch-norm scale (γ = α, β = 0, alphas 1).
    layer = next(m for m in derived.cells.modules() if hasattr(m, "kinds"))
    n, e, kept = next((n, e, b) for n, c in enumerate(choice.kept) for e, b in enumerate(c)
                      if b)
    for j, b in enumerate(kept):
        bn = layer.branches[j].bn
        a = float(alpha[n, e, LINEAR_BRANCHES.index(b)])
        assert torch.allclose(bn.weight, torch.full_like(bn.weight, a))
        assert torch.equal(bn.bias, torch.zeros_like(bn.bias))
    assert torch.equal(layer.alphas, torch.ones(len(kept)))
    x = torch.rand(2, 3, 12, 16)
    with torch.no_grad():
        want = net(x, alpha)
        assert torch.allclose(derived(x), want, atol=1e-5)
        folded = reparameterize_model(derived)  # one conv per edge: still the supernet's path
        assert not any(isinstance(m, nn.BatchNorm2d) for m in folded.cells.modules())
        assert torch.allclose(folded(x), want, atol=1e-5)


def test_a_mixed_path_search_run_derives_fine_tunes_and_exports_folded(tmp_path, image_folder,
                                                                       table):
    from tnas_pipeline.deploy.exporter import ExportRequest, export_run

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

    manifest = export_run(ExportRequest(run=out), progress=False)
    static = next(a for a in manifest["artifacts"] if a.get("variant") == "static")
    graph = onnx.load(out / "export" / static["file"]).graph
    convs = sum(n.op_type == "Conv" for n in graph.node)
    assert convs == 1 + len(ops) + 1  # head, one folded conv per kept edge, upsampler
    assert not any(n.op_type == "BatchNormalization" for n in graph.node)
    assert manifest["parity"]["static_onnx"]["max_abs_diff"] <= 1e-5
