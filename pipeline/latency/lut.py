"""The latency lookup table (LUT) file and its Python API.

A LUT is versioned JSON: provenance (device, runtime and version, precision, resolution, threads,
power mode and clocks where readable, warm-up and repeat counts, date), the search space and its
hash, one :class:`~pipeline.latency.stats.TimingStats` per block key, and the calibration
``measured ≈ a · ΣLUT + b`` with its fidelity. ``method`` is ``measured`` or
``roofline-estimate``; every command that uses an estimate says so.

The API answers what the search needs before any training: the predicted latency of a discrete
architecture, and the fastest and slowest network the space can reach on the device.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pipeline.errors import UserError
from pipeline.io_utils import read_json_file, write_json_atomic
from pipeline.latency.blocks import Block, architecture_blocks, space_blocks
from pipeline.latency.stats import TimingStats
from pipeline.networks.architecture import Architecture
from pipeline.search_space import SearchSpace

FORMAT = "tnas-pipeline/lut"
VERSION = 1
ESTIMATE = "roofline-estimate"
MEASURED = "measured"


class LatencyTable:
    """A LUT in memory; ``data`` is exactly what the JSON file holds."""

    def __init__(self, data: dict[str, Any], path: Path | None = None) -> None:
        self.data, self.path = data, path

    # -- construction and files -----------------------------------------------------------------
    @classmethod
    def new(cls, space: SearchSpace, output_size: tuple[int, int], precision: str,
            method: str, provenance: dict[str, Any]) -> LatencyTable:
        return cls({
            "format": FORMAT, "version": VERSION, "method": method,
            "search_space": {"hash": space.hash, "fields": space.to_dict()},
            "scale": space.scale, "output_size": list(output_size), "precision": precision,
            **provenance, "entries": {},
        })

    @classmethod
    def load(cls, path: str | Path) -> LatencyTable:
        """Read and validate a LUT file; anything wrong is a one-line :class:`UserError`."""
        path = Path(path)
        data = read_json_file(path, "no such latency table; make one with tnas-pipeline profile",
                              "corrupt latency table ({exc}); profile again")
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise UserError(f"{path}: not a tnas-pipeline latency table")
        if data.get("version") != VERSION:
            raise UserError(f"{path}: latency table version {data.get('version')!r} is not "
                            f"supported (this tool reads {VERSION}); profile again")
        try:
            table = cls(data, path)
            space = table.space
            if space.hash != data["search_space"]["hash"]:
                raise ValueError("search-space hash does not match its fields")
            for key, stats in data["entries"].items():
                TimingStats.from_dict(stats)
                if not isinstance(key, str):
                    raise ValueError("bad key")
        except (KeyError, TypeError, ValueError) as exc:
            raise UserError(f"{path}: corrupt latency table ({type(exc).__name__}: {exc}); "
                            "profile again") from None
        return table

    def save(self, path: str | Path | None = None) -> None:
        """Write atomically (to ``path`` or where it was loaded from)."""
        self.path = Path(path) if path else self.path
        if self.path is None:
            raise ValueError("no path to save the latency table to")
        write_json_atomic(self.path, self.data)

    # -- properties -----------------------------------------------------------------------------
    @property
    def space(self) -> SearchSpace:
        return SearchSpace.from_dict(self.data["search_space"]["fields"])

    @property
    def output_size(self) -> tuple[int, int]:
        w, h = self.data["output_size"]
        return int(w), int(h)

    @property
    def precision(self) -> str:
        return str(self.data["precision"])

    @property
    def is_estimate(self) -> bool:
        return self.data.get("method") == ESTIMATE

    @property
    def calibration(self) -> dict[str, Any] | None:
        return self.data.get("calibration")

    def describe(self) -> str:
        """One line naming the device, runtime and method (estimates say so loudly)."""
        dev = self.data.get("device", {})
        rt = self.data.get("runtime", {})
        w, h = self.output_size
        what = "ROOFLINE ESTIMATE (not measured)" if self.is_estimate else "measured"
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

    # -- entries and prediction -----------------------------------------------------------------
    def has(self, block: Block) -> bool:
        return block.key in self.data["entries"]

    def set(self, block: Block, stats: TimingStats) -> None:
        self.data["entries"][block.key] = stats.to_dict()

    def block_ms(self, block: Block) -> float:
        try:
            return float(self.data["entries"][block.key]["median_ms"])
        except KeyError:
            raise UserError(f"{self.path}: no entry for block {block.key}; the architecture is "
                            "outside this table's search space or resolution") from None

    def raw_ms(self, arch: Architecture) -> float:
        """Sum of the median latencies of the architecture's blocks."""
        blocks = architecture_blocks(arch, self.output_size, self.precision)
        return sum(self.block_ms(b) for b in blocks)

    def calibrate(self, raw_ms: float) -> float:
        """``a · raw + b``, never below zero (a negative intercept fitted on large networks
        must not predict a negative latency for a tiny one)."""
        cal = self.calibration
        return max(0.0, cal["a"] * raw_ms + cal["b"]) if cal else raw_ms

    def predict_ms(self, arch: Architecture) -> float:
        """Predicted end-to-end latency of ``arch`` (calibrated when the table is)."""
        if arch.scale != self.data["scale"]:
            raise UserError(f"architecture is x{arch.scale} but {self.path} is for "
                            f"x{self.data['scale']}")
        return self.calibrate(self.raw_ms(arch))

    def reachable_range(self) -> tuple[float, float]:
        """(fastest, slowest) predicted latency over all architectures of the space."""
        space = self.space
        blocks = space_blocks(space, self.output_size, self.precision)
        ms = {b.key: self.block_ms(b) for b in blocks}
        ops = [ms[b.key] for b in blocks if b.kind == "layer" and b.cin == b.cout
               and b.op in space.ops]
        ups = [ms[b.key] for b in blocks if b.kind == "upsampler"]
        fixed = ms[blocks[0].key] + sum(ms[b.key] for b in blocks if b.kind == "skip")
        e = space.edges_per_cell
        # A mixed-path network may keep no edge at all; a single-path one has at least a cell.
        fastest = fixed + min(ups) + (e * min(ops) if space.single_path else 0.0)
        slowest = fixed + max(ups) + space.max_cells * e * max(ops)
        # Sorted: a calibration fitted on noise (tiny test sizes) may have a negative slope.
        lo, hi = sorted((self.calibrate(fastest), self.calibrate(slowest)))
        return lo, hi
