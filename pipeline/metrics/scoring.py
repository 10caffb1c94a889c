"""Scoring one SR output against its HR image by the protocol of MISSION.md.

Clamp to [0, 255] and round to uint8; BT.601 Y in float (raw values for grayscale); shave
``scale`` pixels from every border; PSNR and SSIM per image. Set means are plain means over images.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tnas_pipeline.metrics.color import to_y
from tnas_pipeline.metrics.psnr import psnr
from tnas_pipeline.metrics.ssim import ssim


@dataclass(frozen=True)
class ImageScore:
    """PSNR (dB) and SSIM of one image on the Y channel."""

    name: str
    psnr_y: float
    ssim_y: float


def quantize(sr: np.ndarray) -> np.ndarray:
    """Clamp to [0, 255] and round half to even to uint8, as the protocol scores outputs."""
    return np.clip(np.rint(np.asarray(sr, dtype=np.float64)), 0, 255).astype(np.uint8)


def score_image(sr: np.ndarray, hr: np.ndarray, scale: int, name: str = "") -> ImageScore:
    """Score an SR output (any float or uint8 range) against the mod-cropped HR image."""
    sr = quantize(sr)
    if sr.shape != hr.shape:
        raise ValueError(f"{name}: SR shape {sr.shape} differs from HR shape {hr.shape}")
    y_sr = to_y(sr)
    y_hr = to_y(hr)
    if scale > 0:
        y_sr = y_sr[scale:-scale, scale:-scale]
        y_hr = y_hr[scale:-scale, scale:-scale]
    return ImageScore(name=name, psnr_y=psnr(y_sr, y_hr), ssim_y=ssim(y_sr, y_hr))
