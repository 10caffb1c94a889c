"""Mixed-path layers fold to one conv: the folded network equals the multi-branch one."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from tnas_pipeline.networks.mixed_path import LinearBranch, MixedPathLayer
from tnas_pipeline.networks.reparam import reparameterize_model


def randomise_bn(module: nn.Module, seed: int, strength: float = 1.0) -> None:
    """Batch-norm statistics and affine parameters away from their defaults, so that a fold
    that ignored any of them would show (``strength`` 1: far away; smaller, as after
    training, where a whole network's output stays in the image range)."""
    g = torch.Generator().manual_seed(seed)
    for m in module.modules():
        if isinstance(m, nn.BatchNorm2d):
            c = m.num_features
            m.running_mean.copy_(strength * torch.randn(c, generator=g))
            m.running_var.copy_(1 + strength * (torch.rand(c, generator=g) - 0.5))
            if m.affine:  # the mixed-path supernet's batch norms have no γ, β
                with torch.no_grad():
                    m.weight.copy_(1 + strength * torch.randn(c, generator=g))
                    m.bias.copy_(strength * torch.randn(c, generator=g))


@pytest.mark.parametrize("branches, alphas", [
    (("conv3x3", "conv1x1", "identity"), (0.7, 0.4, 0.2)),
    (("conv3x3", "identity"), (1.0, -0.3)),
    (("conv1x1", "identity"), (0.5, 0.5)),
    (("conv1x1",), None),
    (("identity",), (0.9,)),
])
def test_folded_layer_equals_the_branches(branches, alphas):
    torch.manual_seed(0)
    layer = MixedPathLayer(8, branches, "relu", alphas)
    randomise_bn(layer, 1)
    layer.eval()
    x = torch.randn(2, 8, 11, 13)
    before = layer(x)
    layer.reparameterize()
    assert layer.fused is not None and not hasattr(layer, "branches")
    assert layer.fused.kernel_size == ((3, 3) if "conv3x3" in branches else (1, 1))
    assert torch.allclose(layer(x), before, atol=1e-5)


@pytest.mark.parametrize("kind", ["conv3x3", "conv1x1", "identity"])
def test_a_branch_without_affine_batch_norm_has_no_scale_of_its_own_and_folds(kind):
    """The supernet's branches: no γ, β (so the mixed path's α is their only scale); in train
    mode the output is normalised whatever the conv's scale; the fold is exact."""
    torch.manual_seed(0)
    branch = LinearBranch(kind, 6, affine=False)
    assert not any(n.startswith("bn.") for n, _ in branch.named_parameters())
    x = torch.randn(4, 6, 9, 10)
    y = branch(x)
    assert torch.allclose(y.mean((0, 2, 3)), torch.zeros(6), atol=1e-5)
    assert torch.allclose(y.var((0, 2, 3), unbiased=False), torch.ones(6), atol=1e-3)
    if branch.conv is not None:
        with torch.no_grad():
            branch.conv.weight.mul_(7.0)  # the conv cannot scale the branch either
        assert torch.allclose(branch(x), y, atol=1e-4)
    randomise_bn(branch, 5)
    branch.eval()
    w, b = branch.folded(3)
    assert torch.allclose(nn.functional.conv2d(x, w, b, padding=1), branch(x), atol=1e-5)


def test_a_network_of_mixed_paths_folds_through_the_export_hook():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1),
                        MixedPathLayer(16, ("conv3x3", "conv1x1", "identity"), "relu"),
                        MixedPathLayer(16, ("conv1x1", "identity"), "relu"),
                        nn.Conv2d(16, 3, 3, padding=1))
    randomise_bn(net, 2)
    net.eval()
    x = torch.randn(1, 3, 20, 24)
    before = net(x)
    folded = reparameterize_model(net)
    convs = [m for m in folded.modules() if isinstance(m, nn.Conv2d)]
    assert len(convs) == 4  # one conv per layer: the branches are gone
    assert not any(isinstance(m, (nn.BatchNorm2d, LinearBranch)) for m in folded.modules())
    assert torch.allclose(folded(x), before, atol=1e-5)


def test_bad_branch_sets_are_refused():
    with pytest.raises(ValueError, match="at least one branch"):
        MixedPathLayer(4, (), "relu")
    with pytest.raises(ValueError, match="repeated"):
        MixedPathLayer(4, ("conv1x1", "conv1x1"), "relu")
    with pytest.raises(ValueError, match="unknown linear branch"):
        MixedPathLayer(4, ("conv7x7",), "relu")
    with pytest.raises(ValueError, match="weights"):
        MixedPathLayer(4, ("conv1x1",), "relu", (1.0, 2.0))


def mixed_architecture():
    from tnas_pipeline.search_space import DEFAULT_SPACE

    return DEFAULT_SPACE.architecture(
        [[("rep3x3_1x1_id", None), ("rep1x1_id", None)], [("repid", None), ("rep3x3", None)]],
        3, name="mixed")


def test_rep_ops_are_registered_for_every_branch_set_and_fold_to_two_ops():
    from tnas_pipeline.networks.ops import OPS
    from tnas_pipeline.networks.reparam import REP_OPS, folded_op

    assert len(REP_OPS) == 7 and all(name in OPS.names() for name in REP_OPS)
    assert {folded_op(n) for n in REP_OPS} == {"rep3x3", "rep1x1"}
    assert folded_op("rep1x1_id") == "rep1x1" and folded_op("resblock3x3") == "resblock3x3"


def test_a_mixed_path_network_exports_folded_and_matches_pytorch():
    import onnxruntime as ort

    from tnas_pipeline.deploy.onnx_export import OnnxFromTorch
    from tnas_pipeline.latency.blocks import architecture_blocks
    from tnas_pipeline.networks import Architecture, build_network

    arch = mixed_architecture()
    assert Architecture.from_dict(arch.to_dict()) == arch  # the artifact round-trips
    keys = [b.key for b in architecture_blocks(arch, (64, 48), "fp32") if b.kind == "layer"]
    assert [k.split("|")[0] for k in keys[1:]] == ["rep3x3", "rep1x1", "rep1x1", "rep3x3"]

    torch.manual_seed(0)
    net = build_network(arch)
    randomise_bn(net, 3, strength=0.2)
    net.eval()
    model = OnnxFromTorch(net, (24, 32))()
    convs = [n for n in model.graph.node if n.op_type == "Conv"]
    assert len(convs) == 1 + 4 + 1  # head, one per mixed-path layer, upsampler
    assert not any(n.op_type == "BatchNormalization" for n in model.graph.node)
    x = torch.rand(1, 3, 24, 32)
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    got = sess.run(None, {"input": x.numpy()})[0]
    with torch.no_grad():
        want = net(x).numpy()  # the multi-branch network, not folded
    assert abs(got - want).max() <= 1e-5
    assert any(isinstance(m, LinearBranch) for m in net.modules())  # export folded a copy


def test_complexity_counts_the_folded_network():
    from tnas_pipeline.networks import build_network, count_complexity
    from tnas_pipeline.search_space import DEFAULT_SPACE

    many = DEFAULT_SPACE.architecture([[("rep3x3_1x1_id", None), ("rep1x1_id", None)]], 3)
    folded = DEFAULT_SPACE.architecture([[("rep3x3", None), ("rep1x1", None)]], 3)
    a = count_complexity(build_network(many), 2)
    b = count_complexity(build_network(folded), 2)
    assert (a.params, a.mult_adds) == (b.params, b.mult_adds)
    c = 32
    head_and_up = count_complexity(build_network(DEFAULT_SPACE.architecture([], 3)), 2)
    assert a.params - head_and_up.params == (9 * c * c + c) + (c * c + c)
