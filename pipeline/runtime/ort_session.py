"""The one way this project opens and times an ONNX Runtime session.

:func:`create_session` is used by the latency profiler, ``validate``, ``export``'s parity check,
``upscale`` and the benchmarks, so what is profiled is what is deployed:

* ``ORT_ENABLE_ALL`` graph optimisation (≈1.7× faster than none on a 2-core CPU, so conv +
  activation + residual add fuse as they will in deployment);
* a fixed intra-op thread count (``None``: ONNX Runtime's default, all cores), one inter-op
  thread, sequential execution;
* spin-waiting off (``session.intra_op.allow_spinning = 0``): a spinning worker burns the core
  that the next measured run, or the other process on a 2-core machine, needs, and turns a
  scheduling hiccup into a latency outlier.

:class:`BoundRun` times one run with input and output buffers bound once, as a deployed pipeline
reuses them (otherwise every run allocates and page-faults a fresh output of tens of MB, a cost
an isolated block pays and the same block inside a network does not). :func:`pinned` holds the
calling thread to fixed cores while it measures, so the scheduler does not migrate it mid-run.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tnas_pipeline.errors import UserError

CPU = "CPUExecutionProvider"
CUDA = "CUDAExecutionProvider"
SETTINGS = {"graph_optimization": "ORT_ENABLE_ALL", "inter_op_threads": 1,
            "execution_mode": "ORT_SEQUENTIAL", "intra_op_spinning": False}


def create_session(model: bytes | str | Path, threads: int | None = None,
                   providers: Sequence[str] | None = None, name: str | None = None) -> Any:
    """An ``onnxruntime.InferenceSession`` with this project's settings (module docstring).

    Raises:
        UserError: a provider is not in this onnxruntime, or the model cannot be loaded.
    """
    import onnxruntime as ort

    providers = list(providers or [CPU])
    missing = [p for p in providers if p not in ort.get_available_providers()]
    if missing:
        raise UserError(f"this onnxruntime has no {', '.join(missing)}; install onnxruntime-gpu "
                        "for CUDA, or run on the CPU")
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if threads:
        opts.intra_op_num_threads = int(threads)
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    opts.add_session_config_entry("session.inter_op.allow_spinning", "0")
    source = str(model) if isinstance(model, (str, Path)) else model
    label = name or (Path(model).name if isinstance(model, (str, Path)) else "the ONNX model")
    try:
        return ort.InferenceSession(source, opts, providers=providers)
    except Exception as exc:  # ORT raises its own exception types for unreadable models
        raise UserError(f"ONNX Runtime cannot load {label} ({' '.join(str(exc).split())}); "
                        "re-export it") from None


def describe(threads: int | None, provider: str = CPU) -> dict[str, Any]:
    """The settings a table or report records about the sessions it timed."""
    import onnxruntime as ort

    return {"runtime": "onnxruntime", "version": ort.__version__, "provider": provider,
            "threads": threads, **SETTINGS,
            "timing": "host wall time of run_with_iobinding with pre-bound buffers"}


class BoundRun:
    """One session with its input and output bound once; calling it runs once and returns the
    wall time in milliseconds."""

    def __init__(self, session: Any, input_shape: Sequence[int], seed: int = 0) -> None:
        self.session = session
        inp, out = session.get_inputs()[0], session.get_outputs()[0]
        dtype = np.float16 if "float16" in inp.type else np.float32
        self.x = np.random.default_rng(seed).random(tuple(input_shape),
                                                    dtype=np.float32).astype(dtype)
        # One untimed run gives the output's shape and type, which a dynamic graph does not
        # declare.
        self.y = np.empty_like(session.run([out.name], {inp.name: self.x})[0])
        self.binding = session.io_binding()
        if session.get_providers()[0] == CUDA:
            self.binding.bind_cpu_input(inp.name, self.x)
            self.binding.bind_output(out.name, "cuda")
        else:
            self.binding.bind_input(inp.name, "cpu", 0, dtype, self.x.shape, self.x.ctypes.data)
            self.binding.bind_output(out.name, "cpu", 0, self.y.dtype, self.y.shape,
                                     self.y.ctypes.data)

    def __call__(self) -> float:
        t0 = time.perf_counter()
        self.session.run_with_iobinding(self.binding)
        return (time.perf_counter() - t0) * 1e3


def pinned_cores(threads: int | None) -> set[int] | None:
    """The cores a measurement with ``threads`` threads is held to: the last ``threads`` of
    those this process may use (the first core takes most interrupts and system work), or
    ``None`` where affinity cannot be set or ``threads`` would take every core anyway."""
    if not hasattr(os, "sched_getaffinity") or not threads:
        return None
    allowed = sorted(os.sched_getaffinity(0))
    if threads >= len(allowed):
        return None
    return set(allowed[-threads:])


@contextlib.contextmanager
def pinned(threads: int | None) -> Iterator[set[int] | None]:
    """Hold the calling thread to :func:`pinned_cores` inside the block, then restore it."""
    cores = pinned_cores(threads)
    if cores is None:
        yield None
        return
    before = os.sched_getaffinity(0)
    try:
        os.sched_setaffinity(0, cores)
    except OSError:  # a container may forbid it; measure unpinned rather than fail
        yield None
        return
    try:
        yield cores
    finally:
        os.sched_setaffinity(0, before)
