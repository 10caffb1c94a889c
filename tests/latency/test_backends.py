import pytest
import torch
from torch import nn

from tnas_pipeline.errors import UserError
from tnas_pipeline.latency.backends.base import MeasureProtocol
from tnas_pipeline.latency.backends.onnxruntime_backend import OnnxRuntimeBackend
from tnas_pipeline.latency.backends.torch_backend import TorchBackend


@pytest.mark.parametrize("backend_cls", [OnnxRuntimeBackend, TorchBackend])
def test_cpu_backends_measure_for_real(backend_cls):
    backend = backend_cls(threads=1)
    small = backend.measure(nn.Conv2d(8, 8, 3, padding=1), (1, 8, 16, 16),
                            MeasureProtocol(warmup=2, repeats=7))
    big = backend.measure(nn.Conv2d(8, 8, 3, padding=1), (1, 8, 128, 128),
                          MeasureProtocol(warmup=2, repeats=7))
    assert small.n == 7 and 0 < small.median_ms <= small.p90_ms
    assert big.median_ms > small.median_ms  # 64x the work takes longer
    d = backend.describe()
    assert d["runtime"] in ("onnxruntime", "torch") and d["version"]


def test_min_seconds_extends_repeats():
    stats = OnnxRuntimeBackend(threads=1).measure(
        nn.Identity(), (1, 1, 4, 4), MeasureProtocol(warmup=0, repeats=2, min_seconds=0.05))
    assert stats.n > 2


def test_unsupported_combinations_are_user_errors():
    with pytest.raises(UserError, match="--precision fp32"):
        OnnxRuntimeBackend(precision="fp16")
    with pytest.raises(UserError, match="--precision fp32"):
        TorchBackend(precision="fp16")
    if not torch.cuda.is_available():
        with pytest.raises(UserError, match="no CUDA GPU"):
            TorchBackend(device="cuda")


def test_registry_lists_runtimes():
    from tnas_pipeline.latency.backends import get_backend

    with pytest.raises(UserError, match=r"known: .*ort.*torch"):
        get_backend("tflite")
