"""ONNX from a trained network: re-parameterise, export, check, simplify, stamp with the run.

Loaders after Polygraphy's naming (STYLE.md): :class:`OnnxFromTorch` turns a module into an
``onnx.ModelProto`` and does nothing until called; :func:`simplify_onnx` runs ``onnx.checker``
and onnxsim; :func:`save_onnx` writes atomically.

Choices, from REFERENCE.md's TensorRT and ONNX Runtime sections:

* opset 17 (the profiler's), inside the range TensorRT 10.3 on JetPack 6 parses; the TorchScript
  exporter, whose Conv / DepthToSpace / Resize graphs TensorRT 10.3 takes as they are;
* named input ``input`` and output ``output``; a dynamic variant (batch, height and width
  symbolic) for images of any size, and a static one at the deployment resolution, the shape
  TensorRT tunes tactics for;
* FP16: weights and activations in FP16 with FP32 input and output (a Cast at each end), so the
  caller's pre- and post-processing do not change with the precision; a strongly typed TensorRT
  build takes its precision from these types.
"""

from __future__ import annotations

import copy
import io
import warnings
from pathlib import Path

import onnx
import torch
from torch import nn

from pipeline.errors import UserError
from pipeline.io_utils import atomic_path
from pipeline.latency.backends.base import ONNX_OPSET
from pipeline.networks.mixed_path import reparameterize_model

INPUT, OUTPUT = "input", "output"
PRECISIONS = ("fp32", "fp16")


class _Fp16WithFp32Io(nn.Module):
    """FP16 inside, FP32 at the edges: exports as Cast → FP16 graph → Cast."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net.half()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.half()).float()


class OnnxFromTorch:
    """Export an SR network to ONNX when called.

    Args:
        model: The network (copied; the caller's module is left as it is).
        input_hw: Static LR input (height, width); ``None`` means dynamic batch, height, width.
        precision: ``fp32`` or ``fp16`` (FP16 inside, FP32 input and output).
    """

    def __init__(self, model: nn.Module, input_hw: tuple[int, int] | None = None,
                 precision: str = "fp32", colors: int = 3) -> None:
        if precision not in PRECISIONS:
            raise UserError(f"precision {precision!r} is not supported; use fp32 or fp16")
        self.model, self.input_hw, self.precision, self.colors = model, input_hw, precision, colors

    def __call__(self) -> onnx.ModelProto:
        net = reparameterize_model(copy.deepcopy(self.model).float().eval())
        if self.precision == "fp16":
            net = _Fp16WithFp32Io(net)
        h, w = self.input_hw or (32, 32)
        dummy = torch.rand(1, self.colors, h, w)
        dynamic = None if self.input_hw else {
            INPUT: {0: "batch", 2: "height", 3: "width"},
            OUTPUT: {0: "batch", 2: "out_height", 3: "out_width"}}
        buf = io.BytesIO()
        # The TorchScript exporter on purpose, as the profiler (pipeline.latency.backends.base).
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            torch.onnx.export(net, (dummy,), buf, input_names=[INPUT], output_names=[OUTPUT],
                              opset_version=ONNX_OPSET, dynamic_axes=dynamic, dynamo=False,
                              do_constant_folding=True)
        return onnx.load_from_string(buf.getvalue())


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
