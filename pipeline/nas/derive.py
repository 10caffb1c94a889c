"""From the supernet to a discrete network: ``derive()`` and weight inheritance.

The discrete choice at every level is the largest relaxed weight (one-hot at the end of a
sparsestmax search, so this is the network that was trained); ties, as under softmax, are broken by
the logits. The depth is the searched number of cells, rounded. :class:`Choice` keeps the argmax op
and width of *every* cell, used or not, so the budget fit can deepen the network with cells the
supernet trained. The derived network inherits the supernet's weights: the first ``w`` hidden
channels of each chosen op (the slicing the supernet trained), the head, and the chosen upsampler.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import torch

from tnas_pipeline.nas.supernet import ArchParams, RelaxedWeights, Supernet
from tnas_pipeline.networks.architecture import Architecture
from tnas_pipeline.search_space import SearchSpace


@dataclass(frozen=True)
class Choice:
    """A discrete point of the space: depth, (op, width) of every edge of every cell, kernel."""

    depth: int
    cells: tuple[tuple[tuple[str, int | None], ...], ...]  # all max_cells cells
    upsampler_kernel: int
    notes: tuple[str, ...] = field(default=())
    trunk: int | None = None  # the trunk width (None: the space's channels)

    def architecture(self, space: SearchSpace, name: str = "searched") -> Architecture:
        return space.architecture([list(c) for c in self.cells[: self.depth]],
                                  self.upsampler_kernel, name=name, trunk=self.trunk)

    def with_edge(self, n: int, e: int, op: str, width: int) -> Choice:
        cells = [list(c) for c in self.cells]
        cells[n][e] = (op, width)
        return replace(self, cells=tuple(tuple(c) for c in cells))


def _argmax(weights: torch.Tensor, logits: torch.Tensor) -> int:
    """Index of the largest weight; equal weights are ranked by their logits, then by index."""
    w = weights.detach().cpu()
    best = w.max()
    tied = torch.nonzero(torch.isclose(w, best, rtol=0, atol=1e-9)).flatten().tolist()
    if len(tied) == 1:
        return tied[0]
    lg = logits.detach().cpu()
    return max(tied, key=lambda i: (float(lg[i]), -i))


def derive(params: ArchParams, weights: RelaxedWeights, space: SearchSpace) -> Choice:
    """The discrete architecture the relaxed weights select."""
    cells = []
    for n in range(space.max_cells):
        edges = []
        for e in range(space.edges_per_cell):
            o = _argmax(weights.ops[n, e], params.ops[n, e])
            w = _argmax(weights.widths[n, e, o], params.widths[n, e, o])
            widths = space.op_widths(space.ops[o])  # (None,) for a layer without a width
            edges.append((space.ops[o], widths[min(w, len(widths) - 1)]))
        cells.append(tuple(edges))
    depth = params.depth_cells()
    k = space.upsampler_kernels[_argmax(weights.upsampler, params.upsampler)]
    trunk = (space.trunk_choices[_argmax(weights.trunk, params.trunk)] if space.trunk_widths
             else None)
    return Choice(depth=depth, cells=tuple(cells), upsampler_kernel=k, trunk=trunk)


def inherit_state(supernet: Supernet, arch: Architecture) -> dict[str, torch.Tensor]:
    """A state dict for ``build_network(arch)`` with the supernet's shared weights
    (:meth:`Supernet.get_active_subnet`)."""
    return supernet.get_active_subnet(arch).state_dict()
