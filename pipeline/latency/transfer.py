"""Adapting another CPU's latency table to this one from a minute of measurements.

Two CPUs differ by more than one speed factor: a wider vector unit speeds a dense 3×3
convolution more than a memory-bound depthwise one. Ratios to a reference network (which both
tables share) already cancel the common factor; what is left is one factor per op, which a
handful of measurements here can fit. This is the idea of HELP (Lee et al., NeurIPS 2021),
MAPLE-Edge (Nair et al., 2022) and Multi-Predict (Akhauri & Abdelfattah, 2023): transfer a
latency predictor to a new device with a few measurements instead of profiling it.

Here: time the reference network and, for each op, the in-context pair ``head → op → op →
upsampler`` at one or two widths (and the base network of every other upsampler kernel); fit
each op's factor ``f`` on relative error, ``1 + 2·f·e_src ≈ measured`` (closed form); scale the
source's entries by it. Then a few random networks measured here give the transfer's own error,
which corrects the source model's overall level (the mean log error) and adds to its
uncertainty. The table says ``method: transfer`` and names the source CPU.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from tnas_pipeline.latency.arch_codec import encode_arch
from tnas_pipeline.latency.backends import LatencyBackend
from tnas_pipeline.latency.devices import device_info
from tnas_pipeline.latency.interleaved import RatioProtocol
from tnas_pipeline.latency.lut import TRANSFER, LatencyTable
from tnas_pipeline.latency.measure import Reference, measure_architecture, measure_ratio
from tnas_pipeline.latency.profiler import profile_units, random_networks, reference_architecture

PROBE_PROTOCOL = RatioProtocol(warmup=2, min_pairs=6, max_pairs=16, target_ci=0.01,
                               max_seconds=8.0, runs=1)
CHECK_NETWORKS = 6


def _probe_widths(widths: tuple[int | None, ...], ops: int) -> tuple[int | None, ...]:
    """The widths an op is probed at: the narrowest and widest (one, the widest, when the space
    has many ops, to stay within a minute)."""
    if len(widths) == 1:
        return widths
    return (widths[-1],) if ops > 4 else (widths[0], widths[-1])


def _op_factor(src: list[float], measured_pairs: list[float]) -> float:
    """Least squares of ``(1 + 2 f e − m) / m`` over the probes: ``f = Σ 2e(m−1)/m² / Σ
    (2e/m)²``."""
    e, m = np.asarray(src), np.asarray(measured_pairs)
    den = float(np.sum((2 * e / m) ** 2))
    return float(np.sum(2 * e * (m - 1) / m**2) / den) if den > 0 else 1.0


def transfer(source: LatencyTable, backend: LatencyBackend, out: str | Path,
             progress: Callable[[str], None] | None = None,
             check_networks: int = CHECK_NETWORKS, seed: int = 0) -> LatencyTable:
    """A table of this CPU made from ``source`` and about a minute of measurements here."""
    t0 = time.monotonic()
    space = source.space
    ref_arch = reference_architecture(space)
    reference = Reference(backend, ref_arch, source.output_size)
    units, blocks = profile_units(space, source.output_size, source.precision)
    by_key = {u.key: u for u in units}
    probes: dict[str, Any] = {}
    factors: dict[str, float] = {}
    ref_times: list[float] = []
    with_widths = [b for b in blocks if b.kind == "layer" and b.cin == b.cout]
    for op in space.ops:
        mine = [b for b in with_widths if b.op == op]
        chosen = [b for b in mine if b.width in _probe_widths(space.op_widths(op),
                                                              len(space.ops))]
        e_src, m = [], []
        for b in chosen:
            unit = by_key[f"pair:{b.op}:{b.width}"]
            stats = measure_ratio(backend, backend.prepare(unit.module(), unit.shape),
                                  unit.shape, reference, PROBE_PROTOCOL)
            ref_times.append(stats.reference_ms)
            probes[unit.key] = {"ratio": stats.ratio, "ci": stats.ci}
            e_src.append(source.entry_ratio(b))
            m.append(stats.ratio)
            if progress:
                progress(f"{unit.key}: {stats.ratio:.3f} here, {1 + 2 * e_src[-1]:.3f} there")
        factors[op] = _op_factor(e_src, m)
    base_ratio: dict[int, float] = {}
    for k in space.upsampler_kernels:
        if k != max(space.upsampler_kernels):
            unit = by_key[f"base:k{k}"]
            stats = measure_ratio(backend, backend.prepare(unit.module(), unit.shape),
                                  unit.shape, reference, PROBE_PROTOCOL)
            ref_times.append(stats.reference_ms)
            probes[unit.key] = {"ratio": stats.ratio, "ci": stats.ci}
            base_ratio[k] = stats.ratio

    table = LatencyTable.new(space, source.output_size, source.precision, TRANSFER, {
        "device": device_info(source.data.get("device", {}).get("kind", "cpu")),
        "runtime": backend.describe(),
        "protocol": {"probes": PROBE_PROTOCOL.to_dict(),
                     "statistic": "median of per-pair ratios target/reference, interleaved"},
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    }, reference=ref_arch)
    table.data["reference"]["ms"] = round(float(np.median(ref_times)), 6)
    # The fixed part (head, upsampler, skip) is the reference itself on both CPUs: 1. Another
    # upsampler kernel moves by what its base network measured here.
    head_skip = sum(source.entry_ratio(b) for b in blocks if b.kind == "skip") + \
        source.entry_ratio(blocks[0])
    for b in blocks:
        e = source.entry_ratio(b)
        sd = float(source.data["entries"][b.key].get("sd", 0.0))
        if b.kind == "layer" and b.cin == b.cout:
            f = factors[b.op]
        elif b.kind == "upsampler" and b.kernel in base_ratio:
            f = (base_ratio[b.kernel] - head_skip) / e if e > 0 else 1.0
        else:
            f = 1.0
        table.set_entry(b, max(0.0, f * e), abs(f) * sd, factor=round(f, 6))
    table.data["model"] = dict(source.model) if source.model else None
    table.data["transfer"] = {
        "source": {"path": str(source.path), "device": source.data.get("device"),
                   "date": source.data.get("date"), "method": source.method},
        "op_factors": {k: round(v, 6) for k, v in factors.items()},
        "probes": probes,
    }
    table.save(out)

    # A few random networks: the transfer's own error, its overall level and its spread.
    if check_networks:
        rows = []
        for arch in random_networks(space, check_networks, seed + 7, prefix="transfer-check"):
            stats = measure_architecture(backend, arch, source.output_size, reference,
                                         PROBE_PROTOCOL)
            pred = table.predict_ratio(arch).value
            rows.append({"arch": encode_arch(arch), "ratio": stats.ratio, "predicted": pred})
            if progress:
                progress(f"check network: {stats.ratio:.3f} here, {pred:.3f} predicted")
        logs = np.log([r["ratio"] / r["predicted"] for r in rows])
        level = float(np.mean(logs))
        spread = float(np.sqrt(np.mean((logs - level) ** 2))) if len(rows) > 1 else 0.0
        model = dict(table.model) if table.model else _intercept_model(table)
        model["weights"] = [model["weights"][0] + level, *model["weights"][1:]]
        src_sigma = float(model.get("sigma", 0.0))
        model["sigma"] = float(np.sqrt(src_sigma**2 + spread**2 + level**2 / len(rows)))
        model["transfer_level"] = round(level, 6)
        table.data["model"] = model
        table.data["transfer"]["check"] = rows
    table.data["transfer"]["seconds"] = round(time.monotonic() - t0, 1)
    table.save()
    return table


def _intercept_model(table: LatencyTable) -> dict[str, Any]:
    """A model with only an intercept (weights zero) over this space's features."""
    from tnas_pipeline.latency.model import feature_names

    names = feature_names(table.space)
    return {"kind": "lut-residual-ridge", "features": names, "ridge": "intercept-only",
            "weights": [0.0] * len(names), "feature_mean": [0.0] * (len(names) - 1),
            "feature_std": [1.0] * (len(names) - 1), "sigma": 0.0, "networks": 0}

