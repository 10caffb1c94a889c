"""A tiny run directory with seeded random weights, and its exports (shared per module)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from tnas_pipeline.networks import Architecture, Cell, Layer, Upsampler, build_network
from tnas_pipeline.run_dir import RunDir


def small_arch(global_skip: str = "none") -> Architecture:
    """A ×2 network quick to run at 640×360: no bicubic Resize, whose ONNX Runtime kernel is
    slow on one thread."""
    return Architecture(name="tiny", scale=2, head=Layer("conv3x3", 8, "relu"),
                        cells=(Cell((Layer("resblock3x3", 8, "relu", width=8),), residual=True),),
                        upsampler=Upsampler("pixel_shuffle", 3), global_skip=global_skip)


def make_run(path: Path, arch: Architecture | None = None, seed: int = 0) -> Path:
    """A run directory with ``arch`` and seeded random weights (what export needs)."""
    arch = arch or small_arch()
    run = RunDir(path)
    run.path.mkdir(parents=True, exist_ok=True)
    arch.save(run.arch)
    torch.manual_seed(seed)
    run.save_weights(build_network(arch))
    return path


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> Path:
    """A tiny run exported in FP32 and FP16 (ONNX) with the library call."""
    from tnas_pipeline.deploy.exporter import ExportRequest, export_run

    run = make_run(tmp_path_factory.mktemp("exported") / "run")
    for precision in ("fp32", "fp16"):
        export_run(ExportRequest(run=run, precision=precision), progress=False)
    return run
