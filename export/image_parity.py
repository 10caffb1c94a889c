"""An artifact against its PyTorch model on real images: PSNR/SSIM by the SR protocol, and the
raw difference of the outputs.

Every runner sees the same LR images (mod-crop, antialiased bicubic:
:mod:`tnas_pipeline.data.degradation`; docs/how-it-works.md, "Data and the metric protocol"), cut
into the same tiles (:func:`tnas_pipeline.tiling.tiled_apply`, so a TensorRT profile with a bounded
input size also takes large images), and each output is scored on Y after clamping and rounding. The
difference from the reference is taken on the raw network output in [0, 1] before rounding,
where ``max_abs_diff`` is the strictest measure of an export's fidelity.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tnas_pipeline.data.degradation import make_pair
from tnas_pipeline.data.images import as_rgb, list_image_files, load_image
from tnas_pipeline.deploy.comparator import output_diff
from tnas_pipeline.evaluation import set_names
from tnas_pipeline.logs import progress_bar
from tnas_pipeline.metrics import score_image
from tnas_pipeline.runtime.runners.base import Runner
from tnas_pipeline.tiling import DEFAULT_OVERLAP, DEFAULT_TILE, tiled_apply


def _forward(runner: Runner, x: np.ndarray, scale: int, tile: int, overlap: int) -> np.ndarray:
    inp, out = runner.input_names[0], runner.output_names[0]
    return tiled_apply(lambda t: np.asarray(runner.infer({inp: t})[out], dtype=np.float32),
                       x, scale, tile, overlap)


def image_parity(runners: Sequence[Runner], reference: str, folders: Sequence[Path], scale: int,
                 tile: int = DEFAULT_TILE, overlap: int = DEFAULT_OVERLAP,
                 progress: bool = False) -> dict[str, Any]:
    """Score every (active) runner on every folder and compare it with ``reference``.

    Returns ``{"sets": {set: {runner: scores}}}`` where a runner's scores are ``psnr_y``,
    ``ssim_y`` and ``images``, and for the others also ``psnr_delta_db`` (its mean PSNR minus the
    reference's), ``max_abs_diff``, ``mean_abs_diff`` and ``nonfinite_images``.
    """
    by_name = {r.name: r for r in runners}
    if reference not in by_name:
        raise ValueError(f"reference {reference!r} is not among the runners {list(by_name)}")
    files = {name: list_image_files(folder)  # every folder checked before any work
             for name, folder in zip(set_names(list(folders)), folders, strict=True)}
    result: dict[str, Any] = {"reference": reference, "sets": {}}
    for set_name, paths in files.items():
        psnr = {n: [] for n in by_name}
        ssim = {n: [] for n in by_name}
        outs: dict[str, list[np.ndarray]] = {n: [] for n in by_name}
        for path in progress_bar(paths, enabled=progress, desc=f"parity {set_name}",
                                 leave=False):
            lr, hr = make_pair(load_image(path).pixels, scale)
            gray = lr.ndim == 2
            x = as_rgb(lr).astype(np.float32).transpose(2, 0, 1)[None] / 255.0
            for name, runner in by_name.items():
                y = _forward(runner, x, scale, tile, overlap)
                outs[name].append(y)
                # A non-finite output cannot be scored; it is counted and reported instead.
                sr = np.nan_to_num(y[0].transpose(1, 2, 0), nan=0.0, posinf=1.0, neginf=0.0)
                sr = sr * 255.0
                s = score_image(sr.mean(axis=2) if gray else sr, hr, scale, name=path.name)
                psnr[name].append(s.psnr_y)
                ssim[name].append(s.ssim_y)
        ref_psnr = float(np.mean(psnr[reference]))
        entry: dict[str, Any] = {}
        for name in by_name:
            scores: dict[str, Any] = {"psnr_y": float(np.mean(psnr[name])),
                                      "ssim_y": float(np.mean(ssim[name])), "images": len(paths)}
            if name != reference:
                d = output_diff(outs[name], outs[reference])
                scores.update(
                    psnr_delta_db=scores["psnr_y"] - ref_psnr,
                    max_abs_diff=None if math.isinf(d.max_abs_diff) else d.max_abs_diff,
                    mean_abs_diff=d.mean_abs_diff,
                    nonfinite_images=sum(int(not np.isfinite(o).all()) for o in outs[name]))
            entry[name] = scores
        result["sets"][set_name] = entry
    return result
