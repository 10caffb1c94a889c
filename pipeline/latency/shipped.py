"""The latency tables shipped in ``hardware_profiles/`` and which one each ``--device`` means.

``cpu`` is the measured 2-core ONNX Runtime table (1 intra-op thread); ``jetson`` the Orin Nano
FP16 roofline estimate (commands that use it say it is an estimate). ``cuda`` has no shipped
table: GPUs differ too much, so it must be profiled (``tnas-pipeline profile --device cuda``).
The directory is found next to the package, as in a source checkout or an editable install.
"""

from __future__ import annotations

from pathlib import Path

from pipeline.errors import UserError
from pipeline.latency.lut import LatencyTable

PROFILES_DIR = Path(__file__).resolve().parents[2] / "hardware_profiles"
SHIPPED = {
    "cpu": "cpu-2core-ort-fp32-x2-1280x720.json",
    "jetson": "jetson-orin-nano-fp16-x2-1280x720.json",
}


def resolve_profile(device: str) -> LatencyTable:
    """``cpu``, ``cuda``, ``jetson`` or a LUT file → the latency table."""
    if device in SHIPPED:
        path = PROFILES_DIR / SHIPPED[device]
        if not path.is_file():
            raise UserError(f"the shipped profile {path} is missing (install from a source "
                            "checkout, or pass --device FILE.json)")
        return LatencyTable.load(path)
    if device == "cuda":
        raise UserError("no latency table is shipped for --device cuda (GPUs differ too much); "
                        "make one with `tnas-pipeline profile --device cuda -o cuda.json` and "
                        "pass --device cuda.json")
    path = Path(device)
    if path.suffix.lower() != ".json" and not path.exists():
        raise UserError(f"--device {device!r} is neither cpu, cuda, jetson nor a latency table "
                        "file (.json)")
    return LatencyTable.load(path)
