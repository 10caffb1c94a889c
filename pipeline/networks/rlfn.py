"""The residual local feature block of RLFN (op ``rlfb``), with Enhanced Spatial Attention.

Kong et al., "Residual Local Feature Network for Efficient Super-Resolution", CVPRW 2022 (NTIRE
2022 efficient SR challenge; official code bytedance/RLFN ``model/block.py``). One block:

* three 3×3 convs, each followed by LeakyReLU with slope 0.05, plus the block's input (the local
  residual);
* a 1×1 conv;
* ESA (Enhanced Spatial Attention, Liu et al., "Residual Feature Aggregation Network for Image
  Super-Resolution", CVPR 2020, as RLFN trims it): a 1×1 reduction to ``f = min(16, channels)``,
  a 3×3 conv with stride 2 and no padding, a 7×7 max-pool with stride 3, a 3×3 conv, bilinear
  upsampling back to the input size, plus a 1×1 conv of the reduced features, a 1×1 expansion
  back to ``channels``, a sigmoid, and the product with ESA's input.

The op maps ``channels`` to themselves (``cin != cout`` raises ``ValueError``) and takes no width.
Its layer's activation must be ``lrelu``: the slope inside is RLFN's 0.05, not the 0.1 of the
``lrelu`` activation registered in :mod:`tnas_pipeline.networks.ops`, and any other name would
describe a network this op does not build.

Small inputs: RLFN's max-pool needs at least 7×7 after the stride-2 conv (an input of 15×15), and
an LR training patch or an edge tile can be smaller. The pool here runs on its input padded at
the bottom and right by repeating the last row and column, and keeps as many outputs as the
unpadded pool would have, but at least one: for inputs of 15 pixels or more on a side every
kept window lies inside the image and the result is exactly RLFN's; below that the one window is
the maximum over what there is. The count is computed from the traced shape, so one exported
ONNX graph with symbolic height and width serves every size of at least 3×3.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

NEGATIVE_SLOPE = 0.05  # RLFN's LeakyReLU slope inside the block
ESA_CHANNELS = 16
POOL_KERNEL, POOL_STRIDE = 7, 3


def _at_least_one(n: int | torch.Tensor) -> int | torch.Tensor:
    # While tracing for ONNX export a size is a 0-d tensor: clamp it in the graph so that the
    # count follows the input's symbolic size instead of being fixed at the traced one.
    return n.clamp(min=1) if isinstance(n, torch.Tensor) else max(1, n)


def max_pool_any_size(x: torch.Tensor) -> torch.Tensor:
    """RLFN's 7×7 / stride-3 max-pool, defined for inputs smaller than the window too (module
    docstring)."""
    # The unpadded pool's output count, floor((n - 7) / 3) + 1 = floor((n - 4) / 3).
    h = _at_least_one((x.shape[-2] - (POOL_KERNEL - POOL_STRIDE)) // POOL_STRIDE)
    w = _at_least_one((x.shape[-1] - (POOL_KERNEL - POOL_STRIDE)) // POOL_STRIDE)
    pad = POOL_KERNEL - 1
    # Replicate padding written as Tile + Concat: F.pad's exported graph draws a constant-folding
    # warning from the TorchScript exporter on every export.
    x = torch.cat([x, x[..., -1:, :].repeat(1, 1, pad, 1)], dim=-2)
    x = torch.cat([x, x[..., -1:].repeat(1, 1, 1, pad)], dim=-1)
    pooled = F.max_pool2d(x, POOL_KERNEL, POOL_STRIDE)
    return pooled[..., :h, :w]


class ESA(nn.Module):
    """Enhanced Spatial Attention as RLFN uses it: a sigmoid gate from a coarse, wide context."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        f = min(ESA_CHANNELS, channels)
        self.conv1 = nn.Conv2d(channels, f, 1)
        self.conv_f = nn.Conv2d(f, f, 1)
        self.conv2 = nn.Conv2d(f, f, 3, stride=2, padding=0)
        self.conv3 = nn.Conv2d(f, f, 3, padding=1)
        self.conv4 = nn.Conv2d(f, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        reduced = self.conv1(x)
        context = self.conv3(max_pool_any_size(self.conv2(reduced)))
        # size= from the input's shape, so the Resize follows a symbolic height and width.
        context = F.interpolate(context, size=x.shape[-2:], mode="bilinear", align_corners=False)
        return x * torch.sigmoid(self.conv4(context + self.conv_f(reduced)))


class RLFB(nn.Module):
    """3 × (3×3 conv, LeakyReLU 0.05) + input, 1×1 conv, ESA; channels → channels."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.c1_r = nn.Conv2d(channels, channels, 3, padding=1)
        self.c2_r = nn.Conv2d(channels, channels, 3, padding=1)
        self.c3_r = nn.Conv2d(channels, channels, 3, padding=1)
        self.act = nn.LeakyReLU(NEGATIVE_SLOPE)
        self.c5 = nn.Conv2d(channels, channels, 1)
        self.esa = ESA(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.act(self.c1_r(x))
        out = self.act(self.c2_r(out))
        out = self.act(self.c3_r(out))
        return self.esa(self.c5(out + x))
