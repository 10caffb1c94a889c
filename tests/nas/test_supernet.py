"""The supernet with one-hot weights is exactly the derived network with inherited weights."""

import numpy as np
import pytest
import torch

from tests.nas.conftest import one_hot_weights, random_cells
from tnas_pipeline.nas.derive import Choice, derive, inherit_state
from tnas_pipeline.nas.supernet import ArchParams, Supernet, masked_op_forward, width_masks
from tnas_pipeline.networks.builder import build_network
from tnas_pipeline.networks.ops import OPS


@pytest.mark.parametrize("seed", range(4))
def test_one_hot_supernet_equals_derived_network(small_space, seed):
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    net = Supernet(small_space).eval()
    cells = random_cells(small_space, rng)
    depth = int(rng.integers(1, small_space.max_cells + 1))
    kernel = small_space.upsampler_kernels[int(rng.integers(2))]
    w = one_hot_weights(small_space, depth, cells, kernel)
    choice = Choice(depth=depth, cells=tuple(tuple(c) for c in cells), upsampler_kernel=kernel)
    arch = choice.architecture(small_space)
    model = build_network(arch).eval()
    model.load_state_dict(inherit_state(net, arch))
    x = torch.rand(2, 3, 10, 12)
    with torch.no_grad():
        assert torch.allclose(net(x, w), model(x), atol=1e-5)


@pytest.mark.parametrize("op_index", range(4))
def test_width_mixture_is_the_weighted_sum_of_sliced_ops(small_space, op_index):
    """FBNetV2-style masking equals Σ_w β_w · op_w(x) exactly (each op is linear after its
    mask), and a one-hot mask equals the op built at that width with sliced weights."""
    torch.manual_seed(op_index)
    net = Supernet(small_space).eval()
    op = net.cells[0][0][op_index]
    masks = width_masks(small_space.widths)
    beta = torch.tensor([0.2, 0.5, 0.3])
    x = torch.rand(1, 8, 6, 6)
    with torch.no_grad():
        mixed = masked_op_forward(op, x, beta @ masks)
        parts = [masked_op_forward(op, x, m) for m in masks]
        assert torch.allclose(mixed, sum(b * p for b, p in zip(beta, parts, strict=True)),
                              atol=1e-6)
        name = small_space.ops[op_index]
        sliced = OPS.get(name).build(8, 8, 4, "relu")
        sliced.load_state_dict({k: v[tuple(slice(0, s) for s in sliced.state_dict()[k].shape)]
                                for k, v in op.state_dict().items()})
        assert torch.allclose(sliced(x), parts[0], atol=1e-6)


def test_zero_weight_choices_are_not_computed(small_space):
    torch.manual_seed(0)
    net = Supernet(small_space)
    cells = random_cells(small_space, np.random.default_rng(0))
    w = one_hot_weights(small_space, 1, cells, 1)
    net(torch.rand(1, 3, 8, 8), w).sum().backward()
    chosen = small_space.ops.index(cells[0][0][0])
    for o, op in enumerate(net.cells[0][0]):
        grads = [p.grad for p in op.parameters()]
        assert all(g is not None for g in grads) == (o == chosen)
    assert all(p.grad is None for p in net.cells[1].parameters())  # depth 1: cell 1 unused
    assert net.upsamplers[1].weight.grad is None                   # kernel 1 chosen


def test_derive_picks_the_largest_weights(small_space, arch_params):
    w = arch_params.relaxed("sparsestmax", 1.0)
    choice = derive(arch_params, w, small_space)
    assert choice.depth == int(w.depth.argmax()) + 1
    for n in range(small_space.max_cells):
        for e in range(small_space.edges_per_cell):
            o = int(w.ops[n, e].argmax())
            assert choice.cells[n][e] == (small_space.ops[o],
                                          small_space.widths[int(w.widths[n, e, o].argmax())])


def test_derive_breaks_softmax_ties_by_logits_and_rounds_the_depth(small_space):
    params = ArchParams(small_space)
    with torch.no_grad():
        params.depth.fill_(2.7)
        params.upsampler[1] = 0.5
    w = params.relaxed("softmax", 0.0)
    choice = derive(params, w, small_space)
    assert choice.depth == 3 and choice.upsampler_kernel == 3
    flat = ArchParams(small_space)
    uniform = derive(flat, flat.relaxed("softmax", 0), small_space)
    assert uniform.upsampler_kernel == 1  # all equal: the first choice
    assert uniform.depth == 2  # the middle of 1…3 cells, where the search starts


def test_the_depth_is_sorted_path_weights_with_one_partial_cell(small_space):
    params = ArchParams(small_space)
    with torch.no_grad():
        params.depth.fill_(2.3)
    w = params.relaxed("softmax", 0.0)
    assert torch.allclose(w.path, torch.tensor([1.0, 1.0, 0.3]))
    assert torch.allclose(w.depth, torch.tensor([0.0, 0.7, 0.3]))  # 2 or 3 cells, nothing else
    # sparsestmax pushes the partial cell's keep/drop pair: r = 1 drops it whole
    w1 = params.relaxed("sparsestmax", 1.0)
    assert torch.allclose(w1.path, torch.tensor([1.0, 1.0, 0.0]))
    assert derive(params, w1, small_space).depth == 2
    # … and the gradient reaches the depth straight through the push
    loss = (params.relaxed("sparsestmax", 1.0, straight=True).path * torch.tensor(
        [1.0, 2.0, 5.0])).sum()
    loss.backward()
    assert float(params.depth.grad) == pytest.approx(5.0)
    # A neutral parameter set (a random draw's fit) prefers no depth.
    assert ArchParams(small_space, neutral=True).depth_preference(1) == 0.0
    assert params.depth_preference(2) > params.depth_preference(1)


def test_arch_params_are_separate_from_weights(small_space):
    net, params = Supernet(small_space), ArchParams(small_space)
    assert not {id(p) for p in net.parameters()} & {id(p) for p in params.parameters()}
    w = params.relaxed("sparsestmax", 0.0)
    assert torch.allclose(w.path[0], torch.tensor(1.0))
    assert w.ops.shape == (3, 2, 4) and w.widths.shape == (3, 2, 4, 3)
