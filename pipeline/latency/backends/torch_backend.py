"""PyTorch backend: eager forward passes under ``torch.inference_mode``.

On CPU it times wall clock with a fixed thread count. On CUDA it records CUDA events around each
forward on the current stream after a synchronise, and reads them after synchronising the end
event, so the figure is GPU time rather than the launch time of asynchronous kernels.
"""

from __future__ import annotations

from typing import Any

import torch

from pipeline.errors import UserError
from pipeline.latency.backends.base import BACKENDS, LatencyBackend, MeasureProtocol
from pipeline.latency.backends.timing import time_calls
from pipeline.latency.stats import TimingStats


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

    def measure(self, module: torch.nn.Module, input_shape: tuple[int, ...],
                protocol: MeasureProtocol) -> TimingStats:
        module = module.to(self.torch_device, self.dtype).eval()
        x = torch.rand(input_shape, device=self.torch_device, dtype=self.dtype)
        with torch.inference_mode():
            if self.torch_device.type == "cpu":
                return TimingStats.from_samples(time_calls(lambda: module(x), protocol))
            return TimingStats.from_samples(self._cuda_times(module, x, protocol))

    @staticmethod
    def _cuda_times(module: torch.nn.Module, x: torch.Tensor,
                    protocol: MeasureProtocol) -> list[float]:
        for _ in range(protocol.warmup):
            module(x)
        torch.cuda.synchronize()
        samples: list[float] = []
        elapsed = 0.0
        while len(samples) < protocol.repeats or elapsed < protocol.min_seconds * 1e3:
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            module(x)
            end.record()
            end.synchronize()
            samples.append(start.elapsed_time(end))
            elapsed += samples[-1]
        return samples

    def describe(self) -> dict[str, Any]:
        d: dict[str, Any] = {"runtime": "torch", "version": torch.__version__,
                             "precision": self.precision, "threads": torch.get_num_threads()}
        if self.torch_device.type == "cuda":
            d.update(gpu=torch.cuda.get_device_name(0),
                     timing="GPU time, CUDA events around each forward after a synchronise")
        else:
            d.update(timing="host wall time of each forward under inference_mode")
        return d
