"""The one path from a PyTorch network to an ONNX graph.

Both the latency profiler (every block and network it times) and ``tnas-pipeline export`` (the
file a user deploys) call :func:`export_onnx`, so an FP16 graph that is profiled is, cast for
cast, the FP16 graph that ships. Choices (README "Export"; TensorRT facts in the project's
reference notes):

* re-parameterisable layers are folded first, on a copy (the caller's module is not changed);
* opset 17, inside the range TensorRT 10.3 (JetPack 6) parses, with the TorchScript exporter,
  whose plain Conv / DepthToSpace / Resize graphs TensorRT 10.3 takes as they are;
* FP16 means FP16 weights and activations with FP32 input and output (a Cast at each end), so a
  caller's pre- and post-processing do not change with the precision, and a strongly typed
  TensorRT build takes its precision from these types;
* named input ``input`` and output ``output``; a static shape, or batch, height and width
  symbolic.
"""

from __future__ import annotations

import copy
import io
import warnings

import torch
from torch import nn

from tnas_pipeline.errors import UserError
from tnas_pipeline.networks.reparam import reparameterize_model

ONNX_OPSET = 17
INPUT, OUTPUT = "input", "output"
PRECISIONS = ("fp32", "fp16")


class _Fp16WithFp32Io(nn.Module):
    """FP16 inside, FP32 at the edges: exports as Cast → FP16 graph → Cast."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net.half()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.half()).float()


def export_onnx_bytes(model: nn.Module, input_shape: tuple[int, ...] | None = None,
                      precision: str = "fp32", channels: int = 3) -> bytes:
    """The serialized ONNX graph of ``model``.

    Args:
        model: The network; exported from a folded, eval-mode copy.
        input_shape: A static ``(N, C, H, W)``; ``None`` exports batch, height and width as
            symbolic dimensions (traced at 32×32 with ``channels`` channels).
        precision: ``fp32``, or ``fp16`` (FP16 inside, FP32 input and output).
        channels: Input channels of a dynamic export.
    """
    if precision not in PRECISIONS:
        raise UserError(f"precision {precision!r} is not supported; use fp32 or fp16")
    net = reparameterize_model(copy.deepcopy(model).float().eval())
    if precision == "fp16":
        net = _Fp16WithFp32Io(net)
    shape = tuple(int(d) for d in input_shape) if input_shape else (1, channels, 32, 32)
    dynamic = None if input_shape else {
        INPUT: {0: "batch", 2: "height", 3: "width"},
        OUTPUT: {0: "batch", 2: "out_height", 3: "out_width"}}
    buf = io.BytesIO()
    # The TorchScript exporter on purpose (module docstring); its deprecation notice is noise for
    # our users.
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(net, (torch.rand(shape),), buf, input_names=[INPUT],
                          output_names=[OUTPUT], opset_version=ONNX_OPSET, dynamic_axes=dynamic,
                          dynamo=False, do_constant_folding=True)
    return buf.getvalue()
