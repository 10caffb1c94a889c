"""TensorRT engines for ``export --format trt``: built from the exported ONNX, checked, recorded.

Two engines per export, because tactics are tuned at the profile's ``opt`` shape (TensorRT Python
API reference, ``IOptimizationProfile``: the builder picks the fastest kernels for the optimum
dimensions that are valid over the whole min–max range):

* ``<stem>-<W>x<H>.engine``: min = opt = max at the deployment resolution, for latency;
* ``<stem>-dynamic.engine``: a dynamic profile from 8×8 to one tile with its overlap
  (:mod:`tnas_pipeline.tiling`), for validating real images of any size tile by tile.

Both are strongly typed (precision from the ONNX types; :mod:`tnas_pipeline.runtime.trt.engine`),
share a timing cache kept per GPU model and TensorRT version (``~/.cache/tnas-pipeline/trt`` unless
``--timing-cache``), and are compared with PyTorch before anything is written. Each gets a
manifest (:func:`tnas_pipeline.runtime.trt.engine.engine_manifest` plus the run's hashes).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from torch import nn

from tnas_pipeline.deploy.artifacts import engine_manifest_path, save_engine
from tnas_pipeline.deploy.comparator import Comparator
from tnas_pipeline.deploy.image_parity import image_parity
from tnas_pipeline.deploy.tolerances import parity_checks
from tnas_pipeline.errors import UserError
from tnas_pipeline.runtime.runners import TorchRunner
from tnas_pipeline.runtime.trt.availability import require_tensorrt
from tnas_pipeline.runtime.trt.cuda import gpu_info
from tnas_pipeline.runtime.trt.engine import build_engine, engine_manifest, timing_cache_name
from tnas_pipeline.runtime.trt.runner import TrtRunner
from tnas_pipeline.tiling import DEFAULT_OVERLAP, DEFAULT_TILE

logger = logging.getLogger(__name__)

DYNAMIC_MIN_SIDE = 8


@dataclass(frozen=True)
class TrtContext:
    """This machine's TensorRT and GPU, checked once before any work."""

    version: str
    gpu: dict[str, str]

    def here(self) -> dict[str, str]:
        return {"tensorrt": self.version, **self.gpu}


def trt_context_here() -> TrtContext:
    """TensorRT, a CUDA binding and a GPU, or a :class:`UserError` saying how to get them."""
    trt = require_tensorrt()
    return TrtContext(version=str(trt.__version__), gpu=gpu_info())


def default_timing_cache(ctx: TrtContext) -> Path:
    """One timing cache per GPU model and TensorRT version, where caches belong
    (``$XDG_CACHE_HOME``, else ``~/.cache``)."""
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "tnas-pipeline" / "trt" / timing_cache_name(ctx.gpu.get("gpu", "gpu"),
                                                              ctx.version)


def dynamic_profile(colors: int) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
    """(min, opt, max) input shapes of the validation engine: up to one tile with its overlap."""
    side = DEFAULT_TILE + 2 * DEFAULT_OVERLAP
    lo = (1, colors, DYNAMIC_MIN_SIDE, DYNAMIC_MIN_SIDE)
    return lo, (1, colors, DEFAULT_TILE, DEFAULT_TILE), (1, colors, side, side)


def build_engines(ctx: TrtContext, model: nn.Module, scale: int, colors: int,
                  dynamic_onnx: bytes,
                  static_onnx: bytes, lr_hw: tuple[int, int], stem: str, size_tag: str,
                  req: Any, identity: dict[str, str], folders: list[Path], progress: bool
                  ) -> list[dict[str, Any]]:
    """Build, check and describe both engines; nothing is written until ``save()`` is called.

    Returns one dict per engine: ``record`` (for the export manifest), ``save`` (writes the
    engine and its manifest) and ``parity`` (the dynamic engine against PyTorch).

    Raises:
        UserError: a build fails, or an engine's output has NaN or Inf.
    """
    out_dir = Path(req.out_dir) if req.out_dir else Path(req.run) / "export"
    cache = Path(req.timing_cache) if req.timing_cache else default_timing_cache(ctx)
    cache.parent.mkdir(parents=True, exist_ok=True)
    workspace = int(req.workspace_mb) << 20
    lh, lw = lr_hw
    static_shape = (1, colors, lh, lw)
    specs = [("static", static_onnx, {"input": (static_shape,) * 3}, f"{stem}-{size_tag}.engine"),
             ("dynamic", dynamic_onnx, {"input": dynamic_profile(colors)},
              f"{stem}-dynamic.engine")]
    plans = {}
    for variant, onnx_bytes, shapes, _ in specs:
        logger.info(f"building the {variant} TensorRT {ctx.version} engine on {ctx.gpu['gpu']} "
            f"(timing cache {cache})")
        plans[variant] = build_engine(onnx_bytes, shapes, workspace, cache)

    logger.info(f"parity: TensorRT against PyTorch on {', '.join(f.name for f in folders)}")
    reference = TorchRunner(model, "cpu", "fp32", name="pytorch")
    engine = TrtRunner(plans["dynamic"], name="tensorrt")
    with reference, engine:
        parity = image_parity([reference, engine], "pytorch", folders,
                              scale,
                              progress=progress)
    bad = sum(s["tensorrt"]["nonfinite_images"] for s in parity["sets"].values())
    if bad:
        raise UserError(f"the {req.precision} TensorRT engine has NaN or Inf in its output on "
                        f"{bad} parity images (FP16 overflow, a known failure of SR networks): "
                        "export with --precision fp32; nothing was written")
    feed = {"input": np.random.default_rng(0).random(static_shape, np.float32)}
    static_diff = Comparator.compare(Comparator.run(
        [TorchRunner(model, name="pytorch"), TrtRunner(plans["static"], name="static")], [feed]),
        "pytorch")["static"]["output"]
    if static_diff.nonfinite:
        raise UserError(f"the static {size_tag} TensorRT engine has NaN or Inf in its output; "
                        "export with --precision fp32; nothing was written")
    checks = parity_checks(parity["sets"], "tensorrt", "tensorrt", req.precision)

    results = []
    for variant, onnx_bytes, shapes, filename in specs:
        plan = plans[variant]
        manifest = {**engine_manifest(onnx_bytes, plan, shapes, req.precision), **identity,
                    "variant": variant, "onnx_file": f"{stem}.onnx" if variant == "dynamic"
                    else f"{stem}-{size_tag}.onnx", "tile": DEFAULT_TILE,
                    "overlap": DEFAULT_OVERLAP}
        path = out_dir / filename
        results.append({
            "record": {"file": filename, "kind": "engine", "variant": variant,
                       "precision": req.precision, "manifest": engine_manifest_path(path).name,
                       "tensorrt": ctx.version, "gpu": ctx.gpu["gpu"],
                       "sha256": manifest["engine_sha256"], "bytes": len(plan)},
            "save": (lambda p=path, b=plan, m=manifest: save_engine(p, b, m)),
            "parity": {"sets": parity["sets"], "static": static_diff.to_dict(),
                       "checks": checks}})
    return results

