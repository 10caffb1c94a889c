"""The latency tables shipped in ``hardware_profiles/`` and which one each ``--device`` means.

``cpu`` is the measured 2-core ONNX Runtime table (1 intra-op thread), at ×2 and ×4 (one table
per scale, since the cells run at the low-resolution size); ``jetson`` the Orin Nano FP16
roofline estimate (commands that use it say it is an estimate). ``cuda`` has no shipped
table: GPUs differ too much, so it must be profiled (``tnas-pipeline profile --device cuda``).
The directory is found next to the package, as in a source checkout or an editable install.
"""

from __future__ import annotations

from pathlib import Path

from pipeline.errors import UserError
from pipeline.latency.lut import LatencyTable

PROFILES_DIR = Path(__file__).resolve().parents[2] / "hardware_profiles"
SHIPPED = {
    "cpu": "cpu-2core-ort-fp32-x{scale}-1280x720{space}.json",
    "jetson": "jetson-orin-nano-fp16-x{scale}-1280x720{space}.json",
}
PROFILE_HINT = {
    "cpu": "tnas-pipeline profile --device cpu --scale {scale}{space_opt} -o {name}",
    "jetson": "tnas-pipeline profile --device jetson --precision fp16 --scale {scale}"
              "{space_opt} -o {name}",
}


def resolve_profile(device: str, scale: int | None = None, space: str = "default"
                    ) -> LatencyTable:
    """``cpu``, ``cuda``, ``jetson`` or a LUT file → the latency table.

    For a shipped device, ``scale`` picks the table made at that scale (×2 when not given) and
    ``space`` the search space (``default``, or ``mixed`` for mixed-path search); a LUT file is
    returned as it is (the caller checks its scale and space against the search)."""
    if device in SHIPPED:
        s = scale or 2
        tag = "" if space == "default" else f"-{space}"
        path = PROFILES_DIR / SHIPPED[device].format(scale=s, space=tag)
        if not path.is_file():
            if (PROFILES_DIR / SHIPPED[device].format(scale=2, space="")).is_file():
                name = f"{device}-x{s}{tag}.json"
                what = f"x{s}" + (f" and the {space} space" if tag else "")
                hint = PROFILE_HINT[device].format(
                    scale=s, space_opt=f" --space {space}" if tag else "", name=name)
                raise UserError(f"no {device} latency table is shipped for {what}; make one "
                                f"with `{hint}` and pass --device {name}")
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
