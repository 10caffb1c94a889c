"""Shared helpers of the benchmark scripts: data folders, machine description, table output."""

from __future__ import annotations

import os
from pathlib import Path

from pipeline.data.defaults import bundled
from pipeline.provenance import cpu_name

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO.parent / "shared" / "data"


def data_folder(name: str) -> Path | None:
    """A data set by name: the bundled copy if there is one, else ../shared/data, else None."""
    local = bundled(name)
    if local.is_dir():
        return local
    shared = SHARED_DATA / name
    return shared if shared.is_dir() else None


def machine() -> str:
    return f"{cpu_name()}, {os.cpu_count()} logical CPUs"


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines) + "\n"
