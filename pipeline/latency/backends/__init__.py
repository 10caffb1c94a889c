"""Latency backends behind one interface, in a registry; heavy imports happen inside each."""

from tnas_pipeline.latency.backends.base import (
    BACKENDS,
    LatencyBackend,
    MeasureProtocol,
    get_backend,
)

__all__ = ["BACKENDS", "LatencyBackend", "MeasureProtocol", "get_backend"]
