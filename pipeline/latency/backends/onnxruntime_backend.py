"""ONNX Runtime backend: the module's ONNX export in an ``InferenceSession``.

The CPU execution provider runs with a fixed intra-op thread count and full graph optimisation
(``ORT_ENABLE_ALL`` was ≈1.7× faster than none on a 2-core machine, REFERENCE.md), so conv +
activation + residual add fuse as they will in the deployed network. The CUDA provider is used
for ``device="cuda"`` when the installed onnxruntime has it. Latency is host wall time of
``session.run`` (inputs already in host memory), the deployment metric for CPUs.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import torch

from pipeline.errors import UserError
from pipeline.latency.backends.base import (
    BACKENDS,
    LatencyBackend,
    MeasureProtocol,
    export_onnx_bytes,
)
from pipeline.latency.backends.timing import time_calls
from pipeline.latency.stats import TimingStats


@BACKENDS.register("ort")
class OnnxRuntimeBackend(LatencyBackend):
    """Times ONNX Runtime sessions."""

    name = "onnxruntime"

    def __init__(self, device: str = "cpu", precision: str = "fp32", threads: int | None = None,
                 cache_dir: str | None = None) -> None:
        import onnxruntime as ort

        super().__init__(device, precision, threads or os.cpu_count() or 1, cache_dir)
        self.ort = ort
        if device == "cpu":
            if precision != "fp32":
                raise UserError("ONNX Runtime's CPU provider has no fast FP16 convolutions; "
                                "profile the CPU with --precision fp32")
            self.providers = ["CPUExecutionProvider"]
        elif "CUDAExecutionProvider" in ort.get_available_providers():
            self.providers = ["CUDAExecutionProvider"]
        else:
            raise UserError("this onnxruntime has no CUDA execution provider; install "
                            "onnxruntime-gpu, or use --runtime torch or --runtime trt")

    def session(self, onnx_bytes: bytes) -> Any:
        """An inference session with this backend's provider, threads and optimisation level."""
        opts = self.ort.SessionOptions()
        opts.graph_optimization_level = self.ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.intra_op_num_threads = self.threads
        opts.inter_op_num_threads = 1
        opts.execution_mode = self.ort.ExecutionMode.ORT_SEQUENTIAL
        return self.ort.InferenceSession(onnx_bytes, opts, providers=self.providers)

    def measure(self, module: torch.nn.Module, input_shape: tuple[int, ...],
                protocol: MeasureProtocol) -> TimingStats:
        fp16 = self.precision == "fp16"
        return self.measure_onnx(export_onnx_bytes(module, input_shape, fp16=fp16), input_shape,
                                 protocol)

    def measure_onnx(self, onnx_bytes: bytes, input_shape: tuple[int, ...],
                     protocol: MeasureProtocol) -> TimingStats:
        """Latency of a serialized ONNX model (static, or dynamic and run at ``input_shape``)."""
        sess = self.session(onnx_bytes)
        inp, out = sess.get_inputs()[0], sess.get_outputs()[0]
        dtype = np.float16 if "float16" in inp.type else np.float32
        x = np.random.default_rng(0).random(input_shape, dtype=np.float32).astype(dtype)
        # Pre-allocated, bound input and output buffers, as a deployed pipeline reuses them:
        # otherwise every run allocates (and page-faults in) a fresh output of tens of MB, a cost
        # that an isolated block pays and the same block inside a network does not. One untimed
        # run gives the output's shape and type, which a dynamic graph does not declare.
        y = np.empty_like(sess.run([out.name], {inp.name: x})[0])
        binding = sess.io_binding()
        if self.providers[0] == "CUDAExecutionProvider":
            binding.bind_cpu_input(inp.name, x)
            binding.bind_output(out.name, "cuda")
        else:
            binding.bind_input(inp.name, "cpu", 0, dtype, x.shape, x.ctypes.data)
            binding.bind_output(out.name, "cpu", 0, y.dtype, y.shape, y.ctypes.data)
        return TimingStats.from_samples(
            time_calls(lambda: sess.run_with_iobinding(binding), protocol))

    def describe(self) -> dict[str, Any]:
        return {"runtime": "onnxruntime", "version": self.ort.__version__,
                "provider": self.providers[0], "threads": self.threads,
                "graph_optimization": "ORT_ENABLE_ALL", "precision": self.precision,
                "timing": "host wall time of InferenceSession.run"}
