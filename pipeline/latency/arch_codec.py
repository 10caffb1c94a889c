"""An architecture of a search space in a few words, as latency tables store their networks.

``{"cells": [[[op, width], …] per cell], "k": upsampler kernel, "c": trunk width}``: enough to
rebuild the network from its space (:func:`decode_arch`), small enough to keep hundreds of
measured networks in a table.
"""

from __future__ import annotations

from typing import Any

from tnas_pipeline.networks.architecture import Architecture
from tnas_pipeline.search_space import SearchSpace


def encode_arch(arch: Architecture) -> dict[str, Any]:
    """An architecture of a search space in a few words: per cell, its (op, width) pairs."""
    d = {"cells": [[[layer.op, layer.width] for layer in cell.ops] for cell in arch.cells],
         "k": arch.upsampler.kernel}
    d["c"] = arch.head.out  # the trunk width (older tables have none: the space's channels)
    return d


def decode_arch(space: SearchSpace, d: dict[str, Any], name: str = "sample") -> Architecture:
    cells = [[(str(op), None if w is None else int(w)) for op, w in cell] for cell in d["cells"]]
    return space.architecture(cells, int(d["k"]), name=name, trunk=d.get("c"))
