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
from pipeline.provenance import cpu_name

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
    info: dict[str, Any] = {"kind": device, "cpu": cpu_name(), "cpus": os.cpu_count()}
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
