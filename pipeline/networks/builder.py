"""``build_network(arch)``: a plain ``nn.Module`` from an architecture artifact."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from tnas_pipeline.networks.architecture import Architecture, Cell, Layer
from tnas_pipeline.networks.ops import OPS


def _layer(layer: Layer, cin: int) -> nn.Module:
    return OPS.get(layer.op).build(cin, layer.out, layer.width, layer.act)


class CellModule(nn.Module):
    """The ops of one cell in sequence, with the cell's residual connection."""

    def __init__(self, cell: Cell, cin: int) -> None:
        super().__init__()
        layers = []
        for layer in cell.ops:
            layers.append(_layer(layer, cin))
            cin = layer.out
        self.ops = nn.Sequential(*layers)
        self.residual = cell.residual

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.ops(x)
        return x + y if self.residual else y


def _deconv(cin: int, cout: int, kernel: int, scale: int) -> nn.ConvTranspose2d:
    # out = (H - 1)·s - 2p + k + op must equal s·H, so 2p - op = k - s with 0 <= op < s.
    padding = max(0, -(-(kernel - scale) // 2))
    output_padding = 2 * padding - (kernel - scale)
    return nn.ConvTranspose2d(cin, cout, kernel, stride=scale, padding=padding,
                              output_padding=output_padding)


class SRNetwork(nn.Module):
    """head → cells → upsampler (+ upsampled input). Input and output are in [0, 1]."""

    def __init__(self, arch: Architecture) -> None:
        super().__init__()
        self.scale = arch.scale
        self.global_skip = arch.global_skip
        self.head = _layer(arch.head, arch.colors)
        cells, channels = [], arch.head.out
        for cell in arch.cells:
            cells.append(CellModule(cell, channels))
            channels = cell.ops[-1].out
        self.cells = nn.Sequential(*cells)
        k = arch.upsampler.kernel
        if arch.upsampler.type == "pixel_shuffle":
            self.upsampler = nn.Sequential(
                nn.Conv2d(channels, arch.colors * arch.scale**2, k, padding=k // 2),
                nn.PixelShuffle(arch.scale),
            )
        else:
            self.upsampler = _deconv(channels, arch.colors, k, arch.scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.cells(self.head(x))
        if self.global_skip == "nearest" and isinstance(self.upsampler, nn.Sequential):
            # Anchor-based residual (ABPN, Du et al., CVPRW 2021): each input pixel repeated
            # scale² times and added before the pixel shuffle is exactly nearest upsampling added
            # after it, at a fraction of the cost of a Resize node.
            y = self.upsampler[0](features) + anchor(x, self.scale)
            return self.upsampler[1](y)
        y = self.upsampler(features)
        if self.global_skip != "none":
            kwargs = {} if self.global_skip == "nearest" else {"align_corners": False}
            y = y + F.interpolate(x, scale_factor=self.scale, mode=self.global_skip, **kwargs)
        return y


def anchor(x: torch.Tensor, scale: int) -> torch.Tensor:
    """Every channel of ``x`` repeated scale² times in place (N×C×H×W → N×C·s²×H×W), the channel
    order PixelShuffle turns into nearest upsampling."""
    n, c, h, w = x.shape
    return x.unsqueeze(2).expand(n, c, scale * scale, h, w).reshape(n, c * scale * scale, h, w)


def build_network(arch: Architecture) -> SRNetwork:
    """Instantiate the network an architecture describes (freshly initialised weights)."""
    return SRNetwork(arch)
