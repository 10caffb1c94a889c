"""Op and activation constructors, by name (as DARTS' ``OPS``).

Every op maps ``in_channels`` to ``out_channels`` at the LR resolution and keeps H×W. Plain layers
(``conv1x1``, ``conv3x3``, ``conv5x5``) are one convolution followed by the activation. Block ops
take an inner ``width`` (the kernel level of the trilevel search) and, like residual blocks in EDSR
(Lim et al. 2017) and inverted residuals in MobileNetV2 (Sandler et al. 2018), add their input to
their output when in and out channels agree.
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


class OpSpec:
    """How to build one op; ``uses_width`` says whether it takes an inner width, ``mixed_path``
    whether it is a branch set of the mixed-path space (searched by sparse group lasso)."""

    def __init__(self, build: Callable[[int, int, int | None, str], nn.Module], uses_width: bool,
                 mixed_path: bool = False):
        self.build = build
        self.uses_width = uses_width
        self.mixed_path = mixed_path


OPS: Registry[OpSpec] = Registry("op")


@torch.no_grad()
def conv_from(weight: torch.Tensor, bias: torch.Tensor) -> nn.Conv2d:
    """The same-size conv with these weight ``[cout, cin, k, k]`` and bias: what a
    re-parameterisable layer folds into."""
    cout, cin, k, _ = weight.shape
    conv = nn.Conv2d(cin, cout, k, padding=k // 2).to(weight.device, weight.dtype)
    conv.weight.copy_(weight)
    conv.bias.copy_(bias)
    return conv


def _conv(k: int) -> Callable[[int, int, int | None, str], nn.Module]:
    def build(cin: int, cout: int, width: int | None, act: str) -> nn.Module:
        return nn.Sequential(nn.Conv2d(cin, cout, k, padding=k // 2), ACTIVATIONS.get(act)(cout))

    return build


OPS.add("conv1x1", OpSpec(_conv(1), uses_width=False))
OPS.add("conv3x3", OpSpec(_conv(3), uses_width=False))
OPS.add("conv5x5", OpSpec(_conv(5), uses_width=False))


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


OPS.add("resblock3x3", OpSpec(lambda i, o, w, a: ResidualBlock(i, o, w, a, 3), uses_width=True))
OPS.add("conv3x3_1x1", OpSpec(lambda i, o, w, a: ConvExpandBlock(i, o, w, a), uses_width=True))
OPS.add("invres3x3", OpSpec(lambda i, o, w, a: InvertedResidual(i, o, w, a, 3), uses_width=True))
OPS.add("invres5x5", OpSpec(lambda i, o, w, a: InvertedResidual(i, o, w, a, 5), uses_width=True))
# The rest of the op pool of search-space evolution (pipeline/search/evolution.py), which holds
# more ops than one supernet: the same three families at other kernels.
OPS.add("resblock5x5", OpSpec(lambda i, o, w, a: ResidualBlock(i, o, w, a, 5), uses_width=True))
OPS.add("resblock1x1", OpSpec(lambda i, o, w, a: ResidualBlock(i, o, w, a, 1), uses_width=True))
OPS.add("conv5x5_1x1", OpSpec(lambda i, o, w, a: ConvExpandBlock(i, o, w, a, 5),
                              uses_width=True))
OPS.add("invres7x7", OpSpec(lambda i, o, w, a: InvertedResidual(i, o, w, a, 7), uses_width=True))

# The re-parameterisable mixed-path ops (rep3x3_1x1_id, …), ECBSR's edge-oriented block (ecb)
# and RLFN's residual local feature block (rlfb) register themselves here; imported last because
# those modules build on the registry above.
import tnas_pipeline.networks.ecb  # noqa: E402
import tnas_pipeline.networks.mixed_path  # noqa: E402
import tnas_pipeline.networks.rlfn  # noqa: E402, F401
