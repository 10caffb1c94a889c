"""Building a latency table by measurement, and checking one against fresh networks.

Every block of the search space is measured at the deployment resolution *in context*, and the
table is saved atomically after each entry, so an interrupted run resumes without re-measuring.
In context means as a marginal cost inside the smallest network of the space, as nn-Meter measures
kernels as the runtime fuses them: a block alone pays the graph's borders (input/output layout
conversion, allocation, per-engine overhead) that it does not pay inside a network, which on the
2-core CPU made an inverted residual cost 11 ms alone and 1 ms inside a network. So

* the head and the global skip are measured alone (they sit at the graph's borders anyway);
* the base network ``head → upsampler (+ skip)`` is measured per upsampler kernel, and the
  upsampler's entry is ``T(base) − head − skip``;
* each op's entry is ``[T(head → op → op → upsampler) − T(base)] / 2``.

The sum of an architecture's entries is then ``T(base) + Σ in-network op costs``.
Then K random networks of the space are measured end to end (also saved one by one) and the
calibration ``measured ≈ a · ΣLUT + b`` is fitted and stored with its in-sample fidelity.
``check`` measures K *fresh* networks (another seed) against an existing table.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from pipeline.errors import UserError
from pipeline.latency.backends import LatencyBackend, MeasureProtocol
from pipeline.latency.blocks import Block, space_blocks
from pipeline.latency.devices import device_info
from pipeline.latency.fidelity import fidelity, fit_linear
from pipeline.latency.lut import MEASURED, LatencyTable
from pipeline.latency.stats import TimingStats, marginal
from pipeline.networks.builder import build_network
from pipeline.networks.complexity import lr_size
from pipeline.search_space import SearchSpace

# Whole networks take 10–100× longer than a block; fewer repeats keep a full CPU profile of the
# default space well inside 15 minutes on 2 cores while the median stays stable.
NETWORK_PROTOCOL = MeasureProtocol(warmup=3, repeats=10)


def _provenance(backend: LatencyBackend, device: str, protocol: MeasureProtocol,
                net_protocol: MeasureProtocol) -> dict[str, Any]:
    return {
        "device": device_info(device), "runtime": backend.describe(),
        "protocol": {"blocks": vars(protocol), "networks": vars(net_protocol),
                     "statistic": "median",
                     "block_method": "in-context marginal: head and skip alone; upsampler = "
                                     "T(head→upsampler) − head − skip; op = [T(head→op→op→"
                                     "upsampler) − T(head→upsampler)] / 2"},
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    }


def _same_setup(table: LatencyTable, backend: LatencyBackend, output_size: tuple[int, int],
                precision: str) -> None:
    rt = table.data.get("runtime", {})
    mine = backend.describe()
    if (rt.get("runtime"), rt.get("version")) != (mine["runtime"], mine["version"]):
        raise UserError(f"{table.path} was measured with {rt.get('runtime')} {rt.get('version')}, "
                        f"not {mine['runtime']} {mine['version']}; start a new table")
    if table.output_size != tuple(output_size) or table.precision != precision:
        raise UserError(f"{table.path} is for {table.output_size[0]}x{table.output_size[1]} "
                        f"{table.precision}; --resume with the same --output-size and --precision")


def measure_network_ms(backend: LatencyBackend, arch: Any, output_size: tuple[int, int],
                       protocol: MeasureProtocol = NETWORK_PROTOCOL) -> float:
    """Median end-to-end latency of an architecture at the output size."""
    w, h = lr_size(output_size, arch.scale)
    return backend.measure(build_network(arch), (1, arch.colors, h, w), protocol).median_ms


def _measure_blocks_in_context(backend: LatencyBackend, space: SearchSpace,
                               output_size: tuple[int, int], table: LatencyTable,
                               protocol: MeasureProtocol, progress: bool) -> None:
    w, h = lr_size(output_size, space.scale)
    shape = (1, 3, h, w)
    blocks = space_blocks(space, output_size, backend.precision)
    todo = [b for b in blocks if not table.has(b)]
    bases = table.data.setdefault("context_bases", {})
    harness_k = space.upsampler_kernels[-1]

    def base(k: int) -> TimingStats:
        if str(k) not in bases:  # saved, so a resumed profile does not measure it again
            net = build_network(space.architecture([], k, name="base"))
            bases[str(k)] = backend.measure(net, shape, protocol).to_dict()
            table.save()
        return TimingStats.from_dict(bases[str(k)])

    head = blocks[0]
    skip = next((b for b in blocks if b.kind == "skip"), None)

    def alone(block: Block) -> float:
        if not table.has(block):
            table.set(block, backend.measure(block.module(), block.input_shape, protocol))
            table.save()
        return table.block_ms(block)

    for block in tqdm(todo, desc="blocks", disable=not progress, dynamic_ncols=True):
        if table.has(block):  # measured above as part of another entry
            continue
        if block is head or block is skip:
            alone(block)
            continue
        if block.kind == "upsampler":
            fixed = alone(head) + (alone(skip) if skip else 0.0)
            b = base(block.kernel or 3)
            stats = marginal(b, TimingStats(fixed, fixed, fixed, 0.0, b.n))
        else:
            pair = [[(block.op, block.width), (block.op, block.width)]]
            net = build_network(space.architecture(pair, harness_k, name="harness"))
            stats = marginal(backend.measure(net, shape, protocol), base(harness_k), copies=2)
        table.set(block, stats)
        table.save()


def profile(backend: LatencyBackend, device: str, space: SearchSpace,
            output_size: tuple[int, int], out: str | Path, resume: bool = False,
            protocol: MeasureProtocol | None = None, networks: int = 30, seed: int = 0,
            progress: bool = True) -> LatencyTable:
    """Measure every block of ``space``, then calibrate on ``networks`` random networks."""
    protocol = protocol or MeasureProtocol()
    out = Path(out)
    lr_size(output_size, space.scale)  # the scale must divide the output size
    if out.exists() and resume:
        table = LatencyTable.load(out)
        table.require_compatible(space)
        _same_setup(table, backend, output_size, backend.precision)
    elif out.exists():
        raise UserError(f"{out} exists; pass --resume to continue it, or choose another -o")
    else:
        table = LatencyTable.new(space, output_size, backend.precision, MEASURED,
                                 _provenance(backend, device, protocol, NETWORK_PROTOCOL))
        table.save(out)

    _measure_blocks_in_context(backend, space, output_size, table, protocol, progress)

    samples = table.data.setdefault("calibration_samples", [])
    # The seed rebuilds the calibration networks later (validate's host-drift reference).
    table.data.setdefault("protocol", {})["calibration_seed"] = seed
    rng = np.random.default_rng(seed)
    archs = [space.random_architecture(rng, name=f"calib-{i}") for i in range(networks)]
    bar = tqdm(total=networks, initial=len(samples), desc="calibration networks",
               disable=not progress, dynamic_ncols=True)
    for arch in archs[len(samples):]:
        samples.append({"raw_ms": table.raw_ms(arch),
                        "measured_ms": measure_network_ms(backend, arch, output_size),
                        "cells": len(arch.cells)})
        table.save()
        bar.update(1)
    bar.close()
    raw = [s["raw_ms"] for s in samples]
    meas = [s["measured_ms"] for s in samples]
    a, b = fit_linear(raw, meas)
    table.data["calibration"] = {"a": a, "b": b, "networks": len(samples),
                                 "in_sample": fidelity([a * r + b for r in raw], meas).to_dict()}
    table.save()
    return table


def require_measured(table: LatencyTable) -> None:
    """Refuse to check an estimate: there is no device measurement to compare it with."""
    if table.is_estimate:
        raise UserError(f"{table.path} is a roofline estimate; measure a table on the device "
                        "(tnas-pipeline profile) and check that instead")


def check(table: LatencyTable, backend: LatencyBackend, networks: int = 30, seed: int = 12345,
          progress: bool = True) -> dict[str, Any]:
    """Fidelity of ``table`` on ``networks`` fresh random networks measured now."""
    require_measured(table)
    _same_setup(table, backend, table.output_size, table.precision)
    space = table.space
    rng = np.random.default_rng(seed)
    rows = []
    for i in tqdm(range(networks), desc="check networks", disable=not progress,
                  dynamic_ncols=True):
        arch = space.random_architecture(rng, name=f"check-{i}")
        rows.append({"predicted_ms": table.predict_ms(arch),
                     "measured_ms": measure_network_ms(backend, arch, table.output_size),
                     "cells": len(arch.cells)})
    fid = fidelity([r["predicted_ms"] for r in rows], [r["measured_ms"] for r in rows])
    return {"lut": str(table.path), **fid.to_dict(), "samples": rows}
