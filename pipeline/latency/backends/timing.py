"""Host-side timing loop shared by the CPU backends: warm up, then time each call."""

from __future__ import annotations

import time
from collections.abc import Callable

from pipeline.latency.backends.base import MeasureProtocol


def time_calls(fn: Callable[[], object], protocol: MeasureProtocol) -> list[float]:
    """Wall time in ms of ``protocol.repeats`` calls (more if ``min_seconds`` is not reached)."""
    for _ in range(protocol.warmup):
        fn()
    samples: list[float] = []
    start = time.perf_counter()
    while len(samples) < protocol.repeats or time.perf_counter() - start < protocol.min_seconds:
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1e3)
    return samples
