"""Target devices: which runtime measures each, and what the device says about itself.

``cpu`` is profiled with ONNX Runtime; ``cuda`` with TensorRT where installed, else PyTorch-CUDA
(a named fallback, recorded in the table); ``jetson`` needs TensorRT from JetPack. Provenance
includes the power mode (``nvpmodel -q``) and GPU clocks on a Jetson, where readable, because
unpinned clocks are the most common reason a Jetson table does not predict the device.
"""

from __future__ import annotations

import glob
import hashlib
import importlib.util
import json
import os
import shutil
import subprocess
from typing import Any

from tnas_pipeline.errors import UserError
from tnas_pipeline.provenance import cpu_fingerprint, cpu_name

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


def same_cpu(table_device: dict[str, Any]) -> bool:
    """Whether a CPU table's device is this machine's CPU (fingerprint and CPU count)."""
    return (table_device.get("kind") == "cpu"
            and table_device.get("cpu_fingerprint") == cpu_fingerprint()
            and table_device.get("cpus") == os.cpu_count())


def fingerprint_id(fp: dict[str, Any] | None = None, cpus: int | None = None) -> str:
    """A short stable name of a CPU (its fingerprint and CPU count): the folder its tables are
    cached under."""
    fp = cpu_fingerprint() if fp is None else fp
    cpus = os.cpu_count() if cpus is None else cpus
    canon = json.dumps({"fingerprint": fp, "cpus": cpus}, sort_keys=True)
    return hashlib.sha256(canon.encode()).hexdigest()[:12]


def describe_cpu(table_device: dict[str, Any] | None = None) -> str:
    """``AMD family 25 model 1 (avx/avx2/fma), 2 CPUs``, of a table's CPU or (``None``) this
    one."""
    if table_device is None:
        fp, cpus = cpu_fingerprint(), os.cpu_count()
    else:
        fp, cpus = table_device.get("cpu_fingerprint") or {}, table_device.get("cpus")
    return f"{_describe(fp)}, {cpus} CPUs"


def cpu_mismatch(table_device: dict[str, Any]) -> str | None:
    """Why a CPU latency table does not describe this machine, or ``None`` if it does.

    Virtual CPUs often report only "AMD EPYC"; two such hosts measured 2.5× apart on the same
    networks, so the fingerprint, not the name, decides. A different CPU is never host drift.
    """
    if table_device.get("kind") != "cpu":
        return None
    fix = "use --device cpu, which measures this CPU (about 3 minutes, cached), or profile it"
    if table_device.get("cpu_fingerprint") is None:
        return ("the CPU latency table does not record its CPU's fingerprint, so it cannot be "
                f"told whether it was measured on this CPU; {fix}")
    if not same_cpu(table_device):
        return (f"the CPU latency table was measured on another CPU ({describe_cpu(table_device)}"
                f"; this one: {describe_cpu()}); its predictions do not hold here; {fix}")
    return None


def _describe(fp: dict[str, Any]) -> str:
    return (f"{fp.get('vendor')} family {fp.get('family')} model {fp.get('model')} "
            f"({'/'.join(fp.get('flags') or []) or 'no SIMD flags'})")
