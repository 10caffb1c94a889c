"""ONNX from a trained network: export, check, simplify, stamp with the run.

Loaders after Polygraphy's ``<Target>From<Source>`` naming (NVIDIA/TensorRT ``tools/Polygraphy``,
e.g. ``NetworkFromOnnxPath``): :class:`OnnxFromTorch` turns a module into an
``onnx.ModelProto`` and does nothing until called; :func:`simplify_onnx` runs ``onnx.checker``
and onnxsim; :func:`save_onnx` writes atomically. The export itself is
:func:`tnas_pipeline.runtime.onnx_graph.export_onnx_bytes`, the one path the latency profiler uses
too, so the FP16 graph that was profiled is the graph that ships: re-parameterised, opset 17,
``input``/``output``, FP16 inside with FP32 input and output, a dynamic variant for images of
any size and a static one at the deployment resolution (the shape TensorRT tunes tactics for).
"""

from __future__ import annotations

from pathlib import Path

import onnx
from torch import nn

from tnas_pipeline.errors import UserError
from tnas_pipeline.io_utils import atomic_path
from tnas_pipeline.runtime.onnx_graph import INPUT, OUTPUT, PRECISIONS, export_onnx_bytes

__all__ = ["INPUT", "OUTPUT", "PRECISIONS", "OnnxFromTorch", "opset_of", "read_metadata",
           "save_onnx", "simplify_onnx", "stamp"]


class OnnxFromTorch:
    """Export an SR network to ONNX when called.

    Args:
        model: The network (exported from a copy; the caller's module is left as it is).
        input_hw: Static LR input (height, width); ``None`` means dynamic batch, height, width.
        precision: ``fp32`` or ``fp16`` (FP16 inside, FP32 input and output).
    """

    def __init__(self, model: nn.Module, input_hw: tuple[int, int] | None = None,
                 precision: str = "fp32", colors: int = 3) -> None:
        if precision not in PRECISIONS:
            raise UserError(f"precision {precision!r} is not supported; use fp32 or fp16")
        self.model, self.input_hw, self.precision, self.colors = model, input_hw, precision, colors

    def __call__(self) -> onnx.ModelProto:
        shape = (1, self.colors, *self.input_hw) if self.input_hw else None
        return onnx.load_from_string(export_onnx_bytes(self.model, shape, self.precision,
                                                       channels=self.colors))


def simplify_onnx(model: onnx.ModelProto) -> onnx.ModelProto:
    """``onnx.checker`` (full check, with shape inference), onnxsim, then the checker again.

    Raises:
        UserError: the model fails the checker, or onnxsim cannot prove its result equivalent.
    """
    import onnxsim

    try:
        onnx.checker.check_model(model, full_check=True)
    except onnx.checker.ValidationError as exc:
        raise UserError(f"the exported ONNX fails onnx.checker ({_one_line(exc)})") from None
    simplified, ok = onnxsim.simplify(model)
    if not ok:
        raise UserError("onnxsim could not validate the simplified model; report this network's "
                        "arch.json as a bug")
    onnx.checker.check_model(simplified, full_check=True)
    return simplified


def stamp(model: onnx.ModelProto, metadata: dict[str, str]) -> onnx.ModelProto:
    """Set the model's ``metadata_props`` (string key/values ONNX Runtime exposes at load)."""
    keep = [p for p in model.metadata_props if p.key not in metadata]
    del model.metadata_props[:]
    model.metadata_props.extend(keep)
    for key, value in metadata.items():
        model.metadata_props.add(key=key, value=str(value))
    model.producer_name = "tnas-pipeline"
    return model


def read_metadata(model: onnx.ModelProto) -> dict[str, str]:
    return {p.key: p.value for p in model.metadata_props}


def opset_of(model: onnx.ModelProto) -> int:
    return next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))


def save_onnx(model: onnx.ModelProto, path: str | Path) -> bytes:
    """Write the model atomically; returns its bytes (for hashing and for runners)."""
    data = model.SerializeToString()
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return data


def _one_line(e: object) -> str:
    return " ".join(str(e).split())
