"""Building a latency table by measurement, and checking one against fresh networks.

Every value is a ratio to the table's **reference network**, ``head → upsampler (largest
kernel) → skip``, the smallest network of the space, timed interleaved with it
(:mod:`tnas_pipeline.latency.interleaved`). Every block is measured *in context*, as a marginal cost
inside the reference, as nn-Meter measures kernels as the runtime fuses them: a block alone pays
the graph's borders (layout conversion, allocation, per-session overhead) that it does not pay
inside a network. So, with ``R`` the reference:

* the head and the global skip are measured alone (they sit at the graph's borders anyway);
* the upsampler of the reference's kernel is ``1 − head − skip``; of another kernel ``k``,
  ``T(head → upsampler k → skip) / T(R) − head − skip``;
* each op at each width is ``[T(head → op → op → upsampler → skip) / T(R) − 1] / 2``.

The sum of an architecture's entries is then its reference-relative ``T(base) + Σ in-network
op costs``. Each of these units is measured in ``runs`` separate passes over all units (fresh
sessions, minutes apart), so every entry has the spread of separate runs as its uncertainty; the
table is saved after every run, so ``--resume`` continues an interrupted profile where it stopped.
The reference's time is the median of its times over all runs.

Then whole networks (random ones of the space, and, from the caller, networks the fit picks)
are measured and the latency model (:mod:`tnas_pipeline.latency.model`) is fitted on them.
:func:`check` measures fresh networks against an existing table.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from tnas_pipeline.errors import UserError
from tnas_pipeline.latency.arch_codec import decode_arch, encode_arch
from tnas_pipeline.latency.backends import LatencyBackend
from tnas_pipeline.latency.blocks import Block, space_blocks
from tnas_pipeline.latency.devices import device_info
from tnas_pipeline.latency.fidelity import fidelity
from tnas_pipeline.latency.interleaved import RatioProtocol, RatioRun
from tnas_pipeline.latency.lut import MEASURED, MIN_MODEL_NETWORKS, LatencyTable
from tnas_pipeline.latency.measure import (
    CHECK_PROTOCOL,
    ENTRY_PROTOCOL,
    MODEL_PROTOCOL,
    NETWORK_PROTOCOL,
    Reference,
    measure_architecture,
    measure_ratio,
)
from tnas_pipeline.latency.model import fit_on_samples
from tnas_pipeline.logs import progress_bar
from tnas_pipeline.networks.architecture import Architecture
from tnas_pipeline.networks.builder import build_network
from tnas_pipeline.networks.complexity import lr_size
from tnas_pipeline.search_space import SearchSpace

BLOCK_METHOD = ("in-context marginal, as ratios to the reference network head → upsampler "
                "(largest kernel) → skip: head and skip alone; upsampler(k) = T(head → "
                "upsampler k → skip)/T(ref) − head − skip; op = [T(head → op → op → upsampler → "
                "skip)/T(ref) − 1] / 2")  # per trunk width with a searched trunk (profile_units)


def reference_architecture(space: SearchSpace) -> Architecture:
    """The reference network of a space's tables: head → upsampler (largest kernel) → skip."""
    return space.architecture([], max(space.upsampler_kernels), name="reference")


@dataclass(frozen=True)
class Unit:
    """One thing the profile times against the reference."""

    key: str
    module: Callable[[], torch.nn.Module]
    shape: tuple[int, ...]


def _trunk_suffix(space: SearchSpace, c: int) -> str:
    """Unit keys of the reference trunk keep their names (tables before trunk search)."""
    return "" if c == space.channels else f":c{c}"


def profile_units(space: SearchSpace, output_size: tuple[int, int], precision: str
                  ) -> tuple[list[Unit], list[Block]]:
    """The units a profile measures, and the blocks whose entries they give. With a searched
    trunk, every trunk width ``c`` has its own head, bases (head → upsampler k → skip) and op
    pairs; the reference network is the ``channels`` trunk's base at the largest kernel."""
    from tnas_pipeline.networks.reparam import folded_op

    w, h = lr_size(output_size, space.scale)
    shape = (1, 3, h, w)
    blocks = space_blocks(space, output_size, precision)
    k_ref = max(space.upsampler_kernels)
    skip = next((b for b in blocks if b.kind == "skip"), None)
    units: list[Unit] = []
    if skip:
        units.append(Unit("skip", skip.module, skip.input_shape))
    for c in space.trunk_choices:
        sfx = _trunk_suffix(space, c)
        head = next(b for b in blocks if b.kind == "layer" and b.cin == 3 and b.cout == c)
        units.append(Unit(f"head{sfx}", head.module, head.input_shape))
        for k in space.upsampler_kernels:
            if k != k_ref or sfx:
                units.append(Unit(f"base{sfx}:k{k}", lambda k=k, c=c: build_network(
                    space.architecture([], k, name="base", trunk=c)), shape))
        seen = set()
        for op in space.ops:
            for width in space.op_widths(op):
                key = f"pair:{folded_op(op)}:{width}{sfx}"
                if key in seen:  # an ECB and a 3×3 conv are one deployed block
                    continue
                seen.add(key)
                pair = [[(op, width), (op, width)]]
                units.append(Unit(key, lambda pair=pair, c=c: build_network(
                    space.architecture(pair, k_ref, name="harness", trunk=c)), shape))
    # The reference trunk's head first, then the skip, as before trunk search.
    units.sort(key=lambda u: (u.key != "head", u.key != "skip"))
    return units, blocks


def _entries_from_runs(table: LatencyTable, blocks: list[Block]) -> None:
    """Per-run entries from the units' runs (module docstring), then each entry's median and
    the spread of its runs."""
    meas = table.data["measurements"]
    space = table.space
    k_ref = max(space.upsampler_kernels)
    runs = min(len(v) for v in meas.values())

    def r(key: str) -> np.ndarray:
        return np.array([run["ratio"] for run in meas[key][:runs]]) if key in meas else \
            np.zeros(runs)

    def base(sfx: str, k: int) -> np.ndarray:
        return np.ones(runs) if (k == k_ref and not sfx) else r(f"base{sfx}:k{k}")

    skip = r("skip")
    for b in blocks:
        if b.kind == "skip":
            vals = skip
        elif b.kind == "layer" and b.cin != b.cout:  # a head (3 → c)
            vals = r(f"head{_trunk_suffix(space, b.cout)}")
        else:
            sfx = _trunk_suffix(space, b.cin)
            head = r(f"head{sfx}")
            if b.kind == "upsampler":
                vals = base(sfx, b.kernel) - head - skip
            else:
                vals = (r(f"pair:{b.op}:{b.width}{sfx}") - base(sfx, k_ref)) / 2.0
        vals = np.maximum(vals, 0.0)  # a cost too small to resolve is no cost, never a gain
        sd = float(vals.std(ddof=1)) if runs > 1 else 0.0
        table.set_entry(b, float(np.median(vals)), sd, [float(v) for v in vals])


def _same_setup(table: LatencyTable, backend: LatencyBackend, output_size: tuple[int, int],
                precision: str) -> None:
    rt = table.data.get("runtime", {})
    mine = backend.describe()
    if (rt.get("runtime"), rt.get("version")) != (mine["runtime"], mine["version"]):
        raise UserError(f"{table.path} was measured with {rt.get('runtime')} {rt.get('version')}, "
                        f"not {mine['runtime']} {mine['version']}; start a new table")
    if rt.get("threads") != mine.get("threads"):
        raise UserError(f"{table.path} was measured with {rt.get('threads')} thread(s), not "
                        f"{mine.get('threads')}; pass --threads {rt.get('threads')}")
    if table.output_size != tuple(output_size) or table.precision != precision:
        raise UserError(f"{table.path} is for {table.output_size[0]}x{table.output_size[1]} "
                        f"{table.precision}; --resume with the same --output-size and --precision")


def start_table(backend: LatencyBackend, device: str, space: SearchSpace,
                output_size: tuple[int, int], out: str | Path, resume: bool,
                protocol: RatioProtocol, method: str = MEASURED) -> LatencyTable:
    """A new table at ``out``, or (``resume``) the unfinished one there."""
    out = Path(out)
    lr_size(output_size, space.scale)  # the scale must divide the output size
    if out.exists() and resume:
        table = LatencyTable.load(out)
        table.require_compatible(space)
        _same_setup(table, backend, output_size, backend.precision)
        return table
    if out.exists() and not _nothing_measured(out):
        raise UserError(f"{out} exists; pass --resume to continue it, or choose another -o")
    table = LatencyTable.new(space, output_size, backend.precision, method, {
        "device": device_info(device), "runtime": backend.describe(),
        "protocol": {"entries": protocol.to_dict(), "model_networks": MODEL_PROTOCOL.to_dict(),
                     "check_networks": CHECK_PROTOCOL.to_dict(),
                     "validate_networks": NETWORK_PROTOCOL.to_dict(),
                     "statistic": "median of per-pair ratios target/reference, timed "
                                  "interleaved (A B A B) in one process",
                     "block_method": BLOCK_METHOD},
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    }, reference=reference_architecture(space))
    table.data["measurements"] = {}
    table.save(out)
    return table


def _nothing_measured(path: Path) -> bool:
    """Whether the table at ``path`` is a profile that stopped before its first measurement
    (an older version left one behind when the backend failed to start): replacing it loses
    nothing, and refusing it would block the rerun."""
    try:
        table = LatencyTable.load(path)
    except UserError:
        return False
    d = table.data
    return (d.get("method") == MEASURED and not d["entries"]
            and not any((d.get("measurements") or {}).values()) and not d.get("model_samples"))


def measure_entries(table: LatencyTable, backend: LatencyBackend, protocol: RatioProtocol,
                    progress: bool = True) -> None:
    """Measure every unit ``protocol.runs`` times, one pass over all units per run, saving
    after each; then derive the entries and the reference's time."""
    space = table.space
    units, blocks = profile_units(space, table.output_size, table.precision)
    meas = table.data.setdefault("measurements", {})
    reference = Reference(backend, table.reference_arch, table.output_size)
    one_run = replace(protocol, runs=1)
    todo = sum(max(0, protocol.runs - len(meas.get(u.key, []))) for u in units)
    bar = progress_bar(total=len(units) * protocol.runs,
                       initial=len(units) * protocol.runs - todo, desc="blocks",
                       enabled=progress, dynamic_ncols=True)
    prepared: dict[str, Any] = {}
    for p in range(protocol.runs):
        for unit in units:
            runs = meas.setdefault(unit.key, [])
            if len(runs) > p:
                continue
            if unit.key not in prepared:
                prepared[unit.key] = backend.prepare(unit.module(), unit.shape)

            def save(run: RatioRun, runs: list = runs) -> None:
                runs.append(run.to_dict())
                table.save()

            measure_ratio(backend, prepared[unit.key], unit.shape, reference, one_run,
                          on_run=save)
            bar.update(1)
    bar.close()
    ref_times = [run["reference_ms"] for runs in meas.values() for run in runs]
    table.data["reference"]["ms"] = round(float(np.median(ref_times)), 6)
    per_pass = [float(np.median([meas[u.key][p]["reference_ms"] for u in units]))
                for p in range(protocol.runs)]
    table.data["reference"]["ms_per_run"] = [round(v, 6) for v in per_pass]
    _entries_from_runs(table, blocks)
    table.save()


def plan_model_networks(table: LatencyTable, archs: Sequence[Architecture], source: str) -> None:
    """Add ``archs`` to the networks the model is fitted on (once each; kept in the table so an
    interrupted profile measures the same ones)."""
    plan = table.data.setdefault("model_plan", [])
    have = {(p["source"], str(p["arch"])) for p in plan}
    have |= {(s["source"], str(s["arch"])) for s in table.data.get("model_samples", [])}
    for arch in archs:
        item = {"arch": encode_arch(arch), "source": source}
        if (source, str(item["arch"])) not in have:
            plan.append(item)
            have.add((source, str(item["arch"])))
    table.save()


def measure_model_networks(table: LatencyTable, backend: LatencyBackend,
                           protocol: RatioProtocol = MODEL_PROTOCOL,
                           progress: bool = True) -> None:
    """Measure the planned model networks not yet measured, saving after each, then fit the
    model on all of them."""
    plan = table.data.get("model_plan") or []
    samples = table.data.setdefault("model_samples", [])
    done = {str(s["arch"]) for s in samples}
    space = table.space
    reference = Reference(backend, table.reference_arch, table.output_size)
    todo = [p for p in plan if str(p["arch"]) not in done]
    for p in progress_bar(todo, enabled=progress, desc="model networks", dynamic_ncols=True):
        arch = decode_arch(space, p["arch"])
        stats = measure_architecture(backend, arch, table.output_size, reference, protocol)
        samples.append({"arch": p["arch"], "source": p["source"], "ratio": round(stats.ratio, 8),
                        "ci": round(stats.ci, 6), "reference_ms": round(stats.reference_ms, 6)})
        table.save()
    # Every planned network is measured: the samples say it all (the plan would repeat them).
    table.data["model_plan"] = []
    fit_model(table)


def fit_model(table: LatencyTable) -> None:
    """Fit the latency model on the table's measured networks and save. A statistic that does
    not exist (Kendall's tau of one network, or of networks that all tie) is stored as
    ``null``, never as NaN, which is not JSON."""
    samples = table.samples()
    model = fit_on_samples(table.space, samples, table.parts) if samples else None
    for key in ("loo", "raw"):
        if model and isinstance(model.get(key), dict):
            model[key] = {k: (None if isinstance(v, float) and not np.isfinite(v) else v)
                          for k, v in model[key].items()}
    table.data["model"] = model
    table.save()


def random_networks(space: SearchSpace, count: int, seed: int, prefix: str = "random"
                    ) -> list[Architecture]:
    rng = np.random.default_rng(seed)
    return [space.random_architecture(rng, name=f"{prefix}-{i}") for i in range(count)]


def profile(backend: LatencyBackend, device: str, space: SearchSpace,
            output_size: tuple[int, int], out: str | Path, resume: bool = False,
            protocol: RatioProtocol = ENTRY_PROTOCOL, networks: int = 30, seed: int = 0,
            progress: bool = True, model_protocol: RatioProtocol = MODEL_PROTOCOL
            ) -> LatencyTable:
    """Measure every block of ``space``, then fit the model on ``networks`` random networks.

    Callers that can (the CLI, the bring-up) add networks the fit picks with
    :func:`plan_model_networks` and :func:`measure_model_networks` afterwards."""
    table = start_table(backend, device, space, output_size, out, resume, protocol)
    try:
        measure_entries(table, backend, protocol, progress)
    except BaseException:
        # Failed (or interrupted) before the first measurement was saved: the table holds
        # nothing to resume, so it goes, and a rerun starts afresh.
        measured = any((table.data.get("measurements") or {}).values())
        if not measured and not table.data["entries"] and table.path:
            table.path.unlink(missing_ok=True)
        raise
    table.data.setdefault("protocol", {})["model_seed"] = seed
    plan_model_networks(table, random_networks(space, networks, seed), "random")
    measure_model_networks(table, backend, model_protocol, progress)
    return table


def require_profile_counts(networks: int, fit_networks: int, threads: int | None = None
                           ) -> None:
    """Refuse a profile whose latency model would be fitted on fewer than
    :data:`~tnas_pipeline.latency.lut.MIN_MODEL_NETWORKS` networks (its leave-one-out error
    would say nothing: two networks fit "perfectly", one gives a NaN ranking), or run on fewer
    than one thread."""
    if networks < 0 or fit_networks < 0:
        raise UserError("--networks and --fit-networks cannot be negative")
    if networks + fit_networks < MIN_MODEL_NETWORKS:
        raise UserError(
            f"--networks plus --fit-networks must be at least {MIN_MODEL_NETWORKS}, got "
            f"{networks + fit_networks}: the latency model's error is measured by leaving one "
            "network out, which on fewer networks says nothing (two fit 'perfectly'); the "
            "defaults are 150 and 50")
    if threads is not None and threads < 1:
        raise UserError(f"--threads must be at least 1, got {threads}")


def require_measured(table: LatencyTable) -> None:
    """Refuse to check an estimate: there is no device measurement to compare it with."""
    if table.is_estimate:
        raise UserError(f"{table.path} is a roofline estimate; measure a table on the device "
                        "(tnas-pipeline profile) and check that instead")


def check(table: LatencyTable, backend: LatencyBackend, archs: Sequence[tuple[str, Architecture]],
          protocol: RatioProtocol = CHECK_PROTOCOL, progress: bool = True) -> dict[str, Any]:
    """Fidelity of ``table`` on ``(source, architecture)`` networks measured now.

    Prediction and measurement are compared as ratios to the reference (so host drift between
    the table and now cancels) and shown in ms at the reference's time now."""
    require_measured(table)
    _same_setup(table, backend, table.output_size, table.precision)
    reference = Reference(backend, table.reference_arch, table.output_size)
    rows = []
    for source, arch in progress_bar(archs, desc="check networks", enabled=progress,
                             dynamic_ncols=True):
        stats = measure_architecture(backend, arch, table.output_size, reference, protocol)
        pred = table.predict_ratio(arch)
        rows.append({"source": source, "arch": encode_arch(arch),
                     "predicted_ratio": pred.value, "measured_ratio": stats.ratio,
                     "predicted_ms": pred.value * stats.reference_ms, "measured_ms": stats.ms,
                     "reference_ms": stats.reference_ms, "ci": stats.ci, "sd": stats.sd,
                     "cells": len(arch.cells)})
    ref_now = float(np.median([r["reference_ms"] for r in rows])) if rows else None
    result: dict[str, Any] = {
        "lut": str(table.path), **_fid(rows), "reference_ms_now": ref_now,
        "reference_ms_table": table.profiled_reference_ms,
        "by_source": {s: _fid([r for r in rows if r["source"] == s])
                      for s in sorted({r["source"] for r in rows})},
        "samples": rows}
    return result


def _fid(rows: list[dict[str, Any]]) -> dict[str, Any]:
    if not rows:
        return {"networks": 0}
    return fidelity([r["predicted_ratio"] for r in rows],
                    [r["measured_ratio"] for r in rows]).to_dict()

