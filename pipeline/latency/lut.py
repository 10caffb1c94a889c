"""The latency lookup table (LUT) file and its Python API.

A LUT is versioned JSON: provenance (device and CPU fingerprint, runtime and version, precision,
resolution, threads, power mode and clocks where readable, measurement protocol, date), the
search space and its hash, the **reference network** and its time, one entry per block key, and
the latency model fitted on whole networks (:mod:`tnas_pipeline.latency.model`).

Entries are ratios to the reference network, timed interleaved with it
(:mod:`tnas_pipeline.latency.interleaved`), which cancels the host's drift; each also shows its
milliseconds at the reference's time when profiled (``median_ms``), for people who read the
file. A ratio becomes milliseconds through :attr:`LatencyTable.reference_ms`: the reference's
time when the table was measured, or, after :meth:`LatencyTable.at_reference_ms`, the
reference timed at the time of use. A roofline estimate has no reference network; its entries
are milliseconds over a nominal 1 ms reference.

``method`` says where the entries come from: ``measured`` (a profile on the device),
``transfer`` (another CPU's table adapted by a few measurements here,
:mod:`tnas_pipeline.latency.transfer`) or ``roofline-estimate``; every command that uses an estimate
says so. Version 1 tables (milliseconds and a linear calibration) are read and converted.

Every field is checked on load, and every entry carries a checksum of its values
(:mod:`tnas_pipeline.latency.lut_schema`, :mod:`tnas_pipeline.latency.lut_sign`): a wrongly typed
field or a hand-edited entry is one error that names each, not a traceback or a silently moved
prediction.
"""

from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Any

import numpy as np

from tnas_pipeline.errors import UserError
from tnas_pipeline.io_utils import write_json_atomic
from tnas_pipeline.latency.arch_codec import decode_arch
from tnas_pipeline.latency.blocks import Block, architecture_blocks, space_blocks
from tnas_pipeline.latency.lut_schema import check_table
from tnas_pipeline.latency.lut_sign import CHECKSUM_KEY, entry_checksum, sign_entries
from tnas_pipeline.latency.model import Prediction, correction, features
from tnas_pipeline.latency.upgrade import upgrade_v1
from tnas_pipeline.networks.architecture import Architecture
from tnas_pipeline.schema import read_json_document
from tnas_pipeline.search_space import SearchSpace

FORMAT = "tnas-pipeline/lut"
VERSION = 2
ESTIMATE = "roofline-estimate"
MEASURED = "measured"
TRANSFER = "transfer"
# Relative uncertainty of a prediction when a table has no fitted model (an estimate, or a
# table without whole-network measurements): wide, so nothing leans on it.
UNMODELLED_SIGMA = 0.10
# Whole networks a model must be fitted on to know its own error: with fewer, leave-one-out
# errors say nothing (two networks fit "perfectly"), so the table's uncertainty is
# UNMODELLED_SIGMA and ``profile`` refuses to fit on fewer.
MIN_MODEL_NETWORKS = 5


def sign_table_file(path: str | Path) -> int:
    """Sign every entry of the table file at ``path`` in place, changing nothing else (not a
    value, not the version: a version 1 table stays one), and return how many were signed.

    For a table the user trusts but that the tool refuses: one made before checksums, or one
    edited on purpose. Its fields must still be of the right types (nothing is signed that the
    tool could not read), and it must load once signed, else the file is left as it was."""
    from tnas_pipeline.latency.lut_schema import table_problems

    path = Path(path)
    data = read_json_document(path, "no such latency table",
                              "corrupt latency table ({exc}); profile again")
    if not isinstance(data, dict) or data.get("format") != FORMAT or \
            data.get("version") not in (1, VERSION):
        raise UserError(f"{path}: not a tnas-pipeline latency table of version 1 or {VERSION}; "
                        "nothing signed")
    table_problems(data).raise_if_any(f"{path}: corrupt latency table, not signed",
                                      "profile again")
    sign_entries(data["entries"])
    LatencyTable.from_data(copy.deepcopy(data), path)  # it loads once signed, or stays as it was
    write_json_atomic(path, data)
    return len(data["entries"])


def _finite(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{what} is not a finite number: {value!r}")
    return float(value)


class LatencyTable:
    """A LUT in memory; ``data`` is exactly what the JSON file holds."""

    def __init__(self, data: dict[str, Any], path: Path | None = None) -> None:
        self.data, self.path = data, path
        self._reference_ms: float | None = None  # set by at_reference_ms
        self._space: SearchSpace | None = None

    # -- construction and files -----------------------------------------------------------------
    @classmethod
    def new(cls, space: SearchSpace, output_size: tuple[int, int], precision: str,
            method: str, provenance: dict[str, Any],
            reference: Architecture | None = None) -> LatencyTable:
        return cls({
            "format": FORMAT, "version": VERSION, "method": method,
            "search_space": {"hash": space.hash, "fields": space.to_dict()},
            "scale": space.scale, "output_size": list(output_size), "precision": precision,
            **provenance,
            "reference": {"arch": reference.to_dict() if reference else None,
                          "ms": None if reference else 1.0},
            "entries": {}, "model": None, "model_samples": [],
        })

    @classmethod
    def load(cls, path: str | Path) -> LatencyTable:
        """Read and validate a LUT file; anything wrong is a one-line :class:`UserError`."""
        path = Path(path)
        data = read_json_document(path, "no such latency table; make one with tnas-pipeline "
                                  "profile", "corrupt latency table ({exc}); profile again")
        return cls.from_data(data, path)

    @classmethod
    def from_data(cls, data: Any, path: Path | None = None) -> LatencyTable:
        where = path or "latency table"
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise UserError(f"{where}: not a tnas-pipeline latency table")
        if data.get("version") not in (1, VERSION):
            raise UserError(f"{where}: latency table version {data.get('version')!r} is not "
                            f"supported (this tool reads 1 and {VERSION}); profile again")
        # Every field's type and range, and every entry's checksum, all reported at once.
        check_table(data, where)
        if data.get("version") == 1:
            try:
                data = upgrade_v1(data, cls)
            except (KeyError, TypeError, ValueError, AttributeError, UserError) as exc:
                raise UserError(f"{where}: corrupt latency table ({type(exc).__name__}: {exc}); "
                                "profile again") from None
            sign_entries(data["entries"])  # converted by the tool from verified entries
        table = cls(data, path)
        try:
            table.validate()
        except (KeyError, TypeError, ValueError, AttributeError, UserError) as exc:
            raise UserError(f"{where}: corrupt latency table ({type(exc).__name__}: {exc}); "
                            "profile again") from None
        return table

    def validate(self) -> None:
        """Raise if any field has the wrong type or value (the caller turns it into one line)."""
        d = self.data
        if self.space.hash != d["search_space"]["hash"]:
            raise ValueError("search-space hash does not match its fields")
        if not isinstance(d["scale"], int) or isinstance(d["scale"], bool) or d["scale"] < 1:
            raise ValueError("bad scale")
        w, h = d["output_size"]
        if not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in (w, h)):
            raise ValueError("bad output_size")
        if not isinstance(d["precision"], str):
            raise ValueError("bad precision")
        if not isinstance(d.get("device", {}), dict) or not isinstance(d.get("runtime", {}),
                                                                         dict):
            raise ValueError("device and runtime must be objects")
        ref = d["reference"]
        if not isinstance(ref, dict):
            raise ValueError("reference must be an object")
        if ref.get("ms") is not None and _finite(ref["ms"], "reference ms") <= 0:
            raise ValueError("reference ms must be positive")
        if ref.get("arch") is not None:
            Architecture.from_dict(ref["arch"])
        if not isinstance(d["entries"], dict):
            raise ValueError("entries must be an object")
        for key, entry in d["entries"].items():
            if not isinstance(entry, dict):
                raise ValueError(f"entry {key} is not an object")
            if _finite(entry["ratio"], f"entry {key}") < 0:
                raise ValueError(f"entry {key} is negative")
            _finite(entry.get("sd", 0.0), f"entry {key} sd")
        model = d.get("model")
        if model is not None:
            if not isinstance(model, dict):
                raise ValueError("model must be an object")
            n = len(model["weights"])
            if len(model["feature_mean"]) != n - 1 or len(model["feature_std"]) != n - 1:
                raise ValueError("model weights and features disagree")
            for v in [*model["weights"], *model["feature_mean"], *model["feature_std"],
                      model["sigma"]]:
                _finite(v, "model value")
        if not isinstance(d.get("model_samples", []), list):
            raise ValueError("model_samples must be a list")
        self.samples()  # each model network is an architecture of the table's space

    def save(self, path: str | Path | None = None) -> None:
        """Write atomically (to ``path`` or where it was loaded from), every entry signed
        (:mod:`tnas_pipeline.latency.lut_sign`)."""
        self.path = Path(path) if path else self.path
        if self.path is None:
            raise ValueError("no path to save the latency table to")
        sign_entries(self.data["entries"])
        write_json_atomic(self.path, self.data)

    # -- properties -----------------------------------------------------------------------------
    @property
    def space(self) -> SearchSpace:
        if self._space is None:
            self._space = SearchSpace.from_dict(self.data["search_space"]["fields"])
        return self._space

    @property
    def output_size(self) -> tuple[int, int]:
        w, h = self.data["output_size"]
        return int(w), int(h)

    @property
    def precision(self) -> str:
        return str(self.data["precision"])

    @property
    def method(self) -> str:
        return str(self.data.get("method"))

    @property
    def is_estimate(self) -> bool:
        return self.data.get("method") == ESTIMATE

    @property
    def threads(self) -> int | None:
        return self.data.get("runtime", {}).get("threads")

    @property
    def reference_arch(self) -> Architecture | None:
        ref = self.data["reference"].get("arch")
        return Architecture.from_dict(ref) if ref else None

    @property
    def profiled_reference_ms(self) -> float | None:
        """The reference network's time when the table was measured (``None`` before then)."""
        ms = self.data["reference"].get("ms")
        return None if ms is None else float(ms)

    @property
    def reference_ms(self) -> float:
        """What one reference network takes: timed at use (:meth:`at_reference_ms`) or, by
        default, when the table was measured."""
        if self._reference_ms is not None:
            return self._reference_ms
        ms = self.profiled_reference_ms
        if ms is None:
            raise UserError(f"{self.path}: the latency table has no reference time yet (an "
                            "unfinished profile); finish it with --resume")
        return ms

    def at_reference_ms(self, ms: float) -> LatencyTable:
        """A view of this table that converts ratios with a reference time measured now."""
        view = copy.copy(self)
        view._reference_ms = float(ms)
        return view

    @property
    def model(self) -> dict[str, Any] | None:
        return self.data.get("model")

    @property
    def sigma(self) -> float:
        """Relative uncertainty (one standard deviation) of a prediction of this table."""
        model = self.model
        # A model fitted on a handful of networks knows little of its own error; a transferred
        # one carries the error measured by the transfer.
        if model is None or (model.get("networks", 0) < MIN_MODEL_NETWORKS
                             and "transfer_level" not in model):
            return UNMODELLED_SIGMA
        return float(model["sigma"])

    def describe(self) -> str:
        """One line naming the device, runtime and method (estimates say so loudly)."""
        dev = self.data.get("device", {})
        rt = self.data.get("runtime", {})
        w, h = self.output_size
        what = {ESTIMATE: "ROOFLINE ESTIMATE (not measured)",
                TRANSFER: "transferred from another CPU's table"}.get(self.method, "measured")
        return (f"{dev.get('name', dev.get('kind', '?'))} / {rt.get('runtime', '?')} "
                f"{self.precision} x{self.data['scale']} {w}x{h}: {what}")

    def estimate_notice(self) -> str | None:
        """The warning commands print when they use an estimate, else ``None``."""
        if not self.is_estimate:
            return None
        return (f"note: {self.path or 'this latency table'} is a roofline estimate from published "
                "peak throughput, not a measurement; profile on the device to replace it")

    # -- compatibility --------------------------------------------------------------------------
    def require_compatible(self, space: SearchSpace) -> None:
        """Refuse a table made for another search space or scale."""
        if self.data["scale"] != space.scale:
            raise UserError(f"{self.path}: latency table is for x{self.data['scale']}, not "
                            f"x{space.scale}; profile at this scale")
        if self.data["search_space"]["hash"] != space.hash:
            raise UserError(f"{self.path}: latency table is for search space "
                            f"{self.data['search_space']['hash']}, not {space.hash}; "
                            "profile this search space again")

    # -- entries --------------------------------------------------------------------------------
    def has(self, block: Block) -> bool:
        return block.key in self.data["entries"]

    def set_entry(self, block: Block, ratio: float, sd: float, runs: list[float] | None = None,
                  **extra: Any) -> None:
        ref_ms = self.profiled_reference_ms or 1.0
        entry = {
            "ratio": round(float(ratio), 8), "sd": round(float(sd), 8),
            "median_ms": round(float(ratio) * ref_ms, 6), "sd_ms": round(float(sd) * ref_ms, 6),
            **({"runs": [round(float(r), 8) for r in runs]} if runs is not None else {}), **extra}
        self.data["entries"][block.key] = {**entry, CHECKSUM_KEY: entry_checksum(block.key, entry)}

    def entry_ratio(self, block: Block) -> float:
        try:
            return float(self.data["entries"][block.key]["ratio"])
        except KeyError:
            raise UserError(f"{self.path}: no entry for block {block.key}; the architecture is "
                            "outside this table's search space or resolution") from None

    def block_ms(self, block: Block) -> float:
        return self.entry_ratio(block) * self.reference_ms

    def parts(self, arch: Architecture) -> tuple[dict[str, float], float]:
        """Per op (and ``"fixed"``: head, upsampler, skip) the summed entries of ``arch`` in
        ratio units, and their total ΣLUT."""
        if arch.scale != self.data["scale"]:
            raise UserError(f"architecture is x{arch.scale} but {self.path} is for "
                            f"x{self.data['scale']}")
        parts: dict[str, float] = {}
        for b in architecture_blocks(arch, self.output_size, self.precision):
            key = b.op if b.kind == "layer" and b.cin == b.cout else "fixed"
            parts[key] = parts.get(key, 0.0) + self.entry_ratio(b)
        return parts, sum(parts.values())

    def raw_ratio(self, arch: Architecture) -> float:
        return self.parts(arch)[1]

    def raw_ms(self, arch: Architecture) -> float:
        """Sum of the entries of the architecture's blocks, in ms."""
        return self.raw_ratio(arch) * self.reference_ms

    # -- prediction -----------------------------------------------------------------------------
    def predict_ratio(self, arch: Architecture) -> Prediction:
        """ΣLUT corrected by the model, in reference-network units, with its uncertainty."""
        parts, raw = self.parts(arch)
        if raw <= 0:
            return Prediction(0.0, self.sigma)
        x = features(self.space, arch, parts, raw)
        return Prediction(raw * correction(self.model, x), self.sigma)

    def predict(self, arch: Architecture) -> Prediction:
        """Predicted end-to-end latency of ``arch`` in ms, with its relative uncertainty."""
        p = self.predict_ratio(arch)
        return Prediction(p.value * self.reference_ms, p.rel_sigma)

    def predict_ms(self, arch: Architecture) -> float:
        return self.predict(arch).value

    def linear_calibration(self) -> tuple[float, float]:
        """``a, b`` with ``model ≈ a · ΣLUT + b`` (ms) over the table's model networks: the
        linear stand-in the search's differentiable latency term uses."""
        samples = self.samples()
        if len(samples) < 2:
            return 1.0, 0.0
        raw = np.array([self.raw_ms(a) for a, _ in samples])
        pred = np.array([self.predict_ms(a) for a, _ in samples])
        if np.ptp(raw) == 0:
            return 1.0, 0.0
        a, b = np.polyfit(raw, pred, 1)
        return float(a), float(b)

    def samples(self) -> list[tuple[Architecture, float]]:
        """The measured model networks: (architecture, measured ratio)."""
        space = self.space
        return [(decode_arch(space, s["arch"], f"sample-{i}"), float(s["ratio"]))
                for i, s in enumerate(self.data.get("model_samples") or [])]

    def reachable_range(self) -> tuple[float, float]:
        """(fastest, slowest) predicted latency in ms over all architectures of the space (the
        narrowest and the widest trunk when the trunk is searched)."""
        space = self.space
        blocks = space_blocks(space, self.output_size, self.precision)
        lo_c, hi_c = min(space.trunk_choices), max(space.trunk_choices)

        def extremes(c: int) -> tuple[tuple, tuple, int, int]:
            ops = [(self.block_ms(b), (b.op, b.width)) for b in blocks
                   if b.kind == "layer" and b.cin == b.cout == c and b.op in space.ops]
            ups = [(self.block_ms(b), b.kernel) for b in blocks
                   if b.kind == "upsampler" and b.cin == c]
            return min(ops)[1], max(ops)[1], min(ups)[1], max(ups)[1]

        cheap, _, k_lo, _ = extremes(lo_c)
        _, dear, _, k_hi = extremes(hi_c)
        e = space.edges_per_cell
        # A mixed-path network may keep no edge at all; a single-path one has at least a cell.
        fastest = space.architecture([[cheap] * e] if space.single_path else [], k_lo,
                                     trunk=lo_c)
        slowest = space.architecture([[dear] * e] * space.max_cells, k_hi, trunk=hi_c)
        lo, hi = sorted((self.predict_ms(fastest), self.predict_ms(slowest)))
        return lo, hi
