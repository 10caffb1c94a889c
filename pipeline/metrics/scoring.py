"""Scoring one SR output against its HR image by the SR metric protocol (docs/how-it-works.md).

Clamp to [0, 255] and round to uint8; BT.601 Y in float (raw values for grayscale); shave
``scale`` pixels from every border; PSNR and SSIM per image. Set means are plain means over images.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tnas_pipeline.errors import UserError
from tnas_pipeline.metrics.color import to_y
from tnas_pipeline.metrics.psnr import psnr
from tnas_pipeline.metrics.ssim import WINDOW, ssim


@dataclass(frozen=True)
class ImageScore:
    """PSNR (dB) and SSIM of one image on the Y channel."""

    name: str
    psnr_y: float
    ssim_y: float


def quantize(sr: np.ndarray) -> np.ndarray:
    """Clamp to [0, 255] and round half to even to uint8, as the protocol scores outputs."""
    return np.clip(np.rint(np.asarray(sr, dtype=np.float64)), 0, 255).astype(np.uint8)


def min_scored_side(scale: int) -> int:
    """The smallest HR side that can be scored at ``scale``: after the mod-crop and the
    ``scale``-pixel shave on each border, SSIM's window must still fit."""
    side = WINDOW + 2 * scale
    return -(-side // scale) * scale


def too_small_message(name: str, width: int, height: int, scale: int) -> str | None:
    """The error for an HR image too small to score at ``scale``, else ``None``."""
    need = min_scored_side(scale)
    if min(width, height) >= need:
        return None
    return (f"{name}: {width}x{height} is too small to score at x{scale}: SSIM's {WINDOW}x{WINDOW} "
            f"window needs at least {need}x{need} pixels (after the {scale}-pixel border shave); "
            "remove it from the folder")


def score_image(sr: np.ndarray, hr: np.ndarray, scale: int, name: str = "") -> ImageScore:
    """Score an SR output (any float or uint8 range) against the mod-cropped HR image."""
    sr = quantize(sr)
    if sr.shape != hr.shape:
        raise ValueError(f"{name}: SR shape {sr.shape} differs from HR shape {hr.shape}")
    small = too_small_message(name or "image", hr.shape[1], hr.shape[0], scale)
    if small:
        raise UserError(small)
    y_sr = to_y(sr)
    y_hr = to_y(hr)
    if scale > 0:
        y_sr = y_sr[scale:-scale, scale:-scale]
        y_hr = y_hr[scale:-scale, scale:-scale]
    return ImageScore(name=name, psnr_y=psnr(y_sr, y_hr), ssim_y=ssim(y_sr, y_hr))
