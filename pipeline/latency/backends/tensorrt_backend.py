"""TensorRT backend: each block's ONNX export, built as a strongly typed engine, timed on the GPU.

The deployment runtime of NVIDIA GPUs and Jetsons: the block is exported by
:mod:`tnas_pipeline.runtime.onnx_graph` in FP32 or FP16 (FP16 inside with FP32 input and output, the
graph ``export`` ships; strong typing takes the precision from the ONNX types, the path that
works on TensorRT 10.x and 11.x), built with one profile at min = opt = max = the block's input
shape (tactics are tuned at ``opt``), with a timing cache per GPU model and TensorRT version so
rebuilds pick the same kernels, and timed with CUDA events around ``execute_async_v3`` on a
non-default stream (:class:`tnas_pipeline.runtime.trt.runner.TrtRunner`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch

from tnas_pipeline.errors import UserError
from tnas_pipeline.latency.backends.base import BACKENDS, LatencyBackend, Timer
from tnas_pipeline.runtime.onnx_graph import INPUT, export_onnx_bytes
from tnas_pipeline.runtime.trt.availability import require_tensorrt
from tnas_pipeline.runtime.trt.cuda import gpu_info
from tnas_pipeline.runtime.trt.engine import build_engine, timing_cache_name
from tnas_pipeline.runtime.trt.runner import TrtRunner

ONNX_INPUT = INPUT
PRECISIONS = ("fp32", "fp16")


@BACKENDS.register("trt")
class TensorRTBackend(LatencyBackend):
    """Times TensorRT engines of single blocks on one NVIDIA GPU (desktop, server or Jetson)."""

    name = "tensorrt"

    def __init__(self, device: str = "cuda", precision: str = "fp32", threads: int | None = None,
                 cache_dir: str | None = None) -> None:
        # First, so that a machine without TensorRT gets the install line before anything else.
        self.trt = require_tensorrt()
        super().__init__(device, precision, threads, cache_dir)
        if device == "cpu":
            raise UserError("TensorRT runs only on NVIDIA GPUs; profile --device cpu with "
                            "--runtime ort")
        if precision not in PRECISIONS:
            raise UserError(f"TensorRT precision {precision!r} is not supported; use "
                            f"--precision {' or '.join(PRECISIONS)}")
        # Opens the GPU once now, so a missing CUDA binding or GPU is reported at construction.
        self.gpu = gpu_info()

    def timing_cache_path(self) -> Path | None:
        """``<cache_dir>/trt-<gpu>-trt<version>.timing_cache``, or ``None`` without a cache_dir.

        A cache is only valid for one GPU model and TensorRT version, hence both in the name.
        """
        if not self.cache_dir:
            return None
        return Path(self.cache_dir) / timing_cache_name(self.gpu["gpu"],
                                                        str(self.trt.__version__))

    def prepare(self, module: torch.nn.Module, input_shape: tuple[int, ...]) -> bytes:
        shape = tuple(int(d) for d in input_shape)
        onnx_bytes = export_onnx_bytes(module, shape, self.precision)
        return build_engine(onnx_bytes, {ONNX_INPUT: (shape, shape, shape)},
                            timing_cache_path=self.timing_cache_path())

    @contextlib.contextmanager
    def open(self, prepared: bytes, input_shape: tuple[int, ...]) -> Iterator[Timer]:
        with TrtRunner(prepared) as runner:
            yield runner.time_once

    def describe(self) -> dict[str, Any]:
        return {"runtime": "tensorrt", "version": str(self.trt.__version__),
                "precision": self.precision, "gpu": self.gpu["gpu"],
                "compute_capability": self.gpu["compute_capability"],
                "cuda_binding": self.gpu["cuda_binding"],
                "timing": "GPU compute time, CUDA events around execute_async_v3 on a "
                          "non-default stream"}
