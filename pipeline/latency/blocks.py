"""The blocks a latency table measures, keyed on their full static shape.

A block is a piece of the network that the deployment runtime executes as one fused unit: a layer
of the architecture (conv + activation, or a whole op with its inner width and residual add), the
upsampler (conv + pixel shuffle), or the global skip (bicubic resize + the final add). Keys follow
once-for-all's style (op, input and output shapes, hyper-parameters) plus the precision, e.g.
``invres3x3|in:32x360x640|out:32|w:48|relu|fp32``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from tnas_pipeline.errors import UserError
from tnas_pipeline.networks.architecture import Architecture
from tnas_pipeline.networks.builder import anchor
from tnas_pipeline.networks.complexity import lr_size
from tnas_pipeline.networks.ops import OPS
from tnas_pipeline.networks.reparam import folded_op
from tnas_pipeline.search_space import SearchSpace


@dataclass(frozen=True)
class Block:
    """One measurable unit at a fixed LR input size (``h``×``w``)."""

    kind: str            # "layer", "upsampler" or "skip"
    op: str              # op name, "pixel_shuffle", or the skip's resize mode
    cin: int
    cout: int
    h: int
    w: int
    precision: str
    width: int | None = None
    act: str = "none"
    kernel: int | None = None
    scale: int = 1

    @property
    def key(self) -> str:
        parts = [self.op, f"in:{self.cin}x{self.h}x{self.w}", f"out:{self.cout}"]
        if self.width is not None:
            parts.append(f"w:{self.width}")
        if self.kind == "layer":
            parts.append(self.act)
        if self.kernel is not None:
            parts.append(f"k:{self.kernel}")
        if self.scale != 1:
            parts.append(f"x{self.scale}")
        return "|".join([*parts, self.precision])

    @property
    def input_shape(self) -> tuple[int, int, int, int]:
        return (1, self.cin, self.h, self.w)

    def module(self) -> nn.Module:
        """A fresh module that computes exactly this block."""
        if self.kind == "layer":
            return OPS.get(self.op).build(self.cin, self.cout, self.width, self.act)
        if self.kind == "upsampler":
            k = self.kernel or 3
            return nn.Sequential(nn.Conv2d(self.cin, self.cout * self.scale**2, k, padding=k // 2),
                                 nn.PixelShuffle(self.scale))
        out_chw = (self.cout, self.h * self.scale, self.w * self.scale)
        return _SkipBlock(self.op, self.scale, out_chw)


class _SkipBlock(nn.Module):
    """The global skip as :class:`~tnas_pipeline.networks.builder.SRNetwork` runs it: a resize of
    the LR input added to the output, or for ``nearest`` the anchor added before the pixel shuffle
    (a stand-in buffer plays the network's output, so that the add is measured too)."""

    def __init__(self, mode: str, scale: int, out_chw: tuple[int, int, int]) -> None:
        super().__init__()
        self.mode, self.scale = mode, scale
        c, h, w = out_chw
        shape = (c * scale * scale, h // scale, w // scale) if mode == "nearest" else out_chw
        self.register_buffer("residual", torch.zeros(1, *shape))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.mode == "nearest":
            return anchor(x, self.scale) + self.residual
        kw = {"align_corners": False}
        return F.interpolate(x, scale_factor=self.scale, mode=self.mode, **kw) + self.residual


def architecture_blocks(arch: Architecture, output_size: tuple[int, int],
                        precision: str) -> list[Block]:
    """The blocks an architecture is made of, in execution order."""
    w, h = lr_size(output_size, arch.scale)
    blocks = [Block("layer", arch.head.op, arch.colors, arch.head.out, h, w, precision,
                    arch.head.width, arch.head.act)]
    channels = arch.head.out
    for i, cell in enumerate(arch.cells):
        if cell.residual:
            raise UserError(f"cell {i} has a cell-level residual, which latency tables do not "
                            "model; only architectures of the search space can be predicted")
        for layer in cell.ops:
            # A re-parameterisable op is deployed folded: its block is the folded op's.
            blocks.append(Block("layer", folded_op(layer.op), channels, layer.out, h, w,
                                precision, layer.width, layer.act))
            channels = layer.out
    if arch.upsampler.type != "pixel_shuffle":
        raise UserError(f"upsampler {arch.upsampler.type!r} is not in the search space")
    blocks.append(Block("upsampler", "pixel_shuffle", channels, arch.colors, h, w, precision,
                        kernel=arch.upsampler.kernel, scale=arch.scale))
    if arch.global_skip != "none":
        blocks.append(Block("skip", arch.global_skip, arch.colors, arch.colors, h, w, precision,
                            scale=arch.scale))
    return blocks


def space_blocks(space: SearchSpace, output_size: tuple[int, int], precision: str) -> list[Block]:
    """Every block any architecture of ``space`` can contain (each once), trunk width by trunk
    width; a re-parameterisable op is the block it is deployed as (its folded op)."""
    w, h = lr_size(output_size, space.scale)
    blocks: list[Block] = []
    for c in space.trunk_choices:
        probe = architecture_blocks(space.architecture([], space.upsampler_kernels[0], trunk=c),
                                    output_size, precision)
        blocks.append(probe[0])
        for op in space.ops:
            for width in space.op_widths(op):
                blocks.append(Block("layer", folded_op(op), c, c, h, w, precision, width,
                                    space.act))
        blocks += [Block("upsampler", "pixel_shuffle", c, 3, h, w, precision, kernel=k,
                         scale=space.scale) for k in space.upsampler_kernels]
    skip = [b for b in probe if b.kind == "skip"]  # the global skip, if the space has one
    unique = list(dict.fromkeys(blocks + skip))
    return unique
