"""Shared helpers of the benchmark scripts: data folders, machine description, table output."""

from __future__ import annotations

import os
from pathlib import Path

from tnas_pipeline.data.defaults import bundled
from tnas_pipeline.provenance import cpu_name

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


def cpu_line() -> str:
    """The CPU and its fingerprint, as every latency figure of a benchmark records it."""
    from tnas_pipeline.latency.devices import describe_cpu, fingerprint_id

    return f"{cpu_name()} ({describe_cpu()}; fingerprint {fingerprint_id()})"


def load_state(path: Path) -> dict:
    """A benchmark's saved progress (empty when it has not started)."""
    import json

    return json.loads(path.read_text()) if path.is_file() else {}


def save_state(path: Path, state: dict) -> None:
    from tnas_pipeline.io_utils import write_json_atomic

    write_json_atomic(path, state)
