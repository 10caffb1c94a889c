"""The LR degradation of the SR protocol: top-left mod-crop, then antialiased bicubic.

Pillow's ``resize(..., BICUBIC)`` on uint8 widens the cubic kernel (a = -0.5) by the scale when
downscaling, as MATLAB's ``imresize`` does, and rounds to uint8; it matches MATLAB within 0.003 dB
of PSNR (measured in this project). OpenCV's ``INTER_CUBIC`` and ``interpolate(antialias=False)``
do not antialias and must never be used to make LR images.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from tnas_pipeline.errors import UserError

SUPPORTED_SCALES = (2, 3, 4)


def check_scale(scale: int) -> int:
    """Return ``scale`` if it is one the project supports, else raise a :class:`UserError`."""
    if scale not in SUPPORTED_SCALES:
        raise UserError(f"scale {scale} is not supported; use one of {SUPPORTED_SCALES}")
    return scale


def mod_crop(pixels: np.ndarray, scale: int) -> np.ndarray:
    """Crop the bottom and right edges so that height and width are multiples of ``scale``."""
    h, w = pixels.shape[:2]
    return pixels[: h - h % scale, : w - w % scale]


def resize_bicubic(pixels: np.ndarray, size_wh: tuple[int, int]) -> np.ndarray:
    """Antialiased bicubic resize of a uint8 H×W or H×W×3 array to ``(width, height)``."""
    if pixels.dtype != np.uint8:
        raise TypeError("resize_bicubic expects uint8 pixels")
    return np.asarray(Image.fromarray(pixels).resize(size_wh, Image.Resampling.BICUBIC))


def downscale(hr: np.ndarray, scale: int) -> np.ndarray:
    """LR image of a mod-cropped HR image, by antialiased bicubic downscaling."""
    h, w = hr.shape[:2]
    if h % scale or w % scale:
        raise ValueError("downscale expects a mod-cropped image; call mod_crop first")
    return resize_bicubic(hr, (w // scale, h // scale))


def upscale_bicubic(lr: np.ndarray, scale: int) -> np.ndarray:
    """Bicubic upscaling, the baseline every SR table reports."""
    h, w = lr.shape[:2]
    return resize_bicubic(lr, (w * scale, h * scale))


def make_pair(hr: np.ndarray, scale: int) -> tuple[np.ndarray, np.ndarray]:
    """(LR, mod-cropped HR) for an HR image."""
    hr = mod_crop(hr, scale)
    return downscale(hr, scale), hr
