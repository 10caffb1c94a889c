"""tnas-pipeline: hardware-aware trilevel NAS for efficient single-image super-resolution.

The public API (:mod:`tnas_pipeline.api`)::

    import tnas_pipeline as tnas

    table = tnas.profile("cpu")                         # measure this CPU
    result = tnas.search("200ms", iters=600)            # search, fit, fine-tune
    tnas.export(result.run)
    report = tnas.validate(result.run)

The names are loaded on first use (PEP 562), so importing one submodule, or asking for the
version, does not import PyTorch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_PUBLIC = {
    **{name: "tnas_pipeline.api" for name in (
        "profile", "search", "export", "validate", "run", "load_run", "SearchResult",
        "ExportResult", "ValidationResult", "RunResult", "Run")},
    "LatencyTable": "tnas_pipeline.latency.lut",
    "UserError": "tnas_pipeline.errors",
}
__all__ = [  # noqa: RUF022 (the version first, then the API in alphabetical order)
    "__version__",
    "ExportResult",
    "LatencyTable",
    "Run",
    "RunResult",
    "SearchResult",
    "UserError",
    "ValidationResult",
    "export",
    "load_run",
    "profile",
    "run",
    "search",
    "validate",
]

if TYPE_CHECKING:  # what type checkers and IDEs see
    from tnas_pipeline.api import (
        ExportResult,
        Run,
        RunResult,
        SearchResult,
        ValidationResult,
        export,
        load_run,
        profile,
        run,
        search,
        validate,
    )
    from tnas_pipeline.errors import UserError
    from tnas_pipeline.latency.lut import LatencyTable


def __getattr__(name: str) -> Any:
    if name in _PUBLIC:
        value = getattr(importlib.import_module(_PUBLIC[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'tnas_pipeline' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_PUBLIC})
