"""TensorRT latency backend: install messages everywhere, real measurements on a GPU."""

from __future__ import annotations

import sys
import types

import pytest
from torch import nn

from tnas_pipeline.errors import UserError
from tnas_pipeline.latency.backends import tensorrt_backend
from tnas_pipeline.latency.backends.base import BACKENDS, MeasureProtocol
from tnas_pipeline.latency.backends.tensorrt_backend import TensorRTBackend

FAST = MeasureProtocol(warmup=1, repeats=3)


def assert_install_message(err: pytest.ExceptionInfo) -> None:
    msg = str(err.value)
    assert "\n" not in msg and "pip install" in msg and "JetPack" in msg


def test_registered_as_trt():
    assert "trt" in BACKENDS and BACKENDS.get("trt") is TensorRTBackend


def test_construction_without_tensorrt_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorrt", None)
    with pytest.raises(UserError) as err:
        TensorRTBackend()
    assert_install_message(err)


def test_get_backend_trt_without_tensorrt_says_how_to_install(monkeypatch):
    from tnas_pipeline.latency.backends import get_backend

    monkeypatch.setitem(sys.modules, "tensorrt", None)
    with pytest.raises(UserError) as err:
        get_backend("trt", device="cuda", precision="fp16")
    assert_install_message(err)


@pytest.fixture
def fake_trt(monkeypatch):
    """A stand-in ``tensorrt`` module, for the checks that run before any TensorRT call."""
    trt = types.ModuleType("tensorrt")
    trt.__version__ = "10.3.0"
    monkeypatch.setitem(sys.modules, "tensorrt", trt)
    return trt


def test_unsupported_settings_are_user_errors(fake_trt):
    with pytest.raises(UserError, match="--runtime ort"):
        TensorRTBackend(device="cpu")
    with pytest.raises(UserError, match="fp32 or fp16"):
        TensorRTBackend(precision="int8")


def test_missing_cuda_binding_is_reported_at_construction(fake_trt, monkeypatch):
    for name in ("cuda", "cuda.bindings", "cuda.bindings.runtime", "cuda.cudart", "pycuda",
                 "pycuda.driver"):
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(UserError, match="pip install cuda-python"):
        TensorRTBackend()


def test_timing_cache_is_per_gpu_and_tensorrt_version(fake_trt, monkeypatch, tmp_path):
    monkeypatch.setattr(tensorrt_backend, "gpu_info", lambda: {
        "gpu": "NVIDIA Jetson Orin Nano (8GB)", "compute_capability": "8.7",
        "cuda_binding": "cuda-python"})
    backend = TensorRTBackend(precision="fp16", cache_dir=str(tmp_path))
    assert backend.timing_cache_path() == (
        tmp_path / "trt-nvidia-jetson-orin-nano-8gb-trt10.3.0.timing_cache")
    assert TensorRTBackend().timing_cache_path() is None
    d = backend.describe()
    assert d["runtime"] == "tensorrt" and d["version"] == "10.3.0" and d["precision"] == "fp16"
    assert d["compute_capability"] == "8.7" and "execute_async_v3" in d["timing"]


# -- on a GPU with TensorRT -------------------------------------------------------------------


@pytest.fixture(scope="module")
def gpu_trt():
    pytest.importorskip("tensorrt", reason="TensorRT is not installed "
                        "(pip install tensorrt cuda-python, or JetPack on a Jetson)")
    from tnas_pipeline.runtime.trt.cuda import load_cuda

    try:
        load_cuda().close()
    except UserError as e:
        pytest.skip(f"TensorRT is installed but CUDA is not usable: {e}")


@pytest.mark.trt
@pytest.mark.gpu
@pytest.mark.parametrize("precision", ["fp32", "fp16"])
def test_measures_a_block_on_the_gpu(gpu_trt, tmp_path, precision):
    backend = TensorRTBackend(precision=precision, cache_dir=str(tmp_path))
    conv = nn.Sequential(nn.Conv2d(16, 16, 3, padding=1), nn.ReLU())
    small = backend.measure(conv, (1, 16, 32, 32), FAST)
    big = backend.measure(conv, (1, 16, 512, 512), FAST)
    assert small.n == 3 and 0 < small.median_ms <= small.p90_ms
    assert big.median_ms > small.median_ms  # 256x the work takes longer
    assert backend.timing_cache_path().is_file()
    d = backend.describe()
    assert d["gpu"] and d["cuda_binding"] in ("cuda-python", "pycuda")


@pytest.mark.trt
@pytest.mark.gpu
def test_min_seconds_extends_repeats(gpu_trt):
    stats = TensorRTBackend().measure(nn.Conv2d(4, 4, 1), (1, 4, 8, 8),
                                      MeasureProtocol(warmup=1, repeats=2, min_seconds=0.05))
    assert stats.n > 2
