"""The latency tables shipped in ``hardware_profiles/`` and which one each ``--device`` means.

``cpu`` means *this* CPU: the shipped 2-core ONNX Runtime table (1 intra-op thread) of a scale
and search space when it was measured on a CPU with this one's fingerprint, else this CPU's
table in the user's cache, else, where the caller allows it, a table brought up here now
(:mod:`tnas_pipeline.latency.bringup`). ``jetson`` is the Orin Nano FP16 roofline estimate (commands
that use it say it is an estimate). ``cuda`` has no shipped table: GPUs differ too much, so it
must be profiled (``tnas-pipeline profile --device cuda``). The tables are package data of
``tnas_pipeline.hardware_profiles`` (the ``hardware_profiles/`` folder of a checkout), read with
:mod:`importlib.resources` so that a wheel finds them too; ``TNAS_PIPELINE_SHIPPED_PROFILES`` points
the CPU tables elsewhere, which the tests and the main-job benchmark use to make the shipped
tables another CPU's.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

from tnas_pipeline.errors import UserError
from tnas_pipeline.latency.lut import LatencyTable

SHIPPED_ENV = "TNAS_PIPELINE_SHIPPED_PROFILES"
SHIPPED = {
    "cpu": "cpu-2core-ort-fp32-x{scale}-1280x720{space}.json",
    "jetson": "jetson-orin-nano-fp16-x{scale}-1280x720{space}.json",
}
PROFILE_HINT = {
    "cpu": "tnas-pipeline profile --device cpu --scale {scale}{space_opt} -o {name}",
    "jetson": "tnas-pipeline profile --device jetson --precision fp16 --scale {scale}"
              "{space_opt} -o {name}",
}


def profiles_dir(device: str = "cpu") -> Path:
    """Where the shipped tables are (``TNAS_PIPELINE_SHIPPED_PROFILES`` overrides it for the CPU
    tables)."""
    env = os.environ.get(SHIPPED_ENV)
    if env and device == "cpu":
        return Path(env)
    # An installed package (wheel or editable) is a folder on disk, so the Traversable is a path.
    return Path(str(resources.files("tnas_pipeline.hardware_profiles")))


def shipped_path(device: str, scale: int = 2, space: str = "default") -> Path:
    tag = "" if space == "default" else f"-{space}"
    return profiles_dir(device) / SHIPPED[device].format(scale=scale, space=tag)


def shipped_table(device: str, scale: int = 2, space: str = "default") -> LatencyTable:
    """The shipped table of ``device`` at ``scale`` for ``space``, or a one-line error that
    names the command that makes one."""
    path = shipped_path(device, scale, space)
    if not path.is_file():
        tag = "" if space == "default" else f"-{space}"
        if shipped_path(device).is_file():
            name = f"{device}-x{scale}{tag}.json"
            what = f"x{scale}" + (f" and the {space} space" if tag else "")
            hint = PROFILE_HINT[device].format(
                scale=scale, space_opt=f" --space {space}" if tag else "", name=name)
            raise UserError(f"no {device} latency table is shipped for {what}; make one "
                            f"with `{hint}` and pass --device {name}")
        raise UserError(f"the shipped profile {path} is missing (reinstall tnas-pipeline, or "
                        "pass --device FILE.json)")
    return LatencyTable.load(path)
