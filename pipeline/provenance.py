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


# Instruction-set extensions that change which convolution kernels ONNX Runtime and PyTorch run
# (and so latency by 2× or more on "the same" virtual CPU).
_KERNEL_FLAGS = ("avx", "avx2", "fma", "avx512f", "avx512bw", "avx512_vnni", "avx512_bf16",
                 "avx_vnni", "amx_tile", "amx_bf16", "asimd", "sve")


def cpu_fingerprint() -> dict[str, Any]:
    """What identifies a CPU's speed class beyond its (often generic, virtualised) name: vendor,
    family, model and stepping, and the kernel-relevant instruction-set flags."""
    fields: dict[str, str] = {}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if not line.strip():
                    break  # the first processor is enough
                key, _, value = line.partition(":")
                fields[key.strip()] = value.strip()
    except OSError:
        pass
    flags = set(fields.get("flags", fields.get("Features", "")).split())
    return {"vendor": fields.get("vendor_id", platform.machine()),
            "family": fields.get("cpu family"), "model": fields.get("model"),
            "stepping": fields.get("stepping"),
            "flags": [f for f in _KERNEL_FLAGS if f in flags]}


def provenance(argv: list[str] | None = None) -> dict[str, Any]:
    """A record of the command, date, machine and versions."""
    return {
        "argv": list(sys.argv if argv is None else argv),
        "cwd": os.getcwd(),
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "host": {"platform": platform.platform(), "cpu": cpu_name(), "cpus": os.cpu_count(),
                 "cpu_fingerprint": cpu_fingerprint()},
        "versions": library_versions(),
    }
