"""The Edge-oriented Convolution Block (op ``ecb``), foldable to one 3×3 conv.

Zhang, Zeng, Zhang, "Edge-oriented Convolution Block for Real-time Super Resolution on Mobile
Devices", ACM MM 2021 (ECBSR; official code xindongzhang/ECBSR ``models/ecb.py``). During training
an ECB sums five linear branches, each ``cin → cout`` with a 3×3 receptive field:

* a 3×3 conv;
* a 1×1 conv to ``2·cout`` channels, then a 3×3 conv back to ``cout``;
* a 1×1 conv, then a fixed Sobel-x, Sobel-y or Laplacian depthwise mask, each mask times a
  learnable per-channel scale, plus a learnable bias (three branches);

optionally plus the input itself when ``cin == cout`` (ECBSR's ``with_idt``; its published M4C8
and M4C16 configurations train with it off, and so does the registered op ``ecb``; it changes
training, not the deployed conv), and then the activation. There is no batch norm and no residual
beyond that identity.

A 1×1 conv followed by a 3×3 conv folds into one 3×3 conv exactly only if the 3×3 sees the 1×1's
*bias* outside the image, not zeros: ECBSR pads the 1×1 output with its bias. Here the input is
padded with zeros and the 1×1 runs on the padded input, which gives the same border (a 1×1 conv of
zero is its bias) without writing into a tensor, so the training graph stays plain and the fold
is exact at every pixel, borders included.

:meth:`ECB.reparameterize` replaces the branches by that one conv in place; export, the latency
backends and the complexity count fold through it
(:func:`tnas_pipeline.networks.reparam.reparameterize_model`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from tnas_pipeline.networks.layers import ACTIVATIONS
from tnas_pipeline.networks.reparam import conv_from, fold_pointwise_then

# The masks of ECBSR's SeqConv3x3, as [row][column] of a cross-correlation kernel.
SOBEL_X = ((1.0, 0.0, -1.0), (2.0, 0.0, -2.0), (1.0, 0.0, -1.0))
SOBEL_Y = ((1.0, 2.0, 1.0), (0.0, 0.0, 0.0), (-1.0, -2.0, -1.0))
LAPLACIAN = ((0.0, 1.0, 0.0), (1.0, -4.0, 1.0), (0.0, 1.0, 0.0))
DEPTH_MULTIPLIER = 2


class ExpandBranch(nn.Module):
    """1×1 conv ``cin → mid``, then 3×3 conv ``mid → cout``, on the padded input."""

    def __init__(self, cin: int, cout: int, mid: int) -> None:
        super().__init__()
        self.conv1x1 = nn.Conv2d(cin, mid, 1)
        self.conv3x3 = nn.Conv2d(mid, cout, 3)

    def forward(self, padded: torch.Tensor, mid: torch.Tensor | None = None) -> torch.Tensor:
        """``mid`` scales the ``mid`` channels (a supernet's width mask), else they pass."""
        y = self.conv1x1(padded)
        return self.conv3x3(y if mid is None else y * mid.view(1, -1, 1, 1))

    def folded(self) -> tuple[torch.Tensor, torch.Tensor]:
        return fold_pointwise_then(self.conv1x1, self.conv3x3.weight, self.conv3x3.bias)


class EdgeBranch(nn.Module):
    """1×1 conv ``cin → cout``, then a fixed 3×3 mask per channel times a learnable scale, plus
    a learnable bias (a depthwise conv whose kernel shape is fixed), on the padded input."""

    def __init__(self, cin: int, cout: int, mask: tuple[tuple[float, ...], ...]) -> None:
        super().__init__()
        self.conv1x1 = nn.Conv2d(cin, cout, 1)
        # The mask is a constant of the op, not a weight: not trained and not saved.
        self.register_buffer("mask", torch.tensor(mask).expand(cout, 1, 3, 3).clone(),
                             persistent=False)
        # ECBSR's initialisation: scales and biases near zero, so the edge branches start small.
        self.scale = nn.Parameter(torch.randn(cout, 1, 1, 1) * 1e-3)
        self.bias = nn.Parameter(torch.randn(cout) * 1e-3)

    def forward(self, padded: torch.Tensor) -> torch.Tensor:
        y = self.conv1x1(padded)
        return F.conv2d(y, self.scale * self.mask, self.bias, groups=y.shape[1])

    def folded(self) -> tuple[torch.Tensor, torch.Tensor]:
        depthwise = (self.scale * self.mask)[:, 0]
        c = depthwise.shape[0]
        dense = depthwise.new_zeros(c, c, 3, 3)  # the depthwise stage as a dense 3×3
        dense[torch.arange(c), torch.arange(c)] = depthwise
        return fold_pointwise_then(self.conv1x1, dense, self.bias)


class ECB(nn.Module):
    """``act(conv3x3(x) + Σ seq-conv branches(x) [+ x])``, ``cin → cout`` (module docstring)."""

    def __init__(self, cin: int, cout: int, act: str, with_idt: bool = True) -> None:
        super().__init__()
        self.cin, self.cout = cin, cout
        self.conv3x3 = nn.Conv2d(cin, cout, 3, padding=1)
        self.branches = nn.ModuleDict({
            "expand": ExpandBranch(cin, cout, DEPTH_MULTIPLIER * cout),
            "sobel_x": EdgeBranch(cin, cout, SOBEL_X),
            "sobel_y": EdgeBranch(cin, cout, SOBEL_Y),
            "laplacian": EdgeBranch(cin, cout, LAPLACIAN),
        })
        self.identity = with_idt and cin == cout
        self.act = ACTIVATIONS.get(act)(cout)
        self.fused: nn.Conv2d | None = None

    def forward(self, x: torch.Tensor, mid: torch.Tensor | None = None) -> torch.Tensor:
        """``mid``: a mask of the expand branch's hidden channels (the supernet's trunk width;
        None in a deployed network)."""
        if self.fused is not None:
            return self.act(self.fused(x))
        padded = F.pad(x, (1, 1, 1, 1))
        y = self.conv3x3(x) + self.branches["expand"](padded, mid)
        for name, branch in self.branches.items():
            if name != "expand":
                y = y + branch(padded)
        if self.identity:
            y = y + x
        return self.act(y)

    def folded(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The (weight ``[cout, cin, 3, 3]``, bias ``[cout]``) of the one equivalent conv."""
        weight, bias = self.conv3x3.weight, self.conv3x3.bias
        for branch in self.branches.values():
            w, b = branch.folded()
            weight, bias = weight + w, bias + b
        if self.identity:
            eye = torch.zeros_like(weight)
            eye[torch.arange(self.cout), torch.arange(self.cin), 1, 1] = 1.0
            weight = weight + eye
        return weight, bias

    @torch.no_grad()
    def reparameterize(self) -> None:
        """Replace the branches by the one equivalent 3×3 conv (same output at every pixel)."""
        if self.fused is not None:
            return
        self.fused = conv_from(*self.folded())
        del self.conv3x3
        del self.branches
