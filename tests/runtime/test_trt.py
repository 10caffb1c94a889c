"""TensorRT export layer: messages and CUDA/runner logic everywhere, real engines on a GPU.

Tests without a marker run on any machine: they simulate a missing TensorRT or CUDA binding with
``sys.modules[name] = None``, and drive the cuda-python layer and :class:`TrtRunner` through small
fakes whose "device memory" is host memory. Tests marked ``trt`` and ``gpu`` build and run real
engines; they skip with a reason where TensorRT or a GPU is absent.
"""

from __future__ import annotations

import ctypes
import enum
import itertools
import sys
import time
import types

import numpy as np
import pytest
import torch
from torch import nn

from tnas_pipeline.errors import UserError
from tnas_pipeline.runtime.trt import cuda as cuda_mod
from tnas_pipeline.runtime.trt.availability import require_tensorrt, tensorrt_version
from tnas_pipeline.runtime.trt.runner import TrtRunner

CUDA_MODULES = ("cuda", "cuda.bindings", "cuda.bindings.runtime", "cuda.cudart", "pycuda",
                "pycuda.driver")


def hide_modules(monkeypatch, *names):
    for name in names:
        monkeypatch.setitem(sys.modules, name, None)  # makes `import name` raise ImportError


# -- everywhere: messages when something is missing ---------------------------------------------


def test_missing_tensorrt_is_a_one_line_user_error(monkeypatch):
    hide_modules(monkeypatch, "tensorrt")
    with pytest.raises(UserError) as err:
        require_tensorrt()
    msg = str(err.value)
    assert "\n" not in msg and "pip install tensorrt" in msg and "JetPack" in msg
    assert tensorrt_version() is None


def test_missing_cuda_binding_is_a_user_error(monkeypatch):
    hide_modules(monkeypatch, *CUDA_MODULES)
    with pytest.raises(UserError, match="pip install cuda-python") as err:
        cuda_mod.load_cuda()
    assert "\n" not in str(err.value) and "pycuda" in str(err.value)


def test_build_engine_without_tensorrt_is_a_user_error(monkeypatch):
    from tnas_pipeline.runtime.trt.engine import build_engine

    hide_modules(monkeypatch, "tensorrt")
    with pytest.raises(UserError, match="JetPack"):
        build_engine(b"", {})


def test_runner_touches_nothing_until_entered(monkeypatch):
    hide_modules(monkeypatch, "tensorrt", *CUDA_MODULES)
    runner = TrtRunner(b"not an engine")  # Polygraphy-style: construction is free
    assert not runner.is_active
    with pytest.raises(RuntimeError, match="not active"):
        runner.infer({})
    with pytest.raises(UserError, match="pip install"), runner:
        pass
    assert not runner.is_active


# -- everywhere: the cuda-python layer and the runner against fakes ------------------------------


class FakeErr(enum.IntEnum):
    cudaSuccess = 0
    cudaErrorInvalidValue = 1
    cudaErrorMemoryAllocation = 2
    cudaErrorNoDevice = 100


class FakeCudart(types.ModuleType):
    """cuda-python's runtime API shape: every call returns ``(error, *results)``."""

    cudaError_t = FakeErr
    cudaMemcpyKind = enum.IntEnum("cudaMemcpyKind", {"cudaMemcpyHostToDevice": 1,
                                                     "cudaMemcpyDeviceToHost": 2})

    def __init__(self, devices: int = 1, fail_malloc: bool = False) -> None:
        super().__init__("fake_cudart")
        self.devices, self.fail_malloc = devices, fail_malloc
        self.mem: dict[int, ctypes.Array] = {}
        self.recorded: dict[int, float] = {}
        self.handles = itertools.count(1000)

    ok = FakeErr.cudaSuccess

    def cudaGetDeviceCount(self):
        return (FakeErr.cudaErrorNoDevice, 0) if self.devices == 0 else (self.ok, self.devices)

    def cudaSetDevice(self, device):
        return (self.ok,)

    def cudaGetDeviceProperties(self, device):
        return self.ok, types.SimpleNamespace(name=b"Fake GPU 8GB\0\0", major=8, minor=7)

    def cudaMalloc(self, nbytes):
        if self.fail_malloc:
            return FakeErr.cudaErrorMemoryAllocation, 0
        buf = ctypes.create_string_buffer(nbytes)
        self.mem[ctypes.addressof(buf)] = buf
        return self.ok, ctypes.addressof(buf)

    def cudaFree(self, ptr):
        known = self.mem.pop(ptr, None) is not None
        return (self.ok,) if known else (FakeErr.cudaErrorInvalidValue,)

    def cudaMemcpy(self, dst, src, nbytes, kind):
        ctypes.memmove(dst, src, nbytes)
        return (self.ok,)

    def cudaStreamCreate(self):
        return self.ok, 7

    def cudaStreamSynchronize(self, stream):
        return (self.ok,)

    def cudaStreamDestroy(self, stream):
        return (self.ok,)

    def cudaEventCreate(self):
        return self.ok, next(self.handles)

    def cudaEventRecord(self, event, stream):
        self.recorded[event] = time.perf_counter()
        return (self.ok,)

    def cudaEventSynchronize(self, event):
        return (self.ok,)

    def cudaEventElapsedTime(self, start, end):
        return self.ok, (self.recorded[end] - self.recorded[start]) * 1e3

    def cudaEventDestroy(self, event):
        return (self.ok,)


@pytest.fixture
def fake_cudart(monkeypatch):
    rt = FakeCudart()
    monkeypatch.setattr(cuda_mod, "_import_cudart", lambda: rt)
    return rt


def test_cuda_python_layer_round_trips_and_reports(fake_cudart):
    with cuda_mod.load_cuda() as api:
        assert api.binding == "cuda-python"
        assert api.device_name() == "Fake GPU 8GB" and api.compute_capability() == (8, 7)
        x = np.arange(12, dtype=np.float32).reshape(3, 4)
        ptr = api.malloc(x.nbytes)
        api.memcpy_htod(ptr, x)
        y = np.empty_like(x)
        api.memcpy_dtoh(y, ptr)
        np.testing.assert_array_equal(x, y)
        api.free(ptr)
        with pytest.raises(RuntimeError, match="cudaFree"):  # every error code is checked
            api.free(ptr)
        stream, start, end = api.stream_create(), api.event_create(), api.event_create()
        api.event_record(start, stream)
        api.event_record(end, stream)
        assert api.event_elapsed_ms(start, end) >= 0.0
    assert cuda_mod.gpu_info() == {"gpu": "Fake GPU 8GB", "compute_capability": "8.7",
                                   "cuda_binding": "cuda-python"}


def test_cuda_python_errors_name_the_call(monkeypatch):
    monkeypatch.setattr(cuda_mod, "_import_cudart", lambda: FakeCudart(fail_malloc=True))
    with pytest.raises(RuntimeError, match=r"cudaMalloc failed: cudaErrorMemoryAllocation"):
        cuda_mod.load_cuda().malloc(16)
    monkeypatch.setattr(cuda_mod, "_import_cudart", lambda: FakeCudart(devices=0))
    with pytest.raises(UserError, match=r"no CUDA GPU is visible.*cudaErrorNoDevice"):
        cuda_mod.load_cuda()


def fake_tensorrt() -> types.ModuleType:
    """Just enough of TensorRT's runtime API for one engine: output = 2 * input, dynamic H, W."""
    trt = types.ModuleType("tensorrt")
    trt.__version__ = "10.3.0"
    trt.TensorIOMode = enum.Enum("TensorIOMode", "INPUT OUTPUT")
    trt.nptype = {"FLOAT": np.float32}.__getitem__
    profile = [(1, 2, 2, 2), (1, 2, 4, 4), (1, 2, 8, 8)]

    class Logger:
        WARNING = 2

        def __init__(self, severity):
            self.severity = severity

    class Context:
        def __init__(self):
            self.shape, self.addr = None, {}

        def set_input_shape(self, name, shape):
            ok = all(lo <= d <= hi for lo, d, hi in zip(profile[0], shape, profile[2], strict=True))
            self.shape = shape if ok else self.shape
            return ok

        def get_tensor_shape(self, name):
            return self.shape

        def set_tensor_address(self, name, ptr):
            self.addr[name] = ptr
            return True

        def execute_async_v3(self, stream_handle):
            n = int(np.prod(self.shape))
            x = np.ctypeslib.as_array((ctypes.c_float * n).from_address(self.addr["input"]))
            y = np.ctypeslib.as_array((ctypes.c_float * n).from_address(self.addr["output"]))
            y[:] = 2 * x
            return stream_handle == 7

    class Engine:
        num_io_tensors = 2

        def get_tensor_name(self, i):
            return ("input", "output")[i]

        def get_tensor_mode(self, name):
            return trt.TensorIOMode.INPUT if name == "input" else trt.TensorIOMode.OUTPUT

        def get_tensor_dtype(self, name):
            return "FLOAT"

        def get_tensor_shape(self, name):
            return (1, 2, -1, -1)

        def get_tensor_profile_shape(self, name, index):
            return profile

        def create_execution_context(self):
            return Context()

    class Runtime:
        def __init__(self, logger):
            self.logger = logger

        def deserialize_cuda_engine(self, plan):
            return Engine() if plan == b"plan" else None

    trt.Logger, trt.Runtime = Logger, Runtime
    return trt


def test_runner_logic_against_fakes(monkeypatch, fake_cudart):
    monkeypatch.setitem(sys.modules, "tensorrt", fake_tensorrt())
    with TrtRunner(b"plan") as runner:
        assert runner.input_names == ["input"] and runner.output_names == ["output"]
        assert runner.shapes["input"] == (1, 2, 4, 4)  # a dynamic input starts at profile opt
        x = np.random.default_rng(0).random((1, 2, 4, 4))  # float64: cast to the engine's f32
        np.testing.assert_allclose(runner.infer({"input": x})["output"], 2 * x, rtol=1e-6)
        big = np.ones((1, 2, 8, 8), np.float32)  # a new shape in the profile reallocates
        np.testing.assert_array_equal(runner.infer({"input": big})["output"], 2 * big)
        with pytest.raises(ValueError, match="outside the engine's profile"):
            runner.infer({"input": np.ones((1, 2, 16, 16), np.float32)})
        with pytest.raises(ValueError, match="inputs are"):
            runner.infer({"x": big})
        samples = runner.time_ms(warmup=2, repeats=4)
        assert len(samples) == 4 and all(s >= 0 for s in samples)
        assert len(runner.time_ms(warmup=0, repeats=1, min_seconds=0.02)) > 1
    assert not runner.is_active and not fake_cudart.mem  # every device buffer was freed


def test_runner_reports_an_engine_from_elsewhere(monkeypatch, fake_cudart):
    monkeypatch.setitem(sys.modules, "tensorrt", fake_tensorrt())
    with pytest.raises(UserError, match="rebuild it here"), TrtRunner(b"other plan"):
        pass
    assert not fake_cudart.mem


# -- on a GPU with TensorRT: real engines -----------------------------------------------------


@pytest.fixture(scope="module")
def trt():
    trt = pytest.importorskip("tensorrt", reason="TensorRT is not installed "
                              "(pip install tensorrt cuda-python, or JetPack on a Jetson)")
    try:
        cuda_mod.load_cuda().close()
    except UserError as e:
        pytest.skip(f"TensorRT is installed but CUDA is not usable: {e}")
    return trt


def tiny_sr() -> nn.Module:
    """Conv, ReLU, conv to 4x channels, PixelShuffle (ONNX DepthToSpace): a x2 SR network."""
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 12, 3, padding=1),
                         nn.PixelShuffle(2)).eval()


def static_engine(shape=(1, 3, 16, 16), fp16=False, cache=None) -> tuple[bytes, bytes]:
    from tnas_pipeline.runtime.onnx_graph import export_onnx_bytes
    from tnas_pipeline.runtime.trt.engine import build_engine

    onnx_bytes = export_onnx_bytes(tiny_sr(), shape, "fp16" if fp16 else "fp32")
    return onnx_bytes, build_engine(onnx_bytes, {"input": (shape, shape, shape)},
                                    timing_cache_path=cache)


def reference(x: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return tiny_sr()(torch.from_numpy(x.astype(np.float32))).numpy()


@pytest.mark.trt
@pytest.mark.gpu
def test_fp32_engine_matches_pytorch(trt):
    _, plan = static_engine()
    x = np.random.default_rng(0).random((1, 3, 16, 16), dtype=np.float32)
    with TrtRunner(plan) as runner:
        y = runner.infer({"input": x})["output"]
    assert y.dtype == np.float32 and y.shape == (1, 3, 32, 32)
    np.testing.assert_allclose(y, reference(x), atol=5e-3, rtol=5e-3)  # TF32 is on by default


@pytest.mark.trt
@pytest.mark.gpu
def test_fp16_engine_takes_precision_from_onnx_types(trt):
    _, plan = static_engine(fp16=True)
    x = np.random.default_rng(1).random((1, 3, 16, 16), dtype=np.float32)
    with TrtRunner(plan) as runner:
        # The one export path (pipeline.runtime.onnx_graph): FP16 inside, FP32 at the edges.
        assert runner.dtypes["input"] == np.float32
        y = runner.infer({"input": x})["output"]
    assert y.dtype == np.float32
    np.testing.assert_allclose(y, reference(x), atol=2e-2, rtol=2e-2)


@pytest.mark.trt
@pytest.mark.gpu
def test_dynamic_profile_runs_other_sizes(trt, tmp_path):
    from tnas_pipeline.runtime.trt.engine import build_engine

    path = tmp_path / "dyn.onnx"
    torch.onnx.export(tiny_sr(), (torch.zeros(1, 3, 16, 16),), str(path), input_names=["input"],
                      output_names=["output"], opset_version=17, dynamo=False,
                      dynamic_axes={"input": {2: "h", 3: "w"}, "output": {2: "H", 3: "W"}})
    plan = build_engine(path.read_bytes(),
                        {"input": ((1, 3, 8, 8), (1, 3, 16, 16), (1, 3, 32, 32))})
    with TrtRunner(plan) as runner:
        assert runner.shapes["output"] == (1, 3, 32, 32)  # starts at opt
        for hw in ((8, 8), (32, 24)):
            x = np.random.default_rng(2).random((1, 3, *hw), dtype=np.float32)
            np.testing.assert_allclose(runner.infer({"input": x})["output"], reference(x),
                                       atol=5e-3, rtol=5e-3)


@pytest.mark.trt
@pytest.mark.gpu
def test_timing_returns_positive_gpu_times(trt):
    _, plan = static_engine()
    with TrtRunner(plan) as runner:
        samples = runner.time_ms(warmup=3, repeats=5)
        assert len(samples) == 5 and all(s > 0 for s in samples)
        assert len(runner.time_ms(warmup=0, repeats=1, min_seconds=0.05)) > 1


@pytest.mark.trt
@pytest.mark.gpu
def test_timing_cache_is_written_and_reused(trt, tmp_path):
    cache = tmp_path / "caches" / "trt.timing_cache"
    static_engine(cache=cache)
    assert cache.is_file() and cache.stat().st_size > 0
    _, plan = static_engine(cache=cache)  # loads the cache it wrote
    assert plan and cache.stat().st_size > 0
    assert not list(cache.parent.glob(".*.tmp"))  # written atomically, no leftovers


@pytest.mark.trt
@pytest.mark.gpu
def test_engine_manifest_records_provenance(trt):
    import hashlib

    from tnas_pipeline.runtime.trt.engine import engine_manifest

    shape = (1, 3, 16, 16)
    onnx_bytes, plan = static_engine(shape)
    m = engine_manifest(onnx_bytes, plan, {"input": (shape, shape, shape)}, "fp32")
    assert m["tensorrt"] == trt.__version__ and m["gpu"] and m["compute_capability"]
    assert m["onnx_sha256"] == hashlib.sha256(onnx_bytes).hexdigest()
    assert m["input_shapes"]["input"]["opt"] == list(shape)


@pytest.mark.trt
@pytest.mark.gpu
def test_build_errors_are_user_errors(trt):
    from tnas_pipeline.runtime.trt.engine import build_engine

    with pytest.raises(UserError, match="could not parse"):
        build_engine(b"this is not an onnx model", {})
    onnx_bytes, _ = static_engine()
    with pytest.raises(UserError, match="unknown"):
        build_engine(onnx_bytes, {"image": ((1, 3, 16, 16),) * 3})
