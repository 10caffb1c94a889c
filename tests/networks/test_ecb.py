"""The edge-oriented convolution block folds to one 3×3 conv, exactly, borders included."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from tnas_pipeline.networks.ecb import ECB, EdgeBranch
from tnas_pipeline.networks.reparam import reparameterize_model


def randomise(module: nn.Module, seed: int) -> None:
    """Every learnable tensor (the edge branches' scales and biases too, which start near zero)
    drawn away from its initial value, so a fold that dropped or mis-placed any term would show."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(0.2 * torch.randn(p.shape, generator=g))


@pytest.mark.parametrize("cin, cout, act", [(8, 8, "prelu"), (8, 8, "none"), (3, 8, "prelu"),
                                            (6, 4, "none")])
def test_folded_conv_equals_the_branches(cin, cout, act):
    torch.manual_seed(0)
    block = ECB(cin, cout, act)
    randomise(block, 1)
    block.eval()
    assert block.identity == (cin == cout)
    # Odd sizes and a batch of two: the border rows and columns are where a fold that padded the
    # 1×1 outputs with zeros instead of their bias would differ.
    x = torch.randn(2, cin, 13, 17)
    with torch.no_grad():
        before = block(x)
        block.reparameterize()
        after = block(x)
    convs = [m for m in block.modules() if isinstance(m, nn.Conv2d)]
    assert len(convs) == 1 and convs[0].kernel_size == (3, 3)
    assert not any(isinstance(m, EdgeBranch) for m in block.modules())
    assert (after - before).abs().max().item() < 1e-5


def test_the_border_is_where_bias_padding_matters():
    # The check above can fail: a 1×1 branch run with zero padding after the 1×1 (the naive
    # order) differs from the folded conv on the border only.
    torch.manual_seed(0)
    block = ECB(4, 4, "none")
    randomise(block, 2)
    block.eval()
    x = torch.randn(1, 4, 9, 11)
    branch = block.branches["expand"]
    naive = nn.functional.conv2d(branch.conv1x1(x), branch.conv3x3.weight, branch.conv3x3.bias,
                                 padding=1)
    with torch.no_grad():
        exact = branch(nn.functional.pad(x, (1, 1, 1, 1)))
    inner = (naive - exact)[..., 1:-1, 1:-1].abs().max().item()
    border = (naive - exact).abs().max().item()
    assert inner < 1e-5 < border


def test_folds_through_the_model_hook_and_is_a_registered_op():
    from tnas_pipeline.networks.ops import OPS

    net = nn.Sequential(OPS.get("ecb").build(3, 8, None, "prelu"),
                        OPS.get("ecb").build(8, 8, None, "prelu"))
    randomise(net, 3)
    net.eval()
    x = torch.randn(1, 3, 10, 12)
    with torch.no_grad():
        before = net(x)
        folded = reparameterize_model(net)
        assert sum(isinstance(m, nn.Conv2d) for m in folded.modules()) == 2
        assert (folded(x) - before).abs().max().item() < 1e-5
    assert not OPS.get("ecb").uses_width
