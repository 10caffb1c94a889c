import pytest

from tnas_pipeline.latency.backends.base import MeasureProtocol
from tnas_pipeline.latency.interleaved import RatioProtocol
from tnas_pipeline.search_space import SearchSpace

TINY_SIZE = (32, 16)  # output W×H: blocks run in microseconds
FAST = MeasureProtocol(warmup=1, repeats=3)
# Few pairs, so a huge CI: no extra runs, so a test can count the runs a profile makes.
QUICK = RatioProtocol(warmup=1, min_pairs=2, max_pairs=3, runs=3, retry_ci=10.0, max_spread=10.0)


@pytest.fixture
def tiny_space() -> SearchSpace:
    return SearchSpace(ops=("resblock3x3", "invres3x3"), widths=(8, 16), max_cells=2,
                       upsampler_kernels=(1, 3), channels=8)


@pytest.fixture
def ort_backend():
    from tnas_pipeline.latency.backends.onnxruntime_backend import OnnxRuntimeBackend

    return OnnxRuntimeBackend(threads=1)
