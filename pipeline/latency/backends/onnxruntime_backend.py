"""ONNX Runtime backend: the module's ONNX export in this project's one session configuration.

Sessions come from :func:`tnas_pipeline.runtime.ort_session.create_session` (full graph
optimisation, fixed intra-op threads, spin-waiting off), the same builder ``validate``, ``upscale``
and the benchmarks use; the CUDA provider is used for ``device="cuda"`` when the installed
onnxruntime has it. Latency is host wall time of ``run_with_iobinding`` with pre-bound buffers, the
deployment metric for CPUs; on the CPU the measuring thread is pinned to fixed cores.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

import torch

from tnas_pipeline.errors import UserError
from tnas_pipeline.latency.backends.base import BACKENDS, LatencyBackend, Timer
from tnas_pipeline.runtime import ort_session
from tnas_pipeline.runtime.onnx_graph import export_onnx_bytes


@BACKENDS.register("ort")
class OnnxRuntimeBackend(LatencyBackend):
    """Times ONNX Runtime sessions."""

    name = "onnxruntime"

    def __init__(self, device: str = "cpu", precision: str = "fp32", threads: int | None = None,
                 cache_dir: str | None = None) -> None:
        import onnxruntime as ort

        super().__init__(device, precision, threads or os.cpu_count() or 1, cache_dir)
        if device == "cpu":
            if precision != "fp32":
                raise UserError("ONNX Runtime's CPU provider has no fast FP16 convolutions; "
                                "profile the CPU with --precision fp32")
            self.provider = ort_session.CPU
        elif ort_session.CUDA in ort.get_available_providers():
            self.provider = ort_session.CUDA
        else:
            raise UserError("this onnxruntime has no CUDA execution provider; install "
                            "onnxruntime-gpu, or use --runtime torch or --runtime trt")

    def prepare(self, module: torch.nn.Module, input_shape: tuple[int, ...]) -> bytes:
        return export_onnx_bytes(module, input_shape, self.precision)

    @contextlib.contextmanager
    def open(self, prepared: bytes, input_shape: tuple[int, ...]) -> Iterator[Timer]:
        session = ort_session.create_session(prepared, self.threads, [self.provider])
        yield ort_session.BoundRun(session, input_shape)

    def pinning(self) -> contextlib.AbstractContextManager[Any]:
        if self.provider != ort_session.CPU:
            return contextlib.nullcontext()
        return ort_session.pinned(self.threads)

    def describe(self) -> dict[str, Any]:
        return {**ort_session.describe(self.threads, self.provider), "precision": self.precision}
