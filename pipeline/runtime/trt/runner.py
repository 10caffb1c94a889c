"""Run and time a serialized TensorRT engine.

Follows Polygraphy's runner layering: :class:`TrtRunner` is a
:class:`~tnas_pipeline.runtime.runners.Runner`, a context manager that holds only the engine bytes
until it is entered, and only then imports TensorRT, deserializes the engine and allocates device
memory; leaving it frees everything. It uses TensorRT 10's name-based I/O API (``num_io_tensors``,
``get_tensor_name``, ``set_input_shape``, ``set_tensor_address``, ``execute_async_v3``), which
TensorRT 11 keeps.

Timing follows the NVIDIA TensorRT developer guide, "Best Practices" ("CUDA Events"): GPU compute
time from CUDA events recorded around each ``execute_async_v3`` on the same non-default stream,
after warm-up, reading the time only after synchronising the end event, so the figure is the work
on the GPU and never the cost of enqueueing it.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from tnas_pipeline.errors import UserError
from tnas_pipeline.runtime.runners.base import Runner
from tnas_pipeline.runtime.trt.availability import require_tensorrt
from tnas_pipeline.runtime.trt.cuda import CudaApi, load_cuda
from tnas_pipeline.runtime.trt.engine import trt_logger


@dataclass
class _Buffer:
    ptr: int
    nbytes: int


class TrtRunner(Runner):
    """Runs a serialized engine on one GPU; use as ``with TrtRunner(plan) as runner: ...``.

    Args:
        engine_bytes: A serialized engine from
            :func:`tnas_pipeline.runtime.trt.engine.build_engine`.
        input_shapes: Shapes to start with for dynamic inputs. ``None`` means each input's
            static shape, or its profile's ``opt`` shape where it is dynamic.
        device: CUDA device index.
        name: How comparisons and reports call this runner.
    """

    def __init__(self, engine_bytes: bytes, input_shapes: Mapping[str, Sequence[int]] | None = None,
                 device: int = 0, name: str = "tensorrt") -> None:
        super().__init__(name)
        self.engine_bytes = engine_bytes
        self.requested_shapes = {k: tuple(v) for k, v in (input_shapes or {}).items()}
        self.device = device
        self.is_active = False
        self.cuda: CudaApi | None = None
        self._trt: Any = None
        self._runtime: Any = None
        self._engine: Any = None
        self._context: Any = None
        self._stream: Any = None
        self._events: tuple[Any, ...] = ()
        self._buffers: dict[str, _Buffer] = {}
        self.input_names: list[str] = []
        self.output_names: list[str] = []
        self.dtypes: dict[str, np.dtype] = {}
        self.shapes: dict[str, tuple[int, ...]] = {}
        self._inputs_written = False

    # -- activation ------------------------------------------------------------------------

    def activate(self) -> None:
        trt = require_tensorrt()
        self.cuda = load_cuda(self.device)
        try:
            self._activate(trt)
        except BaseException:
            self._deactivate()
            raise

    def deactivate(self) -> None:
        self._deactivate()

    def _activate(self, trt: Any) -> None:
        assert self.cuda is not None
        self._trt = trt
        self._runtime = trt.Runtime(trt_logger(trt))
        self._engine = self._runtime.deserialize_cuda_engine(self.engine_bytes)
        if self._engine is None:
            raise UserError("TensorRT could not deserialize the engine; an engine runs only on the "
                            "TensorRT version and GPU model that built it, so rebuild it here")
        self._context = self._engine.create_execution_context()
        if self._context is None:
            raise RuntimeError("TensorRT could not create an execution context (GPU memory?)")
        self._stream = self.cuda.stream_create()
        self._events = (self.cuda.event_create(), self.cuda.event_create())

        names = [self._engine.get_tensor_name(i) for i in range(self._engine.num_io_tensors)]
        is_input = {n: self._engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT for n in names}
        self.input_names = [n for n in names if is_input[n]]
        self.output_names = [n for n in names if not is_input[n]]
        self.dtypes = {n: self._np_dtype(n) for n in names}
        unknown = sorted(set(self.requested_shapes) - set(self.input_names))
        if unknown:
            raise ValueError(f"unknown inputs {unknown}; the engine's are {self.input_names}")
        self._configure({n: self.requested_shapes.get(n) or self._default_shape(n)
                         for n in self.input_names})

    def _np_dtype(self, name: str) -> np.dtype:
        dtype = self._engine.get_tensor_dtype(name)
        try:
            return np.dtype(self._trt.nptype(dtype))
        except TypeError:  # BF16, FP8, INT4 have no NumPy type
            raise TypeError(f"tensor {name!r} has TensorRT type {dtype}, which NumPy cannot "
                            "hold; export the model with FP32 or FP16 I/O") from None

    def _default_shape(self, name: str) -> tuple[int, ...]:
        shape = tuple(self._engine.get_tensor_shape(name))
        if all(d >= 0 for d in shape):
            return shape
        return tuple(self._engine.get_tensor_profile_shape(name, 0)[1])  # profile 0's opt

    def _configure(self, input_shapes: Mapping[str, Sequence[int]]) -> None:
        """Set input shapes, derive output shapes, grow buffers and bind their addresses."""
        assert self.cuda is not None
        for name, shape in input_shapes.items():
            if not self._context.set_input_shape(name, tuple(shape)):
                lo, _, hi = self._engine.get_tensor_profile_shape(name, 0)
                raise ValueError(f"input {name!r} shape {tuple(shape)} is outside the engine's "
                                 f"profile {tuple(lo)} .. {tuple(hi)}")
            self.shapes[name] = tuple(int(d) for d in shape)
        for name in self.output_names:
            shape = tuple(self._context.get_tensor_shape(name))
            if any(d < 0 for d in shape):
                raise RuntimeError(f"output {name!r} has unresolved shape {shape}")
            self.shapes[name] = shape
        for name in self.input_names + self.output_names:
            nbytes = int(np.prod(self.shapes[name], dtype=np.int64)) * self.dtypes[name].itemsize
            buf = self._buffers.get(name)
            if buf is None or buf.nbytes < nbytes:
                if buf is not None:
                    del self._buffers[name]
                    self.cuda.free(buf.ptr)
                self._buffers[name] = _Buffer(self.cuda.malloc(nbytes), nbytes)
            if not self._context.set_tensor_address(name, self._buffers[name].ptr):
                raise RuntimeError(f"TensorRT refused the address of tensor {name!r}")
        self._inputs_written = False

    def _deactivate(self) -> None:
        cuda = self.cuda
        if cuda is not None and self._stream is not None:
            cuda.stream_synchronize(self._stream)  # nothing may still use what is freed below
        # TensorRT objects go first, in reverse order of creation (context, engine, runtime).
        self._context = self._engine = self._runtime = None
        if cuda is not None:
            for buf in self._buffers.values():
                cuda.free(buf.ptr)
            for event in self._events:
                cuda.event_destroy(event)
            if self._stream is not None:
                cuda.stream_destroy(self._stream)
            cuda.close()
        self._buffers, self._events, self._stream, self.cuda = {}, (), None, None
        self.is_active = False

    # -- running ---------------------------------------------------------------------------

    def _require_active(self) -> CudaApi:
        if not self.is_active or self.cuda is None:
            raise RuntimeError("TrtRunner is not active; use it as `with TrtRunner(...) as r:`")
        return self.cuda

    def _execute(self, stream_handle: int) -> None:
        if not self._context.execute_async_v3(stream_handle):
            raise RuntimeError("TensorRT execute_async_v3 failed; the TensorRT log says why")

    def infer(self, feed: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Run the engine once on host arrays; returns the outputs as host arrays.

        Inputs are cast to the engine's input types where NumPy calls that safe within the kind
        (float32 to an FP16 engine's float16), and a new shape within the profile reallocates.
        """
        cuda = self._require_active()
        if set(feed) != set(self.input_names):
            raise ValueError(f"feed has {sorted(feed)}; the engine's inputs are "
                             f"{self.input_names}")
        arrays = {}
        for name in self.input_names:
            arr = np.asarray(feed[name])
            if not np.can_cast(arr.dtype, self.dtypes[name], "same_kind"):
                raise TypeError(f"input {name!r} is {arr.dtype}; the engine takes "
                                f"{self.dtypes[name]}")
            arrays[name] = np.ascontiguousarray(arr, dtype=self.dtypes[name])
        changed = {n: a.shape for n, a in arrays.items() if a.shape != self.shapes[n]}
        if changed:
            self._configure(changed)
        for name, arr in arrays.items():
            cuda.memcpy_htod(self._buffers[name].ptr, arr)
        self._inputs_written = True
        self._execute(cuda.stream_handle(self._stream))
        cuda.stream_synchronize(self._stream)
        outputs = {}
        for name in self.output_names:
            host = np.empty(self.shapes[name], dtype=self.dtypes[name])
            cuda.memcpy_dtoh(host, self._buffers[name].ptr)
            outputs[name] = host
        return outputs

    def _fill_inputs_once(self, cuda: CudaApi) -> None:
        """Inputs not yet set by :meth:`infer` are filled with uniform noise once, so no run
        reads uninitialised memory (NaNs, denormals)."""
        if self._inputs_written:
            return
        rng = np.random.default_rng(0)
        for name in self.input_names:
            noise = rng.random(self.shapes[name]).astype(self.dtypes[name])
            cuda.memcpy_htod(self._buffers[name].ptr, np.ascontiguousarray(noise))
        self._inputs_written = True

    def time_once(self) -> float:
        """GPU time of one ``execute_async_v3`` in ms (CUDA events on the runner's stream)."""
        cuda = self._require_active()
        self._fill_inputs_once(cuda)
        start, end = self._events
        cuda.event_record(start, self._stream)
        self._execute(cuda.stream_handle(self._stream))
        cuda.event_record(end, self._stream)
        return cuda.event_elapsed_ms(start, end)  # waits for `end` first

    def time_ms(self, warmup: int, repeats: int, min_seconds: float = 0.0) -> list[float]:
        """GPU time of ``execute_async_v3`` in ms, one sample per run, after ``warmup`` runs.

        Runs at least ``repeats`` times and, like trtexec's minimum duration, keeps going until
        ``min_seconds`` of wall time have passed.
        """
        cuda = self._require_active()
        if repeats < 1:
            raise ValueError("repeats must be at least 1")
        self._fill_inputs_once(cuda)
        handle = cuda.stream_handle(self._stream)
        for _ in range(warmup):
            self._execute(handle)
        cuda.stream_synchronize(self._stream)
        samples: list[float] = []
        t0 = time.perf_counter()
        while len(samples) < repeats or time.perf_counter() - t0 < min_seconds:
            samples.append(self.time_once())
        return samples
