"""The shape of an architecture file, checked before it is parsed, with sane caps.

:meth:`Architecture.from_dict` parses with ``int(...)`` and ``bool(...)``, which would take
``true`` as one channel, ``2.7`` as scale 2 and the string ``"false"`` as a residual cell, and
fail with a traceback on ``Infinity``. So the dict is first checked here, every field against its
JSON type, and every violation is collected into one error. The caps keep a file from asking for
a network no machine can build (a million channels, thousands of cells): each is far above any
network of the search spaces or the baselines, and the message names it. What the values *mean*
(a registered op, a supported scale, a residual cell's channels) is checked by the parser and
``_validate`` in :mod:`tnas_pipeline.networks.architecture`, after this.
"""

from __future__ import annotations

from typing import Any

from tnas_pipeline.schema import Problems

#: Channels of any layer (``out``) or inner width; the widest network of the spaces has 64.
MAX_CHANNELS = 1024
#: Cells of a network, ops of a cell and layers in all (a searched network has 12 at most).
MAX_CELLS = 256
MAX_OPS_PER_CELL = 64
MAX_LAYERS = 1024
#: The upsampler's kernel (FSRCNN's deconvolution, the largest in use, is 9×9).
MAX_KERNEL = 15
#: Input and output colour channels: the pipeline reads, trains on and scores RGB images.
COLORS = 3
LAYER_KEYS = ("op", "out", "act", "width")


def _layer(p: Problems, value: Any, where: str) -> None:
    layer = p.obj(value, where)
    if layer is None:
        return
    unknown = sorted(set(layer) - set(LAYER_KEYS))
    if unknown:
        p.add(where, f"unknown layer keys {unknown}")
    if "op" not in layer:
        p.add(where, "missing 'op'")
    else:
        p.string(layer["op"], f"{where}.op")
    if "out" not in layer:
        p.add(where, "missing 'out'")
    else:
        p.integer(layer["out"], f"{where}.out", 1, MAX_CHANNELS)
    if "act" in layer:
        p.string(layer["act"], f"{where}.act")
    if layer.get("width") is not None:
        p.integer(layer["width"], f"{where}.width", 1, MAX_CHANNELS)


def _cells(p: Problems, value: Any) -> None:
    cells = p.array(value, "cells", MAX_CELLS, "cells")
    if cells is None:
        return
    layers = 0
    for i, value in enumerate(cells):
        cell = p.obj(value, f"cells[{i}]")
        if cell is None:
            continue
        if "ops" not in cell:
            p.add(f"cells[{i}]", "missing 'ops'")
            continue
        ops = p.array(cell["ops"], f"cells[{i}].ops", MAX_OPS_PER_CELL, "ops")
        for j, op in enumerate(ops or []):
            _layer(p, op, f"cells[{i}].ops[{j}]")
        layers += len(ops or [])
        if "residual" in cell:
            p.boolean(cell["residual"], f"cells[{i}].residual")
    if layers > MAX_LAYERS:
        p.add("cells", f"hold {layers} layers in all, more than the limit of {MAX_LAYERS}")


def architecture_problems(d: dict[str, Any]) -> Problems:
    """Every violation of the architecture format (version 1) in ``d``, a parsed JSON object
    whose format and version the caller has checked (the parser's own message about those is
    the one that helps)."""
    p = Problems()
    for key in ("scale", "head", "cells"):
        if key not in d:
            p.add("", f"missing '{key}'")
    if "scale" in d:
        p.integer(d["scale"], "scale")
    if "colors" in d and p.integer(d["colors"], "colors") not in (None, COLORS):
        p.add("colors", f"must be {COLORS} (the pipeline reads, trains on and scores RGB "
                        f"images), got {d['colors']}")
    if "name" in d:
        p.string(d["name"], "name")
    if "head" in d:
        _layer(p, d["head"], "head")
    if "cells" in d:
        _cells(p, d["cells"])
    if "upsampler" in d:
        up = p.obj(d["upsampler"], "upsampler")
        if up is not None:
            if "type" in up:
                p.string(up["type"], "upsampler.type")
            if "kernel" in up:
                p.integer(up["kernel"], "upsampler.kernel", 1, MAX_KERNEL)
    if "global_skip" in d:
        p.string(d["global_skip"], "global_skip")
    return p


def check_architecture_dict(d: dict[str, Any], source: str) -> None:
    """Raise one :class:`~tnas_pipeline.errors.UserError` listing every violation in ``d``."""
    architecture_problems(d).raise_if_any(
        f"{source}: not a valid architecture",
        "see the format in pipeline/networks/architecture.py")
