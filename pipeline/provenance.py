"""What a run records about where it came from: command line, date, machine, library versions."""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import os
import platform
import sys
from typing import Any

_LIBRARIES = ("tnas-pipeline", "torch", "numpy", "pillow", "onnx", "onnxruntime", "onnxsim",
              "safetensors", "click")


def library_versions() -> dict[str, str | None]:
    """Installed versions of the libraries that shape results (``None`` if absent)."""
    out: dict[str, str | None] = {"python": platform.python_version()}
    for name in _LIBRARIES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    return out


def cpu_name() -> str:
    """The CPU model name where readable, else the platform's processor string."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def provenance(argv: list[str] | None = None) -> dict[str, Any]:
    """A record of the command, date, machine and versions."""
    return {
        "argv": list(sys.argv if argv is None else argv),
        "cwd": os.getcwd(),
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "host": {"platform": platform.platform(), "cpu": cpu_name(), "cpus": os.cpu_count()},
        "versions": library_versions(),
    }
