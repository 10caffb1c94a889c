"""ITU-R BT.601 luma, as MATLAB's ``rgb2ycbcr`` computes it for uint8 input.

Papers report PSNR/SSIM on this Y channel, in float (not rounded: rounding costs 0.01–0.03 dB,
measured in this project). A grayscale image is scored on its raw values, which is how the
published Set14 bicubic mean treats the gray ``bridge.png``.
"""

from __future__ import annotations

import numpy as np


def to_y(pixels: np.ndarray) -> np.ndarray:
    """Float64 Y in [16, 235] for an H×W×3 image in [0, 255]; raw values for an H×W image."""
    x = np.asarray(pixels, dtype=np.float64)
    if x.ndim == 2:
        return x
    if x.ndim != 3 or x.shape[2] != 3:
        raise ValueError(f"expected H×W or H×W×3 pixels, got shape {x.shape}")
    return 16.0 + (65.481 * x[..., 0] + 128.553 * x[..., 1] + 24.966 * x[..., 2]) / 255.0
