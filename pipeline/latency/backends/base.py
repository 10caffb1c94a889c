"""The interface every latency backend implements.

A backend measures one ``torch.nn.Module`` at one static input shape the way its runtime will
execute it in deployment (ONNX Runtime and TensorRT run the module's ONNX export, so their graph
optimisers fuse conv + activation + residual add as they would in the full network), and returns
:class:`TimingStats` over ``repeats`` timed runs after ``warmup`` untimed ones.
"""

from __future__ import annotations

import abc
import io
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from pipeline.errors import UserError
from pipeline.latency.stats import TimingStats
from pipeline.registry import Registry

ONNX_OPSET = 17  # inside the range TensorRT 10.3 (JetPack 6) parses


@dataclass(frozen=True)
class MeasureProtocol:
    """How many untimed warm-up runs and timed repeats; ``min_seconds`` extends short timings
    (as trtexec's 3 s minimum) so that tiny blocks get enough samples to be stable."""

    warmup: int = 10
    repeats: int = 30
    min_seconds: float = 0.0


class LatencyBackend(abc.ABC):
    """Measures modules on one device with one runtime and precision."""

    name: str = ""

    def __init__(self, device: str = "cpu", precision: str = "fp32", threads: int | None = None,
                 cache_dir: str | None = None) -> None:
        self.device, self.precision, self.threads, self.cache_dir = (
            device, precision, threads, cache_dir)

    @abc.abstractmethod
    def measure(self, module: torch.nn.Module, input_shape: tuple[int, ...],
                protocol: MeasureProtocol) -> TimingStats:
        """Latency of one forward pass of ``module`` on an input of ``input_shape``."""

    @abc.abstractmethod
    def describe(self) -> dict[str, Any]:
        """Provenance: runtime name and version, provider, threads, and what else applies."""


BACKENDS: Registry[Callable[..., LatencyBackend]] = Registry("latency runtime")


# Where each runtime's backend lives; its module is imported only when that runtime is asked
# for, so that a missing optional dependency (TensorRT) bothers no one who does not use it.
_BACKEND_MODULES = {
    "ort": "pipeline.latency.backends.onnxruntime_backend",
    "torch": "pipeline.latency.backends.torch_backend",
    "trt": "pipeline.latency.backends.tensorrt_backend",
}


def get_backend(runtime: str, **kwargs: Any) -> LatencyBackend:
    """Instantiate the backend registered as ``runtime`` (``ort``, ``torch``, ``trt``)."""
    import importlib

    if runtime not in _BACKEND_MODULES:
        raise UserError(f"unknown latency runtime {runtime!r}; known: "
                        f"{', '.join(_BACKEND_MODULES)}")
    importlib.import_module(_BACKEND_MODULES[runtime])
    return BACKENDS.get(runtime)(**kwargs)


def export_onnx_bytes(module: torch.nn.Module, input_shape: tuple[int, ...],
                      fp16: bool = False) -> bytes:
    """The module's ONNX graph at a static input shape (FP16 weights and I/O when ``fp16``).

    Re-parameterisable layers are measured folded, as they are deployed (on a copy)."""
    from pipeline.networks.mixed_path import folded_copy

    module = folded_copy(module.eval())
    dummy = torch.zeros(input_shape)
    if fp16:
        module, dummy = module.half(), dummy.half()
    buf = io.BytesIO()
    # The TorchScript exporter is chosen on purpose (static shapes, plain Conv/DepthToSpace graphs
    # that TensorRT 10.3 parses); its deprecation notice is noise for our users.
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(module, (dummy,), buf, input_names=["input"], output_names=["output"],
                          opset_version=ONNX_OPSET, dynamo=False)
    if fp16:
        module.float()
    return buf.getvalue()
