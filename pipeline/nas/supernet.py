"""The trilevel supernet: one weight-shared network over the whole search space.

Three levels (Trilevel NAS, Wu et al., arXiv 2101.06658), each with its own architecture logits,
kept in :class:`ArchParams`, apart from the network weights in :class:`Supernet`:

* network level: how many cells are used (``max_cells`` depth choices) and the upsampler kernel;
* cell level: a mixed op on each edge, ``Σ_o α_o · op_o(x)`` (DARTS);
* kernel level: the inner width of each op on each edge. Every op is built once at the largest
  width and narrower widths use its first channels (weight-shared channel slicing, as
  once-for-all). The mixture over widths is computed in one pass by masking the op's hidden
  channels with ``Σ_w β_w · 1[c < w]`` (FBNetV2's channel masking): the ops are linear after
  their last hidden activation, so this equals the β-weighted sum of the sliced ops exactly.

The depth mixture ``Σ_d p_d · h_d`` over the cell outputs feeds one upsampler mixture: the
upsampler (conv, anchor add, pixel shuffle) is affine, so mixing features first is the same
as mixing outputs. Choices whose weight is exactly zero (sparsemax and sparsestmax produce
them) are not computed.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from tnas_pipeline.nas.relaxations import (
    path_to_depth,
    relax,
    sparsestmax,
    straight_through,
    uses_radius,
)
from tnas_pipeline.networks.architecture import Architecture
from tnas_pipeline.networks.builder import SRNetwork, anchor, build_network
from tnas_pipeline.networks.ecb import ECB
from tnas_pipeline.networks.layers import ConvExpandBlock, InvertedResidual, ResidualBlock
from tnas_pipeline.networks.ops import OPS
from tnas_pipeline.search_space import SearchSpace


def masked_op_forward(op: nn.Module, x: torch.Tensor, mask: torch.Tensor | None,
                      trunk: torch.Tensor | None = None,
                      mid: torch.Tensor | None = None) -> torch.Tensor:
    """The op at full width with its hidden channels scaled by ``mask`` (shape ``width_max``),
    its output channels by the ``trunk`` mask and an ECB's expand branch by ``mid`` (2 × trunk,
    ECBSR's depth multiplier). One-hot masks compute exactly the sliced op: the input's masked
    channels are zeros, and every masked channel is zeroed after its bias."""
    if isinstance(op, (ResidualBlock, ConvExpandBlock, InvertedResidual)):
        m = mask.view(1, -1, 1, 1)
        if isinstance(op, InvertedResidual):
            y = op.project(op.act2(op.depthwise(op.act1(op.expand(x)))) * m)
        else:
            y = op.conv2(op.act(op.conv1(x)) * m)
        y = x + y if op.skip else y
    elif isinstance(op, ECB):
        y = op(x, mid)
    elif isinstance(op, nn.Sequential):  # a plain conv and its activation
        y = op(x)
    else:
        raise TypeError(f"op {type(op).__name__} cannot be masked")
    return y if trunk is None else y * trunk.view(1, -1, 1, 1)


def width_masks(widths: tuple[int, ...]) -> torch.Tensor:
    """``[len(widths), max(widths)]``: row i is 1 on the first ``widths[i]`` channels."""
    c = torch.arange(max(widths))
    return torch.stack([(c < w).float() for w in widths])


@dataclass
class RelaxedWeights:
    """The relaxed weights of all three levels at one step."""

    depth: torch.Tensor     # [max_cells]: p(depth = d + 1)
    path: torch.Tensor      # [max_cells]: weight of each cell's path, non-increasing
    upsampler: torch.Tensor  # [len(upsampler_kernels)]
    ops: torch.Tensor       # [max_cells, edges, len(ops)]
    widths: torch.Tensor    # [max_cells, edges, len(ops), len(width_choices)]
    trunk: torch.Tensor     # [len(trunk_choices)]

    def map(self, f) -> RelaxedWeights:
        """The same weights with ``f`` applied to every tensor (detach, move)."""
        return RelaxedWeights(**{k: f(v) for k, v in vars(self).items()})


def one_hot_weights(space: SearchSpace, depth: int, cells, kernel: int,
                    trunk: int | None = None) -> RelaxedWeights:
    """Relaxed weights that select exactly one architecture: ``depth`` cells, ``cells`` the
    (op, width) of every edge of (at least) the first ``depth`` cells, upsampler ``kernel``,
    trunk width ``trunk`` (default ``channels``)."""
    n, e = space.max_cells, space.edges_per_cell
    d = torch.zeros(n)
    d[depth - 1] = 1
    ops = torch.zeros(n, e, len(space.ops))
    widths = torch.zeros(n, e, len(space.ops), len(space.width_choices))
    for i, cell in enumerate(cells):
        for j, (op, w) in enumerate(cell):
            o = space.ops.index(op)
            ops[i, j, o] = 1
            widths[i, j, o, space.width_choices.index(w) if w in space.width_choices else 0] = 1
    ups = torch.zeros(len(space.upsampler_kernels))
    ups[space.upsampler_kernels.index(kernel)] = 1
    t = torch.zeros(len(space.trunk_choices))
    t[space.trunk_choices.index(trunk or space.channels)] = 1
    path = d.flip(-1).cumsum(-1).flip(-1)
    return RelaxedWeights(depth=d, path=path, upsampler=ups, ops=ops, widths=widths, trunk=t)


def _soft_depth_path(depth: torch.Tensor, n: int, r: float, straight: bool,
                     push: bool) -> torch.Tensor:
    """Path weights ``g_k = clamp(D − k, 0, 1)`` of ``n`` cells for a continuous depth ``D`` in
    cells: sorted (non-increasing) by construction, every cell whole but the one ``D`` ends in.
    With ``push`` that cell's keep/drop pair ``(f, 1 − f)`` is relaxed by sparsestmax at
    radius ``r`` (K = 2), so ``r = 1`` keeps or drops it whole."""
    d = depth.clamp(1.0, float(n))
    g = (d - torch.arange(n, dtype=d.dtype, device=d.device)).clamp(0.0, 1.0)
    if not push or r <= 0:
        return g
    k = int(torch.clamp(d.detach().floor(), max=n - 1))  # the cell D ends in
    f = g[k]
    pair = sparsestmax(torch.stack([1.0 - f, f]), r)[1]
    if straight:
        pair = straight_through(pair, f)
    return torch.cat([g[:k], pair.reshape(1), g[k + 1:]])


class ArchParams(nn.Module):
    """The architecture parameters of the three levels: logits (zeros: every choice equally
    likely) at the cell and kernel levels and for the upsampler, and the depth as a continuous
    number of cells (starting in the middle of the range).

    The depth is ordinal, not a category: a categorical depth under sparsestmax jumped between
    one and six cells from one step to the next (nearly tied logits, and a projection that jumps
    between the simplex's vertices), taking the expected latency with it. As a number of cells
    ``D`` with path weights ``clamp(D − k, 0, 1)`` (sorted, so a deeper cell never weighs more
    than a shallower one and must earn its cost) the depth moves one partial cell at a time, and
    its gradient compares exactly the two depths it lies between."""

    def __init__(self, space: SearchSpace, neutral: bool = False) -> None:
        super().__init__()
        n, e, o = space.max_cells, space.edges_per_cell, len(space.ops)
        w = len(space.width_choices)
        self.max_cells = n
        self.neutral = neutral  # no preference for any depth (a random draw's fit)
        self.depth = nn.Parameter(torch.tensor((1.0 + n) / 2.0))
        self.upsampler = nn.Parameter(torch.zeros(len(space.upsampler_kernels)))
        self.ops = nn.Parameter(torch.zeros(n, e, o))
        self.widths = nn.Parameter(torch.zeros(n, e, o, w))
        self.trunk = nn.Parameter(torch.zeros(len(space.trunk_choices)))

    def depth_cells(self) -> int:
        """The discrete depth: the cells whose path weight is at least one half."""
        d = float(self.depth.detach().clamp(1.0, float(self.max_cells)))
        return max(1, min(self.max_cells, int(d + 0.5)))

    def depth_preference(self, cells: int) -> float:
        """How much the depth prefers ``cells`` (a logit-like score, for the fit): minus the
        distance in cells from the searched depth (zero for a neutral one)."""
        if self.neutral:
            return 0.0
        return -abs(float(self.depth.detach()) - cells)

    def relaxed(self, relaxation: str, r: float, straight: bool = False,
                r_network: float | None = None) -> RelaxedWeights:
        """Weights of every level under ``relaxation`` at radius ``r`` (``r_network`` for the
        network level, default ``r``); with ``straight``, gradients pass straight through the
        push out of the ball (:func:`~tnas_pipeline.nas.relaxations.relax`). The depth's partial
        cell is pushed only by the relaxations that push (sparsestmax)."""
        rn = r if r_network is None else r_network
        path = _soft_depth_path(self.depth, self.max_cells, rn, straight,
                                push=uses_radius(relaxation))
        return RelaxedWeights(depth=path_to_depth(path), path=path,
                              upsampler=relax(relaxation, self.upsampler, rn, straight),
                              ops=relax(relaxation, self.ops, r, straight),
                              widths=relax(relaxation, self.widths, r, straight),
                              trunk=relax(relaxation, self.trunk, r, straight))


def _copy_sliced(dst: nn.Module, src: nn.Module) -> None:
    """Every parameter and buffer of ``dst`` from the leading block (first channels along every
    dimension) of the same-named one of ``src``: the weight-shared slicing the supernet trains."""
    source = dict(src.named_parameters()) | dict(src.named_buffers())
    with torch.no_grad():
        for name, t in [*dst.named_parameters(), *dst.named_buffers()]:
            t.copy_(source[name][tuple(slice(0, n) for n in t.shape)])


class Supernet(nn.Module):
    """Every op of every edge of every cell, at the widest width, plus all upsamplers."""

    def __init__(self, space: SearchSpace) -> None:
        super().__init__()
        self.space = space
        c = max(space.trunk_choices)
        wmax = max(space.widths) if space.widths else None
        probe = space.architecture([], space.upsampler_kernels[0], trunk=c)
        self.head = build_network(probe).head
        self.cells = nn.ModuleList(
            nn.ModuleList(
                nn.ModuleList(OPS.get(op).build(c, c, wmax if OPS.get(op).uses_width else None,
                                                space.act) for op in space.ops)
                for _ in range(space.edges_per_cell))
            for _ in range(space.max_cells))
        colors = 3
        self.upsamplers = nn.ModuleList(
            nn.Conv2d(c, colors * space.scale**2, k, padding=k // 2)
            for k in space.upsampler_kernels)
        self.shuffle = nn.PixelShuffle(space.scale)
        self.uses_width = [OPS.get(op).uses_width for op in space.ops]  # not looked up per step
        if space.widths:
            self.register_buffer("masks", width_masks(space.widths), persistent=False)
        # The trunk's masks, and the ECB expand branch's (2 × trunk), when the trunk is searched.
        self.trunk_searched = bool(space.trunk_widths)
        if self.trunk_searched:
            self.register_buffer("trunk_masks", width_masks(space.trunk_choices),
                                 persistent=False)
            self.register_buffer("mid_masks", width_masks(
                tuple(2 * t for t in space.trunk_choices)), persistent=False)

    def get_active_subnet(self, arch: Architecture) -> SRNetwork:
        """The discrete network ``arch`` of this space as a standalone module with the
        supernet's shared weights (once-for-all's ``get_active_subnet``): per module, the first
        channels of the head, of the chosen op of every edge, and of the chosen upsampler."""
        space = self.space
        net = build_network(arch)
        _copy_sliced(net.head, self.head)
        for n, cell in enumerate(arch.cells):
            for e, layer in enumerate(cell.ops):
                _copy_sliced(net.cells[n].ops[e], self.cells[n][e][space.ops.index(layer.op)])
        conv = self.upsamplers[space.upsampler_kernels.index(arch.upsampler.kernel)]
        _copy_sliced(net.upsampler[0], conv)
        return net

    def forward(self, x: torch.Tensor, w: RelaxedWeights) -> torch.Tensor:
        trunk = mid = None
        if self.trunk_searched:
            trunk, mid = w.trunk @ self.trunk_masks, w.trunk @ self.mid_masks
        h = self.head(x)
        if trunk is not None:
            h = h * trunk.view(1, -1, 1, 1)
        depth = w.depth
        last = int(torch.nonzero(depth > 0).max()) + 1  # deeper cells have no weight
        features = torch.zeros_like(h)
        for n in range(last):
            for e, edge in enumerate(self.cells[n]):
                alphas = w.ops[n, e]
                out = torch.zeros_like(h)
                for o, op in enumerate(edge):
                    if alphas[o] > 0:
                        mask = w.widths[n, e, o] @ self.masks if self.uses_width[o] else None
                        out = out + alphas[o] * masked_op_forward(op, h, mask, trunk, mid)
                h = out
            if depth[n] > 0:
                features = features + depth[n] * h
        y = anchor(x, self.space.scale)
        for k, conv in enumerate(self.upsamplers):
            if w.upsampler[k] > 0:
                y = y + w.upsampler[k] * conv(features)
        return self.shuffle(y)
