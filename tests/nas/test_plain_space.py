"""The plain space (issue 16, item 4): 3×3 conv, ECB and 1×1 conv chains at a searched trunk
width, through the supernet, the costs, the derivation and the fit."""

import itertools

import numpy as np
import pytest
import torch

from tnas_pipeline.nas.derive import derive, inherit_state
from tnas_pipeline.nas.fit import fit_to_budget
from tnas_pipeline.nas.latency_term import CostTables, param_costs
from tnas_pipeline.nas.random_choice import random_choice
from tnas_pipeline.nas.supernet import ArchParams, Supernet, one_hot_weights
from tnas_pipeline.networks.builder import build_network
from tnas_pipeline.search_space import DEFAULT_SPACE, PLAIN_SPACE, SPACES, SearchSpace


@pytest.fixture
def plain() -> SearchSpace:
    return SearchSpace(ops=("conv3x3", "ecb", "conv1x1"), widths=(), max_cells=2,
                       trunk_widths=(8, 16), channels=16)


def test_the_plain_space_is_registered_and_older_spaces_keep_their_hash():
    assert SPACES["plain"] is PLAIN_SPACE and PLAIN_SPACE.single_path
    assert "trunk_widths" in PLAIN_SPACE.to_dict()
    assert "trunk_widths" not in DEFAULT_SPACE.to_dict()
    assert DEFAULT_SPACE.hash == "d312fdefb49e77b1"  # the shipped tables' hash
    assert DEFAULT_SPACE.trunk_choices == (32,) and PLAIN_SPACE.width_choices == (None,)
    with pytest.raises(ValueError, match="trunk widths"):
        SearchSpace(trunk_widths=(16, 24), channels=32)


@pytest.mark.parametrize("trunk", [8, 16])
def test_the_supernet_path_is_exactly_the_derived_network(plain, trunk):
    """One-hot weights at a trunk width compute what the derived network, with the weights it
    inherits, computes: the trunk mask zeroes the channels the narrow network does not have,
    ECB's expand branch included."""
    torch.manual_seed(0)
    net = Supernet(plain)
    cells = [[("ecb", None), ("conv3x3", None)], [("conv1x1", None), ("ecb", None)]]
    x = torch.rand(2, 3, 9, 11)
    w = one_hot_weights(plain, 2, cells, 3, trunk)
    arch = plain.architecture(cells, 3, trunk=trunk)
    assert arch.head.out == trunk and all(op.out == trunk for c in arch.cells for op in c.ops)
    sub = build_network(arch)
    sub.load_state_dict(inherit_state(net, arch))
    assert torch.allclose(sub(x), net(x, w), atol=1e-6)


def test_the_trunk_is_derived_and_random_draws_cover_it(plain):
    params = ArchParams(plain)
    with torch.no_grad():
        params.trunk[1] = 0.4
    choice = derive(params, params.relaxed("sparsestmax", 1.0), plain)
    assert choice.trunk == 16 and all(w is None for c in choice.cells for _, w in c)
    assert choice.architecture(plain).head.out == 16
    trunks = {random_choice(plain, np.random.default_rng(s)).trunk for s in range(20)}
    assert trunks == {8, 16}
    # A space without a trunk choice draws what it drew before (the trunk is drawn last).
    assert random_choice(DEFAULT_SPACE, np.random.default_rng(3)).trunk is None


def test_expected_cost_with_a_trunk_is_the_enumerated_mean(plain):
    """Parameters (exact counts per trunk) under soft weights: E over trunk, depth, ops and
    upsampler of every discrete network's count."""
    costs = param_costs(plain)
    params = ArchParams(plain)
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in (params.upsampler, params.ops, params.trunk):
            p.normal_(0, 1, generator=gen)
        params.depth.fill_(1.3)
    w = params.relaxed("softmax", 0.0).map(lambda t: t.detach())
    total = 0.0
    for t, trunk in enumerate(plain.trunk_choices):
        net_count = {}
        for d in range(plain.max_cells):
            for k, kernel in enumerate(plain.upsampler_kernels):
                for ops in itertools.product(range(3), repeat=2 * (d + 1)):
                    prob = float(w.trunk[t] * w.depth[d] * w.upsampler[k])
                    cells = []
                    for n in range(d + 1):
                        pair = ops[2 * n: 2 * n + 2]
                        prob *= float(w.ops[n, 0, pair[0]] * w.ops[n, 1, pair[1]])
                        cells.append([(plain.ops[pair[0]], None), (plain.ops[pair[1]], None)])
                    arch = plain.architecture(cells, kernel, trunk=trunk)
                    key = str(arch.to_dict())
                    if key not in net_count:
                        net_count[key] = sum(p.numel() for p in build_network(arch).parameters())
                    # the discrete sum matches the built network, bias of head and convs aside
                    assert costs.discrete(cells, kernel, plain, trunk) <= net_count[key]
                    total += prob * costs.discrete(cells, kernel, plain, trunk)
    assert float(costs.expected(w)) == pytest.approx(total, rel=1e-5)


def test_the_fit_moves_the_trunk(plain):
    costs = CostTables(fixed=torch.tensor([1.0, 2.0], dtype=torch.float64),
                       upsampler=torch.tensor([[0.5, 1.0], [1.0, 2.0]], dtype=torch.float64),
                       op=torch.tensor([[[1.0], [1.0], [0.3]], [[4.0], [4.0], [1.0]]],
                                       dtype=torch.float64))
    start = derive(ArchParams(plain), ArchParams(plain).relaxed("softmax", 0.0), plain)

    def predict(c):
        return costs.discrete([list(x) for x in c.cells[: c.depth]], c.upsampler_kernel, plain,
                              c.trunk)

    assert start.trunk == 8
    fit = fit_to_budget(start, ArchParams(plain, neutral=True), predict, plain, 12.0)
    assert fit.in_window and fit.choice.trunk == 16, fit.moves


def test_the_trajectory_plot_shows_the_trunk(tmp_path, plain):
    """A space without inner widths plots its trunk weights at the kernel level (it crashed)."""
    from tnas_pipeline.nas.trajectory import Trajectory

    t = Trajectory(plain)
    w = ArchParams(plain).relaxed("sparsestmax", 0.3).map(lambda x: x.detach())
    for i in range(3):
        t.add(i, 0.3, 0.2, 0.1, {"latency_ms": 5.0}, w)
    t.plot(tmp_path / "t.png", 6.0)
    assert (tmp_path / "t.png").stat().st_size > 0
    assert t.to_json(6.0)["levels"]["kernel"]["trunk"] == [8, 16]
