"""From what a user asks for to a search configuration and its latency table.

``tnas-pipeline search`` and :func:`tnas_pipeline.nas` both come here: the method is looked up,
the space chosen (``pool`` for search-space evolution, the method's own otherwise, or the one asked
for), the device's table found (this CPU brought up first when it has none, a budget outside what
the space can reach refused before any measuring), and the configuration filled with the bundled
data where none is given.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tnas_pipeline.data.defaults import default_train_folders, default_val_folders
from tnas_pipeline.errors import UserError
from tnas_pipeline.latency.lut import LatencyTable
from tnas_pipeline.nas.budget import table_for_budget
from tnas_pipeline.nas.config import SearchConfig
from tnas_pipeline.nas.methods import SEARCH_METHODS


def plan_search(budget_ms: float, *, target: str = "cpu", scale: int | None = None,
                space: str | None = None, relaxation: str = "sparsestmax",
                evolve_rounds: int = 1, ops: Sequence[str] | None = None,
                data: Sequence[str | Path] = (), val_data: Sequence[str | Path] = (),
                bring_up: str | None = "profile",
                progress: bool = True, **options: Any) -> tuple[SearchConfig, LatencyTable]:
    """The configuration and table of a new search under ``budget_ms`` on ``target`` (``cpu``,
    ``jetson`` or a table file).

    ``options`` are further :class:`SearchConfig` fields (``iters``, ``minutes``, ``seed``, …).
    Raises :class:`UserError` for a combination that cannot run, before anything is measured
    or written."""
    method = SEARCH_METHODS.get(relaxation)
    if space and (evolve_rounds > 1 or method.space != "default"):
        raise UserError(f"--space {space} is a single-path space; drop --space, or "
                        f"{'--evolve-rounds' if evolve_rounds > 1 else '--relaxation'}")
    space_name = "pool" if evolve_rounds > 1 else (space or method.space)
    lut = table_for_budget(target, scale, space_name, budget_ms, bring_up,
                           progress=progress)
    space_scale = int(scale) if scale else int(lut.data["scale"])
    lut.require_compatible(lut.space.with_scale(space_scale))
    if ops:
        lut.space.with_ops(list(ops))  # an op outside the table's space is a one-line error
    cfg = SearchConfig(
        budget_ms=budget_ms, lut=str(lut.path), scale=space_scale, relaxation=relaxation,
        evolve_rounds=evolve_rounds, ops=list(ops) if ops else None,
        train_data=[str(Path(d)) for d in data] or [str(p) for p in default_train_folders()],
        val_data=[str(Path(d)) for d in val_data] or [str(p) for p in default_val_folders()],
        **options)
    return cfg, lut

