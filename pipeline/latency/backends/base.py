"""The interface every latency backend implements.

A backend times one ``torch.nn.Module`` at one static input shape the way its runtime executes it
in deployment (ONNX Runtime and TensorRT run the module's ONNX export from
:mod:`tnas_pipeline.runtime.onnx_graph`, the graph ``export`` ships, so their optimisers fuse conv +
activation + residual add as they would in the full network). It does so in two steps, so that
one graph can be timed in several fresh sessions without exporting or building it again:

* :meth:`LatencyBackend.prepare` turns a module into what the runtime loads (ONNX bytes, a
  TensorRT plan, the module on its device);
* :meth:`LatencyBackend.open` loads it into a fresh session and yields a timer, a callable that
  runs once and returns milliseconds.

:func:`tnas_pipeline.latency.measure.measure_ratio` times a prepared target against a prepared
reference network in interleaved pairs (:mod:`tnas_pipeline.latency.interleaved`);
:meth:`LatencyBackend.measure` is a plain warm-up-then-repeat timing, for quick looks.
"""

from __future__ import annotations

import abc
import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import torch

from tnas_pipeline.errors import UserError
from tnas_pipeline.latency.stats import TimingStats
from tnas_pipeline.registry import Registry

Timer = Callable[[], float]


@dataclass(frozen=True)
class MeasureProtocol:
    """Plain timing: ``warmup`` untimed runs, then ``repeats`` timed ones; ``min_seconds``
    extends short timings (as trtexec's 3 s minimum) so tiny blocks get enough samples."""

    warmup: int = 10
    repeats: int = 30
    min_seconds: float = 0.0


class LatencyBackend(abc.ABC):
    """Times modules on one device with one runtime and precision."""

    name: str = ""

    def __init__(self, device: str = "cpu", precision: str = "fp32", threads: int | None = None,
                 cache_dir: str | None = None) -> None:
        self.device, self.precision, self.threads, self.cache_dir = (
            device, precision, threads, cache_dir)

    @abc.abstractmethod
    def prepare(self, module: torch.nn.Module, input_shape: tuple[int, ...]) -> Any:
        """What :meth:`open` loads: the module in this runtime's deployable form."""

    @abc.abstractmethod
    def open(self, prepared: Any, input_shape: tuple[int, ...]
             ) -> contextlib.AbstractContextManager[Timer]:
        """A fresh session of ``prepared``, as a timer for one run at ``input_shape``."""

    @abc.abstractmethod
    def describe(self) -> dict[str, Any]:
        """Provenance: runtime name and version, provider, threads, and what else applies."""

    def pinning(self) -> contextlib.AbstractContextManager[Any]:
        """Where the runtime allows, hold the measuring thread to fixed cores (CPU runtimes)."""
        return contextlib.nullcontext()

    def measure(self, module: torch.nn.Module, input_shape: tuple[int, ...],
                protocol: MeasureProtocol) -> TimingStats:
        """Plain timing of one forward pass of ``module`` at ``input_shape``."""
        prepared = self.prepare(module, input_shape)
        with self.pinning(), self.open(prepared, input_shape) as timer:
            return TimingStats.from_samples(time_calls(timer, protocol))


def time_calls(timer: Timer, protocol: MeasureProtocol) -> list[float]:
    """``protocol.repeats`` samples of ``timer`` (more until ``min_seconds``), after warm-up."""
    import time

    for _ in range(protocol.warmup):
        timer()
    samples: list[float] = []
    start = time.perf_counter()
    while len(samples) < protocol.repeats or time.perf_counter() - start < protocol.min_seconds:
        samples.append(timer())
    return samples


@contextlib.contextmanager
def closing_timer(timer: Timer) -> Iterator[Timer]:
    """A timer with nothing to release, as a context manager."""
    yield timer


BACKENDS: Registry[Callable[..., LatencyBackend]] = Registry("latency runtime")


# Where each runtime's backend lives; its module is imported only when that runtime is asked
# for, so that a missing optional dependency (TensorRT) bothers no one who does not use it.
_BACKEND_MODULES = {
    "ort": "tnas_pipeline.latency.backends.onnxruntime_backend",
    "torch": "tnas_pipeline.latency.backends.torch_backend",
    "trt": "tnas_pipeline.latency.backends.tensorrt_backend",
}
RUNTIME_KEYS = {"onnxruntime": "ort", "torch": "torch", "tensorrt": "trt"}


def get_backend(runtime: str, **kwargs: Any) -> LatencyBackend:
    """Instantiate the backend registered as ``runtime`` (``ort``, ``torch``, ``trt``)."""
    import importlib

    if runtime not in _BACKEND_MODULES:
        raise UserError(f"unknown latency runtime {runtime!r}; known: "
                        f"{', '.join(_BACKEND_MODULES)}")
    importlib.import_module(_BACKEND_MODULES[runtime])
    return BACKENDS.get(runtime)(**kwargs)
