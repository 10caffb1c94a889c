"""The shape of a latency table file (versions 1 and 2), checked field by field on load.

A table is read by the search, the fit, the device check and ``validate``, each of which trusts
its numbers; a wrongly typed field (``entries`` a list, ``"median_ms": "abc"``, a fingerprint
that is a string) would surface as a traceback in whichever reads it first, minutes into a run.
So :func:`check_table` checks every field the tool reads against its JSON type and range,
verifies the entries' checksums (:mod:`tnas_pipeline.latency.lut_sign`), and raises one
:class:`~tnas_pipeline.errors.UserError` that lists every violation. Fields the tool only
records (protocol details, clocks, notes) are not checked.
"""

from __future__ import annotations

from typing import Any

from tnas_pipeline.errors import UserError
from tnas_pipeline.latency.lut_sign import sign_command, verify_entries
from tnas_pipeline.networks.arch_schema import MAX_CELLS, MAX_CHANNELS, MAX_KERNEL
from tnas_pipeline.schema import MAX_OUTPUT_SIDE, Problems

METHODS = ("measured", "transfer", "roofline-estimate")
PRECISIONS = ("fp32", "fp16")
V2_ENTRY_FIELDS = ("sd", "median_ms", "sd_ms")  # beside the ratio, each at least 0
V1_ENTRY_FIELDS = ("p90_ms", "mean_ms", "std_ms")  # beside the median, each at least 0


def _optional(p: Problems, d: dict[str, Any], key: str, where: str, check) -> None:
    """Check ``d[key]`` with ``check(value, where)`` when it is present and not null."""
    if d.get(key) is not None:
        check(d[key], f"{where}.{key}")


def _search_space(p: Problems, value: Any) -> None:
    from tnas_pipeline.search_space import SearchSpace

    ss = p.obj(value, "search_space")
    if ss is None:
        return
    h = p.string(ss.get("hash"), "search_space.hash")
    fields = p.obj(ss.get("fields"), "search_space.fields")
    if h is None or fields is None:
        return
    try:
        ok = SearchSpace.from_dict(fields).hash == h
    except (TypeError, ValueError, UserError) as exc:
        p.add("search_space.fields", f"not a search space ({exc})")
        return
    if not ok:
        p.add("search_space", "hash does not match its fields (edited by hand?)")


def _device(p: Problems, value: Any) -> None:
    dev = p.obj(value, "device")
    if dev is None:
        return
    p.string(dev.get("kind"), "device.kind")
    for key in ("name", "cpu"):
        _optional(p, dev, key, "device", p.string)
    _optional(p, dev, "cpus", "device", lambda v, w: p.integer(v, w, 1))
    if dev.get("cpu_fingerprint") is not None:
        fp = p.obj(dev["cpu_fingerprint"], "device.cpu_fingerprint")
        if fp is not None:
            for key in ("vendor", "family", "model", "stepping"):
                _optional(p, fp, key, "device.cpu_fingerprint", p.string)
            flags = p.array(fp.get("flags", []), "device.cpu_fingerprint.flags")
            for i, flag in enumerate(flags or []):
                p.string(flag, f"device.cpu_fingerprint.flags[{i}]")


def _runtime(p: Problems, value: Any) -> None:
    rt = p.obj(value, "runtime")
    if rt is None:
        return
    p.string(rt.get("runtime"), "runtime.runtime")
    _optional(p, rt, "version", "runtime", p.string)
    _optional(p, rt, "threads", "runtime", lambda v, w: p.integer(v, w, 1))


def _fidelity(p: Problems, value: Any, where: str) -> None:
    f = p.obj(value, where)
    if f is None:
        return
    _optional(p, f, "networks", where, lambda v, w: p.integer(v, w, 0))
    _optional(p, f, "mape", where, lambda v, w: p.number(v, w, 0))
    _optional(p, f, "within_10pct", where, lambda v, w: p.number(v, w, 0, 1))
    _optional(p, f, "kendall_tau", where, lambda v, w: p.number(v, w, -1, 1))


def _model(p: Problems, value: Any) -> None:
    m = p.obj(value, "model")
    if m is None:
        return
    weights = p.numbers(m.get("weights"), "model.weights")
    for key in ("feature_mean", "feature_std"):
        values = p.numbers(m.get(key), f"model.{key}")
        if weights is not None and values is not None and len(values) != len(weights) - 1:
            p.add(f"model.{key}", f"has {len(values)} values for {len(weights)} weights "
                                  "(one fewer expected)")
    p.number(m.get("sigma"), "model.sigma", 0)
    _optional(p, m, "networks", "model", lambda v, w: p.integer(v, w, 0))
    _optional(p, m, "transfer_level", "model", p.number)
    ridge = m.get("ridge")
    if ridge is not None and not isinstance(ridge, str):
        p.number(ridge, "model.ridge", 0, lo_open=True)
    for key in ("loo", "raw"):
        _optional(p, m, key, "model", lambda v, w: _fidelity(p, v, w))


def _encoded_arch(p: Problems, value: Any, where: str) -> None:
    """An architecture in a table's few words: ``{"cells": [[[op, width], ...]], "k", "c"}``."""
    a = p.obj(value, where)
    if a is None:
        return
    cells = p.array(a.get("cells"), f"{where}.cells", MAX_CELLS, "cells")
    for i, cell in enumerate(cells or []):
        for j, pair in enumerate(p.array(cell, f"{where}.cells[{i}]") or []):
            w = f"{where}.cells[{i}][{j}]"
            if not isinstance(pair, list) or len(pair) != 2:
                p.add(w, "must be [op, width]")
                continue
            p.string(pair[0], f"{w}[0]")
            if pair[1] is not None:
                p.integer(pair[1], f"{w}[1]", 1, MAX_CHANNELS)
    p.integer(a.get("k"), f"{where}.k", 1, MAX_KERNEL)
    _optional(p, a, "c", where, lambda v, w: p.integer(v, w, 1, MAX_CHANNELS))


def _samples(p: Problems, value: Any, key: str, measured: bool) -> None:
    for i, s in enumerate(p.array(value, key) or []):
        where = f"{key}[{i}]"
        s = p.obj(s, where)
        if s is None:
            continue
        _encoded_arch(p, s.get("arch"), f"{where}.arch")
        p.string(s.get("source"), f"{where}.source")
        if measured:
            p.number(s.get("ratio"), f"{where}.ratio", 0, lo_open=True)
            for k in ("ci", "reference_ms"):
                _optional(p, s, k, where, lambda v, w: p.number(v, w, 0))


def _measurements(p: Problems, value: Any) -> None:
    for key, runs in (p.obj(value, "measurements") or {}).items():
        for i, run in enumerate(p.array(runs, f"measurements[{key}]") or []):
            run = p.obj(run, f"measurements[{key}][{i}]")
            if run is not None:
                p.number(run.get("ratio"), f"measurements[{key}][{i}].ratio")
                p.number(run.get("reference_ms"), f"measurements[{key}][{i}].reference_ms", 0,
                         lo_open=True)


def _entries(p: Problems, value: Any, version: int) -> None:
    entries = p.obj(value, "entries")
    if entries is None:
        return
    main, others = ("ratio", V2_ENTRY_FIELDS) if version == 2 else ("median_ms", V1_ENTRY_FIELDS)
    for key, entry in entries.items():
        where = f"entries[{key}]"
        entry = p.obj(entry, where)
        if entry is None:
            continue
        if main not in entry:
            p.add(where, f"missing '{main}'")
        else:
            p.number(entry[main], f"{where}.{main}", 0)
        for k in others:
            _optional(p, entry, k, where, lambda v, w: p.number(v, w, 0))
        _optional(p, entry, "runs", where, p.numbers)
        _optional(p, entry, "n", where, lambda v, w: p.integer(v, w, 0))
        _optional(p, entry, "factor", where, p.number)


def _reference(p: Problems, value: Any) -> None:
    ref = p.obj(value, "reference")
    if ref is None:
        return
    _optional(p, ref, "arch", "reference", p.obj)  # its content: Architecture.from_dict
    _optional(p, ref, "ms", "reference", lambda v, w: p.number(v, w, 0, lo_open=True))
    if ref.get("ms_per_run") is not None:
        p.numbers(ref["ms_per_run"], "reference.ms_per_run", 0)


def _version_1(p: Problems, d: dict[str, Any]) -> None:
    """What the version 1 → 2 upgrade reads: the context bases and the calibration."""
    for key, stats in (p.obj(d.get("context_bases") or {}, "context_bases") or {}).items():
        if not str(key).isdigit():
            p.add(f"context_bases[{key}]", "key must be a kernel size")
        stats = p.obj(stats, f"context_bases[{key}]")
        if stats is not None:
            p.number(stats.get("median_ms"), f"context_bases[{key}].median_ms", 0, lo_open=True)
    if d.get("calibration") is not None:
        cal = p.obj(d["calibration"], "calibration")
        for k in ("a", "b"):
            if cal is not None and k in cal:
                p.number(cal[k], f"calibration.{k}")
    for i, s in enumerate(p.array(d.get("calibration_samples") or [], "calibration_samples")
                          or []):
        s = p.obj(s, f"calibration_samples[{i}]")
        if s is not None:
            p.number(s.get("raw_ms"), f"calibration_samples[{i}].raw_ms", 0)
            p.number(s.get("measured_ms"), f"calibration_samples[{i}].measured_ms", 0,
                     lo_open=True)
    protocol = d.get("protocol")
    if isinstance(protocol, dict) and protocol.get("calibration_seed") is not None:
        p.integer(protocol["calibration_seed"], "protocol.calibration_seed", 0)


def table_problems(d: dict[str, Any]) -> Problems:
    """Every violation of the table format in ``d`` (of version 1 or 2, before any upgrade)."""
    from tnas_pipeline.data.degradation import SUPPORTED_SCALES

    p = Problems()
    version = d.get("version")
    required = ["method", "search_space", "scale", "output_size", "precision", "entries"]
    required += ["reference"] if version == 2 else []
    for key in required:
        if key not in d:
            p.add("", f"missing '{key}'")
    if "method" in d:
        p.string(d["method"], "method", METHODS)
    if "search_space" in d:
        _search_space(p, d["search_space"])
    if "scale" in d and p.integer(d["scale"], "scale") is not None and \
            d["scale"] not in SUPPORTED_SCALES:
        p.add("scale", f"must be one of {', '.join(map(str, SUPPORTED_SCALES))}, "
                       f"got {d['scale']}")
    if "output_size" in d:
        size = p.array(d["output_size"], "output_size")
        if size is not None and len(size) != 2:
            p.add("output_size", f"must be [width, height], got {len(size)} values")
        elif size is not None:
            for i, v in enumerate(size):
                p.integer(v, f"output_size[{i}]", 1, MAX_OUTPUT_SIDE)
    if "precision" in d:
        p.string(d["precision"], "precision", PRECISIONS)
    _optional(p, d, "device", "", lambda v, w: _device(p, v))
    _optional(p, d, "runtime", "", lambda v, w: _runtime(p, v))
    _optional(p, d, "date", "", lambda v, w: p.string(v, "date"))
    if "entries" in d:
        _entries(p, d["entries"], version)
    if version == 2:
        if "reference" in d:
            _reference(p, d["reference"])
        _optional(p, d, "model", "", lambda v, w: _model(p, v))
        _samples(p, d.get("model_samples", []), "model_samples", measured=True)
        _samples(p, d.get("model_plan") or [], "model_plan", measured=False)
        _optional(p, d, "measurements", "", lambda v, w: _measurements(p, v))
        if d.get("bring_up") is not None and (b := p.obj(d["bring_up"], "bring_up")):
            p.string(b.get("method"), "bring_up.method")
            p.number(b.get("seconds"), "bring_up.seconds", 0)
    else:
        _version_1(p, d)
    return p


def check_table(d: dict[str, Any], where: Any) -> None:
    """Raise one :class:`UserError` listing every violation of the format and every entry
    whose checksum does not match; a table without any checksum is refused with the command
    that signs it (:mod:`tnas_pipeline.latency.lut_sign`)."""
    p = table_problems(d)
    schema_ok = not p
    entries = d.get("entries")
    if isinstance(entries, dict) and entries:
        unsigned, edited = verify_entries(entries)
        if len(unsigned) == len(entries):
            if schema_ok:
                raise UserError(
                    f"{where}: the latency table's entries carry no checksums (a table made "
                    "before they were added, or stripped of them), so a hand edit cannot be "
                    f"detected; if you trust it, sign it with `{sign_command(where)}`, else "
                    "profile again")
            p.add("entries", "none carries a checksum")
        else:
            for key in unsigned:
                p.add(f"entries[{key}]", "has no checksum (added by hand?)")
            for key in edited:
                p.add(f"entries[{key}]", "values do not match its checksum (edited by hand?)")
    fix = "profile again"
    if schema_ok and p:
        fix += f", or, if you trust the edits, sign it with `{sign_command(where)}`"
    p.raise_if_any(f"{where}: corrupt latency table", fix)
