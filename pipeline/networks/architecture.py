"""The architecture artifact: a versioned JSON description of a discrete SR network.

The search derives one, the baselines are written as one, and export and validation consume only
this plus weights (after once-for-all's config + weights split, mit-han-lab/once-for-all).

Format (version 1)::

    {
      "format": "tnas-pipeline/arch", "version": 1,
      "name": "plain_cnn", "scale": 2, "colors": 3,
      "head":  {"op": "conv3x3", "out": 32, "act": "relu"},
      "cells": [{"ops": [{"op": "conv3x3", "out": 32, "act": "relu"}], "residual": false}],
      "upsampler": {"type": "pixel_shuffle", "kernel": 3},
      "global_skip": "bicubic"
    }

* ``head``: the first layer, from ``colors`` input channels to ``out``.
* ``cells``: applied in order; each op maps the previous op's channels to its ``out``; block ops
  take an inner ``width``. A ``residual`` cell adds its input to its output (same channels).
* ``upsampler``: ``pixel_shuffle`` (a k×k conv to colors·scale² channels, then PixelShuffle, as
  ESPCN) or ``deconv`` (a k×k transposed conv with stride ``scale``, as FSRCNN).
* ``global_skip``: the LR input, upsampled by ``nearest``/``bilinear``/``bicubic``, is added to the
  output (residual learning, VDSR); ``none`` adds nothing.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tnas_pipeline.data.degradation import SUPPORTED_SCALES
from tnas_pipeline.errors import UserError
from tnas_pipeline.io_utils import write_json_atomic
from tnas_pipeline.networks.arch_schema import check_architecture_dict
from tnas_pipeline.networks.ops import ACTIVATIONS, OPS
from tnas_pipeline.schema import read_json_document

FORMAT = "tnas-pipeline/arch"
VERSION = 1
UPSAMPLERS = ("pixel_shuffle", "deconv")
GLOBAL_SKIPS = ("none", "nearest", "bilinear", "bicubic")


@dataclass(frozen=True)
class Layer:
    """One op: its registered name, output channels, inner width (block ops only), activation."""

    op: str
    out: int
    act: str = "relu"
    width: int | None = None


@dataclass(frozen=True)
class Cell:
    """A sequence of ops; with ``residual`` its input is added to its output."""

    ops: tuple[Layer, ...]
    residual: bool = False


@dataclass(frozen=True)
class Upsampler:
    """The LR → HR layer: its type and kernel size."""

    type: str = "pixel_shuffle"
    kernel: int = 3


@dataclass(frozen=True)
class Architecture:
    """A discrete SR network, as data."""

    name: str
    scale: int
    head: Layer
    cells: tuple[Cell, ...]
    upsampler: Upsampler = field(default_factory=Upsampler)
    global_skip: str = "none"
    colors: int = 3

    def __post_init__(self) -> None:
        _validate(self)

    # -- serialisation -------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready dict of this architecture, with format and version."""

        def layer(x: Layer) -> dict[str, Any]:
            d = {"op": x.op, "out": x.out, "act": x.act}
            if x.width is not None:
                d["width"] = x.width
            return d

        return {
            "format": FORMAT,
            "version": VERSION,
            "name": self.name,
            "scale": self.scale,
            "colors": self.colors,
            "head": layer(self.head),
            "cells": [{"ops": [layer(o) for o in c.ops], "residual": c.residual}
                      for c in self.cells],
            "upsampler": asdict(self.upsampler),
            "global_skip": self.global_skip,
        }

    @classmethod
    def from_dict(cls, d: Any, source: str = "architecture") -> Architecture:
        """Parse and validate a dict; every problem is a :class:`UserError` naming ``source``
        (the file's shape and caps first, every violation at once: :mod:`.arch_schema`)."""
        if isinstance(d, dict) and d.get("format") == FORMAT and d.get("version") == VERSION:
            check_architecture_dict(d, source)
        try:
            return _parse(d)
        except UserError as exc:
            raise UserError(f"{source}: {exc}") from None
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise UserError(
                f"{source}: not a valid architecture ({type(exc).__name__}: {exc}); "
                f"see the format in pipeline/networks/architecture.py"
            ) from None

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2) + "\n"

    def save(self, path: str | Path) -> None:
        """Write the artifact atomically."""
        write_json_atomic(path, self.to_dict())

    @classmethod
    def load(cls, path: str | Path) -> Architecture:
        """Read an artifact file; a missing or malformed file is a :class:`UserError`."""
        data = read_json_document(path, "no such architecture file",
                                  "not valid JSON ({exc}); pass an architecture JSON")
        return cls.from_dict(data, source=str(path))


def _parse_layer(d: dict[str, Any]) -> Layer:
    unknown = set(d) - {"op", "out", "act", "width"}
    if unknown:
        raise UserError(f"unknown layer keys {sorted(unknown)}")
    return Layer(op=d["op"], out=int(d["out"]), act=d.get("act", "relu"), width=d.get("width"))


#: An architecture's name: it becomes part of a run directory's name (``runs/NAME-x2-TIME``) and
#: of file names, so it must never hold a path separator or start a hidden or parent path.
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def _checked_name(name: str) -> str:
    if not NAME_PATTERN.fullmatch(name):
        raise UserError(f"'name' {name[:80]!r} is not a valid architecture name: use 1 to 64 "
                        "letters, digits, '.', '_' or '-', starting with a letter or digit")
    return name


def _parse(d: Any) -> Architecture:
    if not isinstance(d, dict):
        raise UserError("expected a JSON object")
    if d.get("format") != FORMAT:
        raise UserError(f"'format' must be {FORMAT!r}, got {d.get('format')!r}")
    if d.get("version") != VERSION:
        raise UserError(
            f"architecture version {d.get('version')!r} is not supported "
            f"(this tool reads {VERSION})"
        )
    cells = tuple(
        Cell(ops=tuple(_parse_layer(o) for o in c["ops"]), residual=bool(c.get("residual", False)))
        for c in d["cells"]
    )
    up = d.get("upsampler", {})
    return Architecture(
        name=_checked_name(str(d.get("name", "unnamed"))),
        scale=int(d["scale"]),
        colors=int(d.get("colors", 3)),
        head=_parse_layer(d["head"]),
        cells=cells,
        upsampler=Upsampler(type=up.get("type", "pixel_shuffle"), kernel=int(up.get("kernel", 3))),
        global_skip=d.get("global_skip", "none"),
    )


def _validate_layer(layer: Layer, where: str) -> None:
    spec = OPS.get(layer.op)
    ACTIVATIONS.get(layer.act)
    if layer.out < 1:
        raise UserError(f"{where}: 'out' must be a positive channel count, got {layer.out}")
    if spec.uses_width:
        if not isinstance(layer.width, int) or layer.width < 1:
            raise UserError(f"{where}: op {layer.op!r} needs a positive integer 'width'")
    elif layer.width is not None:
        raise UserError(f"{where}: op {layer.op!r} takes no 'width'")


def _validate(arch: Architecture) -> None:
    if arch.scale not in SUPPORTED_SCALES:
        raise UserError(f"scale {arch.scale} is not supported; use one of {SUPPORTED_SCALES}")
    if arch.colors not in (1, 3):
        raise UserError(f"colors must be 1 or 3, got {arch.colors}")
    if arch.upsampler.type not in UPSAMPLERS:
        raise UserError(f"unknown upsampler {arch.upsampler.type!r}; "
                        f"known: {', '.join(UPSAMPLERS)}")
    if arch.upsampler.kernel < 1 or arch.upsampler.kernel % 2 == 0:
        raise UserError(f"upsampler kernel must be odd and positive, got {arch.upsampler.kernel}")
    if arch.global_skip not in GLOBAL_SKIPS:
        raise UserError(f"unknown global_skip {arch.global_skip!r}; "
                        f"known: {', '.join(GLOBAL_SKIPS)}")
    _validate_layer(arch.head, "head")
    channels = arch.head.out
    for i, cell in enumerate(arch.cells):
        if not cell.ops:
            raise UserError(f"cell {i} has no ops")
        cin = channels
        for j, layer in enumerate(cell.ops):
            _validate_layer(layer, f"cell {i} op {j}")
            channels = layer.out
        if cell.residual and channels != cin:
            raise UserError(f"cell {i} is residual but maps {cin} to {channels} channels")
