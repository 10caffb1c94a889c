"""Measuring networks as a ratio to the reference network, in fresh sessions.

Every latency this project reports (table entries, calibration and check networks, the search's
on-device check, ``validate``, the benchmarks) goes through :func:`measure_ratio`: the target
and the table's reference network are prepared once, then each of the protocol's runs opens a
fresh session of both and times them in interleaved pairs
(:func:`tnas_pipeline.latency.interleaved.interleaved_run`), with the measuring thread pinned to
fixed cores. The runs combine into a :class:`~tnas_pipeline.latency.interleaved.RatioStats`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from tnas_pipeline.latency.backends.base import LatencyBackend
from tnas_pipeline.latency.interleaved import (
    RatioProtocol,
    RatioRun,
    RatioStats,
    combine,
    interleaved_run,
)
from tnas_pipeline.networks.architecture import Architecture
from tnas_pipeline.networks.builder import build_network
from tnas_pipeline.networks.complexity import lr_size

# Table entries: three separate runs each, CI-driven pairs (issue: "an uncertainty from ≥ 3
# separate measurement runs").
ENTRY_PROTOCOL = RatioProtocol(warmup=2, min_pairs=8, max_pairs=30, target_ci=0.01,
                               max_seconds=20.0, runs=3)
# What validate and the on-device check time: two sessions, a third when they disagree.
NETWORK_PROTOCOL = RatioProtocol(warmup=2, min_pairs=6, max_pairs=12, target_ci=0.01,
                                 max_seconds=5.0, runs=2)
# Networks checked against a table (profile --check): one session each, a second when its CI
# ends wider than 4 % (a burst of load caught it); a check measures a hundred or more.
CHECK_PROTOCOL = RatioProtocol(warmup=2, min_pairs=8, max_pairs=14, target_ci=0.01,
                               max_seconds=6.0, runs=1)
# The many networks a latency model is fitted on: one shorter run each; the fit averages their
# noise, and more networks beat more pairs.
MODEL_PROTOCOL = RatioProtocol(warmup=1, min_pairs=6, max_pairs=14, target_ci=0.015,
                               max_seconds=12.0, runs=1)


def input_shape(arch: Architecture, output_size: tuple[int, int]) -> tuple[int, int, int, int]:
    """The LR input of ``arch`` for an HR output of ``output_size`` (width, height)."""
    w, h = lr_size(output_size, arch.scale)
    return (1, arch.colors, h, w)


class Reference:
    """The reference network of a table, prepared once for a backend, at the LR input of an
    ``output_size`` (or at ``shape``)."""

    def __init__(self, backend: LatencyBackend, arch: Architecture,
                 output_size: tuple[int, int] | None = None,
                 shape: tuple[int, ...] | None = None) -> None:
        if shape is None:
            if output_size is None:
                raise ValueError("a reference needs an output size or an input shape")
            shape = input_shape(arch, output_size)
        self.arch, self.shape = arch, tuple(shape)
        self.prepared = backend.prepare(build_network(arch), self.shape)


def measure_ratio(backend: LatencyBackend, target: Any, shape: tuple[int, ...],
                  reference: Reference, protocol: RatioProtocol,
                  on_run: Callable[[RatioRun], None] | None = None,
                  done: list[RatioRun] | None = None) -> RatioStats:
    """Time ``target`` (a prepared graph from ``backend.prepare``) against ``reference``.

    ``done`` holds runs measured before (a resumed measurement); ``on_run`` is called after each
    new run (to save it)."""
    runs = list(done or [])
    with backend.pinning():
        while len(runs) < protocol.runs or protocol.unsettled(runs):
            with backend.open(target, shape) as a, backend.open(reference.prepared,
                                                                reference.shape) as r:
                run = interleaved_run(a, r, protocol)
            runs.append(run)
            if on_run:
                on_run(run)
    return combine(runs)


def measure_module(backend: LatencyBackend, module: torch.nn.Module,
                   shape: tuple[int, ...], reference: Reference,
                   protocol: RatioProtocol) -> RatioStats:
    """:func:`measure_ratio` of a module (exported once for all runs)."""
    return measure_ratio(backend, backend.prepare(module, shape), shape, reference, protocol)


def measure_architecture(backend: LatencyBackend, arch: Architecture,
                         output_size: tuple[int, int], reference: Reference,
                         protocol: RatioProtocol = NETWORK_PROTOCOL) -> RatioStats:
    """:func:`measure_ratio` of an architecture at the output size."""
    return measure_module(backend, build_network(arch), input_shape(arch, output_size),
                          reference, protocol)
