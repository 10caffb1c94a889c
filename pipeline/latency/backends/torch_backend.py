"""PyTorch backend: eager forward passes under ``torch.inference_mode``.

On CPU it times wall clock with a fixed thread count. On CUDA it records CUDA events around each
forward on the current stream after a synchronise, and reads them after synchronising the end
event, so the figure is GPU time rather than the launch time of asynchronous kernels.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import Any

import torch

from tnas_pipeline.errors import UserError
from tnas_pipeline.latency.backends.base import BACKENDS, LatencyBackend, Timer


@BACKENDS.register("torch")
class TorchBackend(LatencyBackend):
    """Times eager PyTorch on CPU (wall clock) or CUDA (CUDA events)."""

    name = "torch"

    def __init__(self, device: str = "cpu", precision: str = "fp32", threads: int | None = None,
                 cache_dir: str | None = None) -> None:
        super().__init__(device, precision, threads, cache_dir)
        if device == "cpu" and precision != "fp32":
            raise UserError("PyTorch on CPU is profiled in fp32; use --precision fp32")
        if device != "cpu" and not torch.cuda.is_available():
            raise UserError("PyTorch sees no CUDA GPU; profile --device cpu, or run on a GPU")
        if threads:
            torch.set_num_threads(threads)
        self.dtype = torch.float16 if precision == "fp16" else torch.float32
        self.torch_device = torch.device("cuda" if device != "cpu" else "cpu")

    def prepare(self, module: torch.nn.Module, input_shape: tuple[int, ...]) -> torch.nn.Module:
        from tnas_pipeline.networks.reparam import folded_copy

        return folded_copy(module.eval()).to(self.torch_device, self.dtype)

    @contextlib.contextmanager
    def open(self, prepared: torch.nn.Module, input_shape: tuple[int, ...]) -> Iterator[Timer]:
        x = torch.rand(input_shape, device=self.torch_device, dtype=self.dtype)
        cuda = self.torch_device.type == "cuda"

        def once() -> float:
            with torch.inference_mode():
                if not cuda:
                    t0 = time.perf_counter()
                    prepared(x)
                    return (time.perf_counter() - t0) * 1e3
                start = torch.cuda.Event(enable_timing=True)
                end = torch.cuda.Event(enable_timing=True)
                start.record()
                prepared(x)
                end.record()
                end.synchronize()
                return float(start.elapsed_time(end))

        if cuda:
            torch.cuda.synchronize()
        yield once

    def describe(self) -> dict[str, Any]:
        d: dict[str, Any] = {"runtime": "torch", "version": torch.__version__,
                             "precision": self.precision, "threads": torch.get_num_threads()}
        if self.torch_device.type == "cuda":
            d.update(gpu=torch.cuda.get_device_name(0),
                     timing="GPU time, CUDA events around each forward after a synchronise")
        else:
            d.update(timing="host wall time of each forward under inference_mode")
        return d
