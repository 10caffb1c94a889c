"""The activations by name and the plain layers and blocks the op catalog builds from.

The catalog of every op by name is :data:`tnas_pipeline.networks.ops.OPS`. The blocks map
``in_channels`` to ``out_channels`` at the LR resolution and keep H×W; they take an inner
``width`` (the kernel level of the trilevel search) and, like residual blocks in EDSR (Lim et al.
2017) and inverted residuals in MobileNetV2 (Sandler et al. 2018), add their input to their
output when in and out channels agree.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from tnas_pipeline.registry import Registry

ACTIVATIONS: Registry[Callable[[int], nn.Module]] = Registry("activation")
ACTIVATIONS.add("none", lambda ch: nn.Identity())
ACTIVATIONS.add("relu", lambda ch: nn.ReLU(inplace=True))
ACTIVATIONS.add("lrelu", lambda ch: nn.LeakyReLU(0.1, inplace=True))
ACTIVATIONS.add("prelu", lambda ch: nn.PReLU(ch))
ACTIVATIONS.add("tanh", lambda ch: nn.Tanh())


def _conv(k: int) -> Callable[[int, int, int | None, str], nn.Module]:
    def build(cin: int, cout: int, width: int | None, act: str) -> nn.Module:
        return nn.Sequential(nn.Conv2d(cin, cout, k, padding=k // 2), ACTIVATIONS.get(act)(cout))

    return build


class ResidualBlock(nn.Module):
    """conv k×k (in → width), activation, conv k×k (width → out), plus the input if shapes agree."""

    def __init__(self, cin: int, cout: int, width: int, act: str, kernel: int = 3) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, width, kernel, padding=kernel // 2)
        self.act = ACTIVATIONS.get(act)(width)
        self.conv2 = nn.Conv2d(width, cout, kernel, padding=kernel // 2)
        self.skip = cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv2(self.act(self.conv1(x)))
        return x + y if self.skip else y


class InvertedResidual(nn.Module):
    """1×1 expand (in → width), depthwise k×k, 1×1 project (width → out), plus the input."""

    def __init__(self, cin: int, cout: int, width: int, act: str, kernel: int = 3) -> None:
        super().__init__()
        self.expand = nn.Conv2d(cin, width, 1)
        self.act1 = ACTIVATIONS.get(act)(width)
        self.depthwise = nn.Conv2d(width, width, kernel, padding=kernel // 2, groups=width)
        self.act2 = ACTIVATIONS.get(act)(width)
        self.project = nn.Conv2d(width, cout, 1)
        self.skip = cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.project(self.act2(self.depthwise(self.act1(self.expand(x)))))
        return x + y if self.skip else y


class ConvExpandBlock(nn.Module):
    """conv k×k (in → width), activation, conv 1×1 (width → out), plus the input: half the
    cost of a residual block at the same width, with a k×k receptive field."""

    def __init__(self, cin: int, cout: int, width: int, act: str, kernel: int = 3) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, width, kernel, padding=kernel // 2)
        self.act = ACTIVATIONS.get(act)(width)
        self.conv2 = nn.Conv2d(width, cout, 1)
        self.skip = cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv2(self.act(self.conv1(x)))
        return x + y if self.skip else y
