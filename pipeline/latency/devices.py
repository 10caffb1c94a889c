"""Target devices: which runtime measures each, and what the device says about itself.

``cpu`` is profiled with ONNX Runtime; ``cuda`` with TensorRT where installed, else PyTorch-CUDA
(a named fallback, recorded in the table); ``jetson`` needs TensorRT from JetPack. Provenance
includes the power mode (``nvpmodel -q``) and GPU clocks on a Jetson, where readable, because
unpinned clocks are the most common reason a Jetson table does not predict the device.
"""

from __future__ import annotations

import glob
import importlib.util
import os
import shutil
import subprocess
from typing import Any

from pipeline.errors import UserError
from pipeline.provenance import cpu_fingerprint, cpu_name

DEVICES = ("cpu", "cuda", "jetson")


def default_runtime(device: str) -> str:
    """The deployment runtime of ``device`` (see the module docstring)."""
    if device not in DEVICES:
        raise UserError(f"unknown device {device!r}; known: {', '.join(DEVICES)}")
    if device == "cpu":
        return "ort"
    if device == "jetson" or importlib.util.find_spec("tensorrt") is not None:
        return "trt"
    return "torch"


def _read(path: str) -> str | None:
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return None


def _jetson_info() -> dict[str, Any]:
    info: dict[str, Any] = {"l4t_release": _read("/etc/nv_tegra_release")}
    if shutil.which("nvpmodel"):
        try:
            out = subprocess.run(["nvpmodel", "-q"], capture_output=True, text=True, timeout=10)
            info["nvpmodel"] = out.stdout.strip() or None
        except (OSError, subprocess.SubprocessError):
            info["nvpmodel"] = None
    clocks = {}
    for path in glob.glob("/sys/devices/platform/*gpu*/devfreq/*/cur_freq") + glob.glob(
            "/sys/devices/*gpu*/devfreq/*/cur_freq"):
        clocks[path] = _read(path)
    info["gpu_clocks_hz"] = clocks or None
    return info


def device_info(device: str) -> dict[str, Any]:
    """Name and state of the device being profiled, as far as this machine can read it."""
    info: dict[str, Any] = {"kind": device, "cpu": cpu_name(), "cpus": os.cpu_count(),
                            "cpu_fingerprint": cpu_fingerprint()}
    if device == "cpu":
        info["name"] = info["cpu"]
        return info
    try:
        import torch

        if torch.cuda.is_available():
            props = torch.cuda.get_device_properties(0)
            info.update(name=props.name, compute_capability=f"{props.major}.{props.minor}",
                        gpu_memory_gb=round(props.total_memory / 2**30, 1))
    except Exception:  # provenance is best effort; the backend reports a missing GPU itself
        pass
    if device == "jetson":
        info.update(_jetson_info())
    info.setdefault("name", device)
    return info


def cpu_mismatch(table_device: dict[str, Any]) -> str | None:
    """Why a CPU latency table may not predict this machine, or ``None`` if it should.

    Virtual CPUs often report only "AMD EPYC"; two such hosts measured 2.3× apart on the same
    networks (README, "What was run where"), so the fingerprint, not the name, decides.
    """
    if table_device.get("kind") != "cpu":
        return None
    fix = "profile this machine with `tnas-pipeline profile --device cpu --threads 1`"
    theirs = table_device.get("cpu_fingerprint")
    if theirs is None:
        return ("the CPU latency table does not record its CPU's fingerprint, so it cannot be "
                f"told whether it was measured on this CPU; {fix}")
    ours = cpu_fingerprint()
    if ours != theirs or table_device.get("cpus") != os.cpu_count():
        return (f"the CPU latency table was measured on another CPU ({_describe(theirs)}, "
                f"{table_device.get('cpus')} CPUs; this one: {_describe(ours)}, "
                f"{os.cpu_count()} CPUs); its predictions may not hold here; {fix}")
    return None


def _describe(fp: dict[str, Any]) -> str:
    return (f"{fp.get('vendor')} family {fp.get('family')} model {fp.get('model')}, "
            f"{'/'.join(fp.get('flags') or []) or 'no SIMD flags'}")
