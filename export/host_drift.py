"""How fast this host runs now, against the hour its latency table was measured.

A shared virtual CPU drifts: the same network measured 10–20 % apart an hour apart on this
project's 2-vCPU machines (README, search results). A latency that misses its prediction may be
the table's fault or the host's mood, and a user needs to know which. The table's calibration
networks answer that: they are random networks of the table's space drawn from a seed, each
stored with the latency measured at profiling time. The one nearest in latency to the artifact
is rebuilt from the seed (checked against its stored LUT sum, so a table whose networks cannot be
rebuilt is skipped), timed in the same sessions as the artifact, and

    drift = its median now / its latency at profiling

says how much slower (> 1) or faster the host runs now. ``measured / drift`` is the artifact's
latency on the host as it was profiled, the figure to hold against the prediction.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pipeline.latency.lut import LatencyTable
from pipeline.networks.architecture import Architecture

DEFAULT_CALIBRATION_SEED = 0  # the profiler's default; newer tables record theirs


@dataclass(frozen=True)
class DriftReference:
    """A calibration network of the table, and its latency when the table was measured."""

    index: int
    arch: Architecture
    then_ms: float


def drift_reference(table: LatencyTable, near_ms: float) -> DriftReference | None:
    """The calibration network nearest ``near_ms``, or ``None`` when the table has none that can
    be rebuilt (an estimate, no calibration, or networks drawn another way)."""
    samples = table.data.get("calibration_samples") or []
    if table.is_estimate or not samples:
        return None
    seed = (table.data.get("protocol") or {}).get("calibration_seed", DEFAULT_CALIBRATION_SEED)
    rng = np.random.default_rng(seed)
    archs = [table.space.random_architecture(rng, name=f"calib-{i}") for i in range(len(samples))]
    i = int(np.argmin([abs(s["measured_ms"] - near_ms) for s in samples]))
    if abs(table.raw_ms(archs[i]) - samples[i]["raw_ms"]) > 1e-6 * max(1.0, samples[i]["raw_ms"]):
        return None
    return DriftReference(i, archs[i], float(samples[i]["measured_ms"]))


def drift_record(ref: DriftReference, now_medians: list[float]) -> dict[str, float | int | str]:
    now = float(np.median(now_medians))
    return {"reference": f"calib-{ref.index}", "then_ms": ref.then_ms, "now_ms": now,
            "ratio": now / ref.then_ms}
