"""Which latency table a ``--device`` value means: ``cpu`` (this CPU's table, brought up when
there is none and the caller allows it), ``jetson`` (the shipped estimate), ``cuda`` (must be
profiled) or a table file. See :mod:`tnas_pipeline.latency.shipped` for the shipped tables and
:mod:`tnas_pipeline.latency.bringup` for how a CPU without one is measured.
"""

from __future__ import annotations

from pathlib import Path

from tnas_pipeline.errors import UserError
from tnas_pipeline.latency.bringup import table_for_this_cpu
from tnas_pipeline.latency.lut import LatencyTable
from tnas_pipeline.latency.shipped import SHIPPED, shipped_table


def resolve_profile(device: str, scale: int | None = None, space: str = "default",
                    bring_up: str | None = None,
                    progress: bool = True) -> LatencyTable:
    """``cpu``, ``cuda``, ``jetson`` or a LUT file → the latency table.

    For ``cpu``: this CPU's table (module docstring). ``bring_up`` (``profile`` or
    ``transfer``) measures one when there is none yet; without it a foreign shipped table is
    returned as it is, and callers report the mismatch. ``scale`` picks the table made at that
    scale (×2 when not given) and ``space`` the search space (``default``, ``mixed`` or
    ``pool``); a LUT file is returned as it is (the caller checks its scale and space)."""
    if device == "cpu":
        return table_for_this_cpu(scale or 2, space, bring_up=bring_up,
                                  progress=progress)
    if device in SHIPPED:
        return shipped_table(device, scale or 2, space)
    if device == "cuda":
        raise UserError("no latency table is shipped for --device cuda (GPUs differ too much); "
                        "make one with `tnas-pipeline profile --device cuda -o cuda.json` and "
                        "pass --device cuda.json")
    path = Path(device)
    if path.suffix.lower() != ".json" and not path.exists():
        raise UserError(f"--device {device!r} is neither cpu, cuda, jetson nor a latency table "
                        "file (.json)")
    return LatencyTable.load(path)
