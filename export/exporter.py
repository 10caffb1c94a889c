"""``tnas-pipeline export``: a run directory to ONNX (and TensorRT engines), checked before saved.

The steps, each reported as it starts:

1. with ``--format trt``, TensorRT and a GPU are required first, so nothing is done in vain;
2. the run's network (re-parameterised) is exported twice to ONNX, dynamic and static at the
   deployment resolution, each through ``onnx.checker`` and onnxsim, and stamped with the run's
   hashes (:mod:`tnas_pipeline.deploy.artifacts`);
3. parity: ONNX Runtime against PyTorch on real images (``--parity-data``, the bundled Set5 by
   default) and the static variant on one input at its shape; any NaN or Inf is an error;
4. with ``--format trt``, :mod:`tnas_pipeline.deploy.engine_export` builds and checks the engines;
5. only then is anything written: the files, then ``export-<precision>.json`` (what each file is,
   its hash and shapes, the parity figures).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tnas_pipeline.data.defaults import default_val_folders
from tnas_pipeline.deploy.comparator import Comparator
from tnas_pipeline.deploy.image_parity import image_parity
from tnas_pipeline.deploy.onnx_export import (
    OnnxFromTorch,
    opset_of,
    save_onnx,
    simplify_onnx,
    stamp,
)
from tnas_pipeline.deploy.tolerances import parity_checks
from tnas_pipeline.errors import UserError
from tnas_pipeline.io_utils import file_sha256, write_json_atomic
from tnas_pipeline.networks.complexity import lr_size
from tnas_pipeline.provenance import provenance
from tnas_pipeline.run_dir import RunDir, run_identity
from tnas_pipeline.run_lock import claim_run
from tnas_pipeline.runtime.runners import OnnxrtRunner, TorchRunner

logger = logging.getLogger(__name__)

FORMATS = ("onnx", "trt")
DEFAULT_OUTPUT_SIZE = (1280, 720)
MANIFEST_FORMAT = "tnas-pipeline/export"


@dataclass(frozen=True)
class ExportRequest:
    """What ``export`` was asked for; ``None`` means the default."""

    run: Path
    fmt: str = "onnx"
    precision: str = "fp32"
    output_size: tuple[int, int] | None = None  # None: the run's latency table's, else 1280×720
    out_dir: Path | None = None
    parity_data: list[Path] = field(default_factory=list)
    workspace_mb: int = 1024
    timing_cache: Path | None = None


def run_output_size(run: RunDir) -> tuple[int, int]:
    """The output resolution the run's latency table predicts (what its budget is for), or
    1280×720 for a run without one."""
    table = run.path / "search" / "lut.json"
    if table.is_file():
        try:
            w, h = run.read_json(table)["output_size"]
            return int(w), int(h)
        except (KeyError, TypeError, ValueError, UserError):
            pass
    return DEFAULT_OUTPUT_SIZE


def manifest_path(out_dir: Path, precision: str) -> Path:
    return out_dir / f"export-{precision}.json"


def _nonfinite_error(what: str, bad: int, total: int, precision: str) -> UserError:
    fix = ("activations exceed the FP16 range (±65504); export with --precision fp32"
           if precision == "fp16" else "the network's weights are broken; retrain the run")
    return UserError(f"{what} has NaN or Inf in its output on {bad} of {total} parity images: "
                     f"{fix}; nothing was written")


def _check_finite(parity: dict[str, Any], runner: str, what: str, precision: str) -> None:
    bad = sum(s[runner]["nonfinite_images"] for s in parity["sets"].values())
    total = sum(s[runner]["images"] for s in parity["sets"].values())
    if bad:
        raise _nonfinite_error(what, bad, total, precision)


def export_run(req: ExportRequest, argv: list[str] | None = None,
               progress: bool = True) -> dict[str, Any]:
    """Export ``req.run``; returns the manifest it wrote (see the module docstring)."""
    if req.fmt not in FORMATS:
        raise UserError(f"unknown --format {req.fmt!r}; use onnx or trt")
    trt_context = None
    if req.fmt == "trt":
        from tnas_pipeline.deploy.engine_export import trt_context_here

        trt_context = trt_context_here()  # TensorRT, a CUDA binding and a GPU, or a UserError
    run = RunDir(req.run)
    identity = run_identity(run)

    # One writer at a time: export writes into the run directory, and a train or search
    # writing it too would leave an artifact of weights that are not the run's.
    with claim_run(run.path, "export", resume=True):
        arch, model = run.load_model()
        out_dir = Path(req.out_dir) if req.out_dir else run.path / "export"
        if out_dir.exists() and not out_dir.is_dir():
            raise UserError(f"{out_dir} is a file; pass -o with a folder")
        size = req.output_size or run_output_size(run)
        lw, lh = lr_size(size, arch.scale)
        w, h = size
        stem = f"model-{req.precision}"
        meta = {"scale": str(arch.scale), "precision": req.precision, **identity}

        logger.info(f"exporting {run.path} ({arch.name}, x{arch.scale}) to ONNX, {req.precision}")
        dynamic = stamp(simplify_onnx(OnnxFromTorch(model, None, req.precision, arch.colors)()),
                        {**meta, "tnas.variant": "dynamic"})
        static = stamp(simplify_onnx(OnnxFromTorch(model, (lh, lw), req.precision, arch.colors)()),
                       {**meta, "tnas.variant": f"static {w}x{h}"})
        dynamic_bytes, static_bytes = dynamic.SerializeToString(), static.SerializeToString()

        folders = [Path(p) for p in req.parity_data] or default_val_folders()
        logger.info(f"parity: ONNX Runtime against PyTorch on {', '.join(f.name for f in folders)}")
        reference = TorchRunner(model, "cpu", "fp32", name="pytorch")
        ort = OnnxrtRunner(dynamic_bytes, name="onnxruntime")
        with reference, ort:
            parity = image_parity([reference, ort], "pytorch", folders, arch.scale,
                                  progress=progress)
        _check_finite(parity, "onnxruntime", f"the {req.precision} ONNX model", req.precision)
        feed = {"input": np.random.default_rng(0).random((1, arch.colors, lh, lw), np.float32)}
        runners = [TorchRunner(model, name="pytorch"), OnnxrtRunner(static_bytes, name="static")]
        static_diff = Comparator.compare(Comparator.run(runners, [feed]),
                                         "pytorch")["static"]["output"]
        if static_diff.nonfinite:
            raise _nonfinite_error(f"the static {w}x{h} ONNX model", 1, 1, req.precision)
        checks = parity_checks(parity["sets"], "onnxruntime", "onnxruntime", req.precision)

        engines: list[dict[str, Any]] = []
        if trt_context is not None:
            from tnas_pipeline.deploy.engine_export import build_engines

            engines = build_engines(trt_context, model, arch.scale, arch.colors, dynamic_bytes,
                                    static_bytes, (lh, lw), stem, f"{w}x{h}", req, identity,
                                    folders, progress)

        # Everything checked: write.
        files = [(out_dir / f"{stem}.onnx", dynamic, "dynamic", ["batch", arch.colors, "height",
                                                                  "width"]),
                 (out_dir / f"{stem}-{w}x{h}.onnx", static, "static", [1, arch.colors, lh, lw])]
        artifacts = []
        for path, proto, variant, shape in files:
            save_onnx(proto, path)
            artifacts.append({"file": path.name, "kind": "onnx", "variant": variant,
                              "precision": req.precision, "input_shape": shape,
                              "opset": opset_of(proto), "sha256": file_sha256(path),
                              "bytes": path.stat().st_size})
        for eng in engines:
            eng["save"]()
            artifacts.append(eng["record"])
        manifest = {
            "format": MANIFEST_FORMAT, "version": 1, "run": str(run.path.resolve()),
            "arch": arch.name, "scale": arch.scale, "precision": req.precision,
            "output_size": [w, h], "input_size": [lw, lh], **identity,
            "artifacts": artifacts,
            "parity": {"data": [str(f) for f in folders], "onnxruntime": parity["sets"],
                       "static_onnx": static_diff.to_dict(), "checks": checks,
                       **({"tensorrt": engines[0]["parity"]} if engines else {})},
            "provenance": provenance(argv),
        }
        write_json_atomic(manifest_path(out_dir, req.precision), manifest)
        return manifest
