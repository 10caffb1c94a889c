"""Scoring an upscaler on folders of HR images by the SR protocol (MISSION.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from tnas_pipeline.data.degradation import make_pair
from tnas_pipeline.data.images import list_image_files, load_image
from tnas_pipeline.inference import Upscaler
from tnas_pipeline.metrics import ImageScore, score_image


def set_names(folders: list[Path]) -> list[str]:
    """Names for the folders' results: the folder name, made unique with a suffix if repeated."""
    names: list[str] = []
    for folder in folders:
        base = Path(folder).resolve().name or str(folder)
        name, k = base, 2
        while name in names:
            name, k = f"{base}-{k}", k + 1
        names.append(name)
    return names


def evaluate_folder(upscaler: Upscaler, folder: Path, progress: bool = False) -> dict[str, Any]:
    """Mean PSNR/SSIM (Y) over one folder, plus per-image scores."""
    files = list_image_files(folder)
    scale = upscaler.scale
    scores: list[ImageScore] = []
    for path in tqdm(files, desc=Path(folder).name, disable=not progress, leave=False):
        lr, hr = make_pair(load_image(path).pixels, scale)
        scores.append(score_image(upscaler.upscale(lr), hr, scale, name=path.name))
    return {
        "psnr_y": float(np.mean([s.psnr_y for s in scores])),
        "ssim_y": float(np.mean([s.ssim_y for s in scores])),
        "images": len(scores),
        "per_image": [{"name": s.name, "psnr_y": s.psnr_y, "ssim_y": s.ssim_y} for s in scores],
    }


def evaluate_folders(upscaler: Upscaler, folders: list[Path], progress: bool = False,
                     ) -> dict[str, Any]:
    """Evaluate on every folder; ``sets`` maps each folder name to its scores."""
    # Check every folder before spending time on any of them.
    for folder in folders:
        list_image_files(folder)
    sets = {name: evaluate_folder(upscaler, Path(folder), progress)
            for name, folder in zip(set_names(folders), folders, strict=True)}
    return {"model": upscaler.description, "scale": upscaler.scale, "sets": sets}
