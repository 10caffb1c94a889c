"""The few CUDA runtime calls a TensorRT runner needs, behind one class for either binding.

NVIDIA's own TensorRT samples now use cuda-python (``cuda.bindings.runtime``, formerly
``cuda.cudart``), which ships wheels; pycuda ships as source only (its PyPI releases are source
distributions) and needs the CUDA headers to compile, but is what many Jetson setups already have.
:func:`load_cuda` prefers cuda-python and falls back to pycuda. Both bindings work in the device's
primary context, the one the CUDA runtime and therefore TensorRT use, so device pointers from here
are valid for TensorRT.

Every cuda-python call returns a tuple whose first element is an error code; each is checked and
a failure raises ``RuntimeError`` naming the call (as the samples' ``cuda_call`` helper does).
Device memory is handled as plain integer pointers, which is what
``IExecutionContext.set_tensor_address`` takes.
"""

from __future__ import annotations

import abc
from types import ModuleType
from typing import Any

import numpy as np

from tnas_pipeline.errors import UserError

NO_BINDING_HINT = (
    "no CUDA Python binding is installed: run `pip install cuda-python` (or `pip install pycuda`, "
    "which compiles from source and needs the CUDA headers)"
)
NO_GPU_HINT = "no CUDA GPU is visible"


class CudaApi(abc.ABC):
    """Device memory, copies, one stream and timing events on one GPU.

    Streams and events are opaque objects of the binding; pointers are ints. Use as a context
    manager, or call :meth:`close` when done.
    """

    binding: str = ""  # "cuda-python" or "pycuda", recorded in latency provenance

    @abc.abstractmethod
    def malloc(self, nbytes: int) -> int:
        """Allocate ``nbytes`` of device memory; returns the device pointer."""

    @abc.abstractmethod
    def free(self, ptr: int) -> None:
        """Free device memory from :meth:`malloc`."""

    @abc.abstractmethod
    def memcpy_htod(self, ptr: int, host: np.ndarray) -> None:
        """Copy a C-contiguous host array to device memory (synchronous)."""

    @abc.abstractmethod
    def memcpy_dtoh(self, host: np.ndarray, ptr: int) -> None:
        """Copy device memory into a C-contiguous, writeable host array (synchronous)."""

    @abc.abstractmethod
    def stream_create(self) -> Any:
        """A new non-default stream."""

    @abc.abstractmethod
    def stream_handle(self, stream: Any) -> int:
        """The stream as the integer handle ``execute_async_v3`` takes."""

    @abc.abstractmethod
    def stream_synchronize(self, stream: Any) -> None:
        """Wait for all work queued on ``stream``."""

    @abc.abstractmethod
    def stream_destroy(self, stream: Any) -> None:
        """Release a stream from :meth:`stream_create`."""

    @abc.abstractmethod
    def event_create(self) -> Any:
        """A new event with timing enabled."""

    @abc.abstractmethod
    def event_record(self, event: Any, stream: Any) -> None:
        """Record ``event`` on ``stream``."""

    @abc.abstractmethod
    def event_elapsed_ms(self, start: Any, end: Any) -> float:
        """GPU time from ``start`` to ``end`` in ms, after waiting for ``end`` to complete."""

    @abc.abstractmethod
    def event_destroy(self, event: Any) -> None:
        """Release an event from :meth:`event_create`."""

    @abc.abstractmethod
    def device_name(self) -> str:
        """The GPU's name, e.g. ``NVIDIA H100 80GB HBM3`` or ``Orin``."""

    @abc.abstractmethod
    def compute_capability(self) -> tuple[int, int]:
        """The GPU's compute capability (major, minor), e.g. (8, 7) on Jetson Orin."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release what this object holds on the device."""

    def __enter__(self) -> CudaApi:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _import_cudart() -> ModuleType | None:
    try:
        from cuda.bindings import runtime

        return runtime
    except ImportError:
        pass
    try:  # cuda-python before 12.6 exposed the runtime API as ``cuda.cudart``
        from cuda import cudart

        return cudart
    except ImportError:
        return None


def _import_pycuda() -> ModuleType | None:
    try:
        import pycuda.driver

        return pycuda.driver
    except ImportError:
        return None


def load_cuda(device: int = 0) -> CudaApi:
    """A :class:`CudaApi` on GPU ``device`` with cuda-python if installed, else pycuda.

    Raises:
        UserError: neither binding is installed, or no GPU is visible.
    """
    cudart = _import_cudart()
    if cudart is not None:
        return _CudaPython(cudart, device)
    drv = _import_pycuda()
    if drv is not None:
        return _PyCuda(drv, device)
    raise UserError(NO_BINDING_HINT)


def gpu_info(cuda: CudaApi | None = None) -> dict[str, str]:
    """GPU name, compute capability and CUDA binding, for provenance and engine manifests."""
    api = cuda or load_cuda()
    try:
        major, minor = api.compute_capability()
        return {"gpu": api.device_name(), "compute_capability": f"{major}.{minor}",
                "cuda_binding": api.binding}
    finally:
        if cuda is None:
            api.close()


def _contiguous(host: np.ndarray) -> np.ndarray:
    if not host.flags.c_contiguous:
        raise ValueError("host array must be C-contiguous (use np.ascontiguousarray)")
    return host


class _CudaPython(CudaApi):
    """cuda-python's runtime API: every call returns ``(error, *results)``."""

    binding = "cuda-python"

    def __init__(self, cudart: ModuleType, device: int) -> None:
        self.rt = cudart
        self.success = cudart.cudaError_t.cudaSuccess
        err, count = cudart.cudaGetDeviceCount()
        if err != self.success or count == 0:
            # cudaErrorNoDevice and cudaErrorInsufficientDriver need different fixes: name it.
            why = self._err_name(err) if err != self.success else "0 devices"
            raise UserError(f"{NO_GPU_HINT} (cudaGetDeviceCount: {why}); check `nvidia-smi` and "
                            "CUDA_VISIBLE_DEVICES, or profile --device cpu")
        if device >= count:
            raise UserError(f"GPU {device} does not exist; this machine has {count}")
        self.device = device
        # Makes the primary context of `device` current, as TensorRT expects.
        self._call("cudaSetDevice", device)
        self._props = self._call("cudaGetDeviceProperties", device)

    @staticmethod
    def _err_name(err: Any) -> str:
        return str(getattr(err, "name", err))

    def _call(self, name: str, *args: Any) -> Any:
        result = getattr(self.rt, name)(*args)
        err, values = result[0], result[1:]
        if err != self.success:
            raise RuntimeError(f"CUDA call {name} failed: {self._err_name(err)}")
        return values[0] if len(values) == 1 else (values or None)

    def malloc(self, nbytes: int) -> int:
        return int(self._call("cudaMalloc", max(int(nbytes), 1)))

    def free(self, ptr: int) -> None:
        self._call("cudaFree", ptr)

    def memcpy_htod(self, ptr: int, host: np.ndarray) -> None:
        host = _contiguous(host)
        self._call("cudaMemcpy", ptr, host.ctypes.data, host.nbytes,
                   self.rt.cudaMemcpyKind.cudaMemcpyHostToDevice)

    def memcpy_dtoh(self, host: np.ndarray, ptr: int) -> None:
        host = _contiguous(host)
        self._call("cudaMemcpy", host.ctypes.data, ptr, host.nbytes,
                   self.rt.cudaMemcpyKind.cudaMemcpyDeviceToHost)

    def stream_create(self) -> Any:
        # A blocking stream (not cudaStreamNonBlocking): the synchronous cudaMemcpy calls above
        # run on the legacy default stream, and a blocking stream is ordered after them.
        return self._call("cudaStreamCreate")

    def stream_handle(self, stream: Any) -> int:
        return int(stream)

    def stream_synchronize(self, stream: Any) -> None:
        self._call("cudaStreamSynchronize", stream)

    def stream_destroy(self, stream: Any) -> None:
        self._call("cudaStreamDestroy", stream)

    def event_create(self) -> Any:
        return self._call("cudaEventCreate")  # default flags: timing enabled

    def event_record(self, event: Any, stream: Any) -> None:
        self._call("cudaEventRecord", event, stream)

    def event_elapsed_ms(self, start: Any, end: Any) -> float:
        self._call("cudaEventSynchronize", end)
        # CUDA 12.8 added cudaEventElapsedTime_v2; take the plain name where it exists.
        name = ("cudaEventElapsedTime" if hasattr(self.rt, "cudaEventElapsedTime")
                else "cudaEventElapsedTime_v2")
        return float(self._call(name, start, end))

    def event_destroy(self, event: Any) -> None:
        self._call("cudaEventDestroy", event)

    def device_name(self) -> str:
        name = self._props.name
        if isinstance(name, bytes):
            name = name.split(b"\0", 1)[0].decode(errors="replace")
        return str(name).strip()

    def compute_capability(self) -> tuple[int, int]:
        return int(self._props.major), int(self._props.minor)

    def close(self) -> None:
        """Nothing to release: the runtime keeps the primary context for the process."""


class _PyCuda(CudaApi):
    """pycuda's driver API, in the device's retained primary context.

    ``pycuda.autoinit`` would create a separate context; TensorRT runs in the primary one, so
    this class retains and pushes that instead, and pops it on :meth:`close`.
    """

    binding = "pycuda"

    def __init__(self, drv: ModuleType, device: int) -> None:
        self.drv = drv
        try:
            drv.init()
            count = drv.Device.count()
        except drv.Error as e:
            raise UserError(f"{NO_GPU_HINT} ({' '.join(str(e).split())}); check `nvidia-smi` "
                            "and CUDA_VISIBLE_DEVICES, or profile --device cpu") from None
        if count == 0:
            raise UserError(f"{NO_GPU_HINT}; check `nvidia-smi` and CUDA_VISIBLE_DEVICES, or "
                            "profile --device cpu")
        if device >= count:
            raise UserError(f"GPU {device} does not exist; this machine has {count}")
        self.dev = drv.Device(device)
        self.ctx = self.dev.retain_primary_context()
        self.ctx.push()
        self._allocs: dict[int, Any] = {}  # pointer -> DeviceAllocation, which owns the memory

    def malloc(self, nbytes: int) -> int:
        alloc = self.drv.mem_alloc(max(int(nbytes), 1))
        self._allocs[int(alloc)] = alloc
        return int(alloc)

    def free(self, ptr: int) -> None:
        self._allocs.pop(ptr).free()

    def memcpy_htod(self, ptr: int, host: np.ndarray) -> None:
        self.drv.memcpy_htod(self._allocs.get(ptr, ptr), _contiguous(host))

    def memcpy_dtoh(self, host: np.ndarray, ptr: int) -> None:
        self.drv.memcpy_dtoh(_contiguous(host), self._allocs.get(ptr, ptr))

    def stream_create(self) -> Any:
        return self.drv.Stream()  # flags 0: a blocking stream, as in _CudaPython

    def stream_handle(self, stream: Any) -> int:
        return int(stream.handle)

    def stream_synchronize(self, stream: Any) -> None:
        stream.synchronize()

    def stream_destroy(self, stream: Any) -> None:
        stream.synchronize()  # pycuda destroys the stream when the object is collected

    def event_create(self) -> Any:
        return self.drv.Event()  # flags 0: timing enabled

    def event_record(self, event: Any, stream: Any) -> None:
        event.record(stream)

    def event_elapsed_ms(self, start: Any, end: Any) -> float:
        end.synchronize()
        return float(start.time_till(end))

    def event_destroy(self, event: Any) -> None:
        """pycuda destroys the event when the object is collected."""

    def device_name(self) -> str:
        return str(self.dev.name()).strip()

    def compute_capability(self) -> tuple[int, int]:
        major, minor = self.dev.compute_capability()
        return int(major), int(minor)

    def close(self) -> None:
        for alloc in self._allocs.values():
            alloc.free()
        self._allocs.clear()
        if self.ctx is not None:
            self.ctx.pop()
            self.ctx.detach()
            self.ctx = None
