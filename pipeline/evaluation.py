"""Scoring an upscaler on folders of HR images by the SR protocol (docs/how-it-works.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from tnas_pipeline.data.degradation import make_pair
from tnas_pipeline.data.images import list_image_files, load_image
from tnas_pipeline.errors import UserError
from tnas_pipeline.inference import Upscaler
from tnas_pipeline.logs import progress_bar
from tnas_pipeline.metrics import ImageScore, score_image
from tnas_pipeline.metrics.scoring import too_small_message


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


def _require_scorable(path: Path, scale: int) -> None:
    """Refuse an image too small for SSIM's window at ``scale``, from its header alone (one
    that cannot be opened is reported when it is decoded)."""
    try:
        with Image.open(path) as im:
            width, height = im.size
    except (OSError, ValueError, SyntaxError):
        return
    small = too_small_message(str(path), width, height, scale)
    if small:
        raise UserError(small)


def evaluate_folder(upscaler: Upscaler, folder: Path, progress: bool = False) -> dict[str, Any]:
    """Mean PSNR/SSIM (Y) over one folder, plus per-image scores."""
    files = list_image_files(folder)
    scale = upscaler.scale
    scores: list[ImageScore] = []
    for path in progress_bar(files, enabled=progress, desc=Path(folder).name, leave=False):
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
    # Check every folder, and that every image is large enough to score, before spending time
    # on any of them.
    for folder in folders:
        for path in list_image_files(folder):
            _require_scorable(path, upscaler.scale)
    sets = {name: evaluate_folder(upscaler, Path(folder), progress)
            for name, folder in zip(set_names(folders), folders, strict=True)}
    return {"model": upscaler.description, "scale": upscaler.scale, "sets": sets}
