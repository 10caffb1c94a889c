"""Profiling a device into a latency table: the measuring path of ``tnas-pipeline profile`` and
:func:`tnas_pipeline.profile`.

Picks the backend (ONNX Runtime on a CPU; TensorRT, or PyTorch-CUDA when TensorRT is missing, on
a GPU), measures every block of the space (:func:`tnas_pipeline.latency.profiler.profile`), then
whole networks, random ones and those the fit picks at random budgets, for the latency model. A
table goes to ``output`` when given, else to the user's data directory (``platformdirs``), never
into whatever folder the command happens to run in.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import platformdirs

from tnas_pipeline.errors import UserError
from tnas_pipeline.latency.backends import get_backend
from tnas_pipeline.latency.devices import default_runtime
from tnas_pipeline.latency.interleaved import RatioProtocol
from tnas_pipeline.latency.lut import LatencyTable
from tnas_pipeline.latency.profiler import (
    measure_model_networks,
    plan_model_networks,
    require_profile_counts,
)
from tnas_pipeline.latency.profiler import profile as measure_blocks
from tnas_pipeline.nas.fit_samples import fit_outputs
from tnas_pipeline.search_space import SPACES

logger = logging.getLogger(__name__)

#: Where tables a user makes go without ``-o`` (TNAS_PIPELINE_PROFILES overrides it).
PROFILES_ENV = "TNAS_PIPELINE_PROFILES"


def user_profiles_dir() -> Path:
    """The folder for tables made on this machine: the platform's user data directory."""
    env = os.environ.get(PROFILES_ENV)
    return Path(env) if env else Path(platformdirs.user_data_dir("tnas-pipeline")) / "profiles"


def table_name(device: str, runtime: str, precision: str, scale: int,
               size: tuple[int, int], space: str) -> str:
    suffix = "" if space == "default" else f"-{space}"
    return f"{device}-{runtime}-{precision}-x{scale}-{size[0]}x{size[1]}{suffix}.json"


def profile_device(device: str = "cpu", *, runtime: str | None = None, scale: int = 2,
                   space: str = "default", output_size: tuple[int, int] = (1280, 720),
                   precision: str = "fp32", output: str | Path | None = None,
                   resume: bool = False, networks: int = 150, fit_networks: int = 50,
                   runs: int = 3, min_pairs: int = 8, max_pairs: int = 30,
                   threads: int | None = None, seed: int = 0,
                   progress: bool = True) -> LatencyTable:
    """Measure ``device`` into a latency table (module docstring) and return it."""
    if space not in SPACES:
        raise UserError(f"unknown search space {space!r}; known: {', '.join(SPACES)}")
    if runs < 1 or min_pairs < 1 or max_pairs < min_pairs:
        raise UserError("--runs and --min-pairs must be at least 1, and --max-pairs at least "
                        "--min-pairs")
    require_profile_counts(networks, fit_networks, threads)
    chosen = default_runtime(device)  # also refuses an unknown device
    if runtime is None and device == "cuda" and chosen == "torch":
        logger.info("note: TensorRT is not installed; profiling PyTorch-CUDA as the fallback "
            "(recorded in the table)")
    runtime = runtime or chosen
    if runtime == "trt" and device == "cpu":
        raise UserError("TensorRT needs an NVIDIA GPU; profile --device cuda or --device jetson")
    out = Path(output) if output else user_profiles_dir() / table_name(
        device, runtime, precision, scale, output_size, space)
    backend = get_backend(runtime, device="cpu" if device == "cpu" else "cuda",
                          precision=precision, threads=threads, cache_dir=str(out.parent))
    protocol = RatioProtocol(min_pairs=min_pairs, max_pairs=max_pairs, runs=runs)
    table = measure_blocks(backend, device, SPACES[space].with_scale(int(scale)), output_size,
                           out, resume=resume, protocol=protocol, networks=networks, seed=seed,
                           progress=progress)
    planned = [*table.data.get("model_plan", []), *table.data.get("model_samples", [])]
    if fit_networks and not any(p["source"] == "fit" for p in planned):
        plan_model_networks(table, fit_outputs(table, fit_networks, seed=seed + 1), "fit")
        measure_model_networks(table, backend, progress=progress)
    return table
