"""How close an exported artifact must stay to its PyTorch model, per runtime and precision.

* PSNR difference on the benchmark sets: 0.01 dB in FP32 and 0.05 dB in FP16 (the export issue's
  targets).
* Largest absolute difference of the raw outputs (images in [0, 1]): 1e-5 for ONNX Runtime in
  FP32, which reorders float sums but computes in FP32 (≤ 2e-7 measured in this project); 1e-2 for
  TensorRT in FP32, because TensorRT 10 allows TF32 tensor-core math in FP32 networks by default
  (10 mantissa bits); none in FP16, where the PSNR difference is the meaningful measure.
* Any NaN or Inf fails, whatever the precision (FP16 overflow, activations beyond FP16's largest
  value 65504, is a known failure of SR networks).
"""

from __future__ import annotations

from typing import Any

PSNR_DELTA_DB = {"fp32": 0.01, "fp16": 0.05}
MAX_ABS_DIFF = {("onnxruntime", "fp32"): 1e-5, ("tensorrt", "fp32"): 1e-2}


def parity_checks(sets: dict[str, dict[str, Any]], runner: str, runtime: str,
                  precision: str) -> list[dict[str, Any]]:
    """Checks of ``runner``'s scores in an :func:`tnas_pipeline.deploy.image_parity.image_parity`
    result.

    Each check is ``{"name", "ok", "value", "limit", "detail"}``.
    """
    checks = []
    nonfinite = sum(s[runner]["nonfinite_images"] for s in sets.values())
    images = sum(s[runner]["images"] for s in sets.values())
    checks.append({"name": "finite_outputs", "ok": nonfinite == 0, "value": nonfinite, "limit": 0,
                   "detail": f"{nonfinite} of {images} images with NaN or Inf in the output"})
    worst = max((abs(s[runner]["psnr_delta_db"]) for s in sets.values()), default=0.0)
    limit = PSNR_DELTA_DB[precision]
    checks.append({"name": "psnr_delta_db", "ok": nonfinite == 0 and worst <= limit,
                   "value": worst, "limit": limit,
                   "detail": f"largest absolute PSNR difference from PyTorch over the sets: "
                             f"{worst:.4f} dB (limit {limit} dB)"})
    max_limit = MAX_ABS_DIFF.get((runtime, precision))
    if max_limit is not None:
        diffs = [s[runner]["max_abs_diff"] for s in sets.values()]
        worst_abs = None if any(d is None for d in diffs) else max(diffs, default=0.0)
        checks.append({"name": "max_abs_diff",
                       "ok": worst_abs is not None and worst_abs <= max_limit,
                       "value": worst_abs, "limit": max_limit,
                       "detail": f"largest absolute output difference from PyTorch: "
                                 f"{'inf' if worst_abs is None else f'{worst_abs:.2e}'} "
                                 f"(limit {max_limit:g})"})
    return checks
