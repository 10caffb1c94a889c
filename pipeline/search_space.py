"""The search space as data, in one place (after DARTS's ``genotypes.py``, quark0/darts).

Three levels, as in Trilevel NAS (Wu et al., arXiv 2101.06658):

* network level: how many cells are used (1 … ``max_cells``) and the upsampler;
* cell level: the op on each of a cell's ``edges_per_cell`` chained edges (``ops``, whose order
  is the column order of the architecture weights, as DARTS' ``PRIMITIVES``);
* kernel level: the inner width of each op (``widths``), by weight-shared channel slicing.

Every cell maps ``channels`` to ``channels`` at the LR resolution; the fixed parts are a 3×3 head
(3 → ``channels``) and a nearest (anchor) global skip. The stable hash of these fields is
recorded by every latency table and run, so a table of another space or scale is refused.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from tnas_pipeline.errors import UserError
from tnas_pipeline.networks.architecture import Architecture, Cell, Layer, Upsampler
from tnas_pipeline.networks.ops import OPS


@dataclass(frozen=True)
class SearchSpace:
    """The discrete choices the search makes; every field is part of the hash."""

    # Cell level: ordered op primitives (all map the trunk's channels to themselves; block ops
    # with an inner width, plain or re-parameterisable layers without one).
    ops: tuple[str, ...] = ("resblock3x3", "conv3x3_1x1", "invres3x3", "invres5x5")
    # Kernel level: inner width choices of every block op.
    widths: tuple[int, ...] = (16, 32, 48, 64)
    # Network level: at most this many cells, and the upsampler's conv kernel choices.
    max_cells: int = 6
    upsampler_kernels: tuple[int, ...] = (1, 3)
    # Fixed: edges per cell, trunk channels, activation, global skip, scale.
    edges_per_cell: int = 2
    channels: int = 32
    act: str = "relu"
    # Nearest (the ABPN anchor): ONNX Runtime's bicubic Resize alone took 168 ms at 1280×720 on
    # the 2-core CPU, more than most cells (measured with bench/lut_fidelity.py's backend).
    global_skip: str = "nearest"
    scale: int = 2
    # Kernel level, optional: the trunk's width (head output, every layer, upsampler input), one
    # choice for the whole network, as the hand-designed plain and ECBSR networks have; empty:
    # the trunk is ``channels``. One trunk width per network keeps every layer ``c → c``, so a
    # table needs one entry per (op, width, c), not one per pair of neighbouring widths.
    trunk_widths: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if self.trunk_widths and self.channels not in self.trunk_widths:
            raise ValueError(f"channels {self.channels} must be one of the trunk widths "
                             f"{self.trunk_widths} (the reference network's trunk)")

    def to_dict(self) -> dict[str, Any]:
        d = {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}
        if not self.trunk_widths:  # spaces before trunk search keep their hash
            del d["trunk_widths"]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SearchSpace:
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})

    @property
    def hash(self) -> str:
        """First 16 hex digits of the SHA-256 of the canonical JSON of the fields."""
        canon = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canon.encode()).hexdigest()[:16]

    def with_scale(self, scale: int) -> SearchSpace:
        return SearchSpace(**{**asdict(self), "scale": scale})

    def with_ops(self, ops: tuple[str, ...] | list[str]) -> SearchSpace:
        """The subspace of some of this space's ops (a table of this space covers it)."""
        unknown = [op for op in ops if op not in self.ops]
        if unknown or not ops:
            raise UserError(f"ops {', '.join(unknown) or '(none)'} are not in the table's search "
                            f"space ({', '.join(self.ops)})")
        return SearchSpace(**{**asdict(self), "ops": tuple(ops)})

    @property
    def trunk_choices(self) -> tuple[int, ...]:
        """The trunk widths a network of this space can have."""
        return self.trunk_widths or (self.channels,)

    @property
    def width_choices(self) -> tuple[int | None, ...]:
        """The kernel-level inner widths (``(None,)`` in a space of layers without one)."""
        return self.widths or (None,)

    def op_widths(self, op: str) -> tuple[int | None, ...]:
        """The inner widths ``op`` can take here: ``widths``, or ``(None,)`` for an op without
        one (a plain or re-parameterisable layer)."""
        return self.widths if OPS.get(op).uses_width and self.widths else (None,)

    @property
    def single_path(self) -> bool:
        """Whether the trilevel single-path supernet searches this space: no op is a mixed-path
        branch set, and block ops have widths to choose from."""
        specs = [OPS.get(op) for op in self.ops]
        return not any(s.mixed_path for s in specs) and (
            bool(self.widths) or not any(s.uses_width for s in specs))

    # -- discrete architectures -----------------------------------------------------------------
    def architecture(self, cells: list[list[tuple[str, int | None]]], upsampler_kernel: int,
                     name: str = "searched", trunk: int | None = None) -> Architecture:
        """The architecture artifact for per-cell (op, width) choices, an upsampler kernel and
        a trunk width (default ``channels``); a layer without an inner width drops its width."""
        c = trunk or self.channels
        return Architecture(
            name=name, scale=self.scale, head=Layer("conv3x3", c, "none"),
            cells=tuple(Cell(tuple(Layer(op, c, self.act,
                                         width=w if OPS.get(op).uses_width else None)
                                   for op, w in cell))
                        for cell in cells),
            upsampler=Upsampler("pixel_shuffle", upsampler_kernel), global_skip=self.global_skip,
        )

    def random_architecture(self, rng: np.random.Generator, name: str = "random") -> Architecture:
        """A uniformly random member of the space (cell count, ops, widths, upsampler)."""
        n = int(rng.integers(1, self.max_cells + 1))
        cells = []
        for _ in range(n):
            cell = []
            for _ in range(self.edges_per_cell):
                op = self.ops[int(rng.integers(len(self.ops)))]
                widths = self.op_widths(op)
                cell.append((op, widths[int(rng.integers(len(widths)))]))
            cells.append(cell)
        k = self.upsampler_kernels[int(rng.integers(len(self.upsampler_kernels)))]
        trunk = None
        if self.trunk_widths:
            trunk = self.trunk_widths[int(rng.integers(len(self.trunk_widths)))]
        return self.architecture(cells, k, name=name, trunk=trunk)


DEFAULT_SPACE = SearchSpace()

# The mixed-path space (Sparse Supernet, ``--relaxation sparse-group-lasso``): every edge keeps
# any set of the linear branches 3×3, 1×1 and identity, deployed folded into one conv (see
# pipeline/networks/mixed_path.py), so a network of this space is a chain of folded 3×3 and 1×1
# layers; an edge that keeps no branch is left out, and so is a cell that keeps no edge.
MIXED_SPACE = SearchSpace(ops=("rep3x3", "rep1x1"), widths=())

# The op pool of search-space evolution (NSE, ``--evolve-rounds``): twice the supernet's ops.
# Each round searches a subset of DEFAULT_SPACE's size; the pool's table covers every subset.
POOL_SPACE = SearchSpace(ops=(*DEFAULT_SPACE.ops, "resblock5x5", "conv5x5_1x1", "invres7x7",
                              "resblock1x1"))

# The plain space: chains of 3×3 convs, ECBs (trained with ECBSR's edge branches, deployed
# folded into one 3×3 conv) and 1×1 convs, at one searched trunk width, with the anchor skip: the
# shape of the plain and ECBSR networks that won the arena's hand-designed rows, whose layers
# ONNX Runtime and TensorRT run as single dense convolutions.
PLAIN_SPACE = SearchSpace(ops=("conv3x3", "ecb", "conv1x1"), widths=(), max_cells=6,
                          trunk_widths=(16, 24, 32, 48))

SPACES = {"default": DEFAULT_SPACE, "mixed": MIXED_SPACE, "pool": POOL_SPACE,
          "plain": PLAIN_SPACE}
