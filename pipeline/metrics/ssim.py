"""Structural similarity (Wang, Bovik, Sheikh, Simoncelli, IEEE TIP 2004).

As in the authors' MATLAB ``ssim_index`` that SR papers use: an 11×11 Gaussian window with
σ = 1.5, K1 = 0.01, K2 = 0.03, dynamic range 255, statistics over the valid region only, and the
mean of the SSIM map.
"""

from __future__ import annotations

import numpy as np

_WINDOW = 11
_SIGMA = 1.5
#: The side of the SSIM window: an image scored by SSIM has at least this many pixels a side.
WINDOW = _WINDOW


def _gaussian_1d(size: int = _WINDOW, sigma: float = _SIGMA) -> np.ndarray:
    x = np.arange(size, dtype=np.float64) - (size - 1) / 2.0
    g = np.exp(-(x * x) / (2.0 * sigma * sigma))
    return g / g.sum()


def _filter_valid(x: np.ndarray, g: np.ndarray) -> np.ndarray:
    # The 2-D Gaussian is separable: filter rows, then columns, keeping only the valid region.
    k = len(g)
    h, w = x.shape
    rows = sum(g[i] * x[:, i : w - k + 1 + i] for i in range(k))
    return sum(g[i] * rows[i : h - k + 1 + i, :] for i in range(k))


def ssim(a: np.ndarray, b: np.ndarray, data_range: float = 255.0) -> float:
    """Mean SSIM of two single-channel images of the same shape (each side ≥ 11 pixels)."""
    if a.shape != b.shape or a.ndim != 2:
        raise ValueError(f"ssim expects two same-shaped 2-D arrays, got {a.shape} and {b.shape}")
    if min(a.shape) < _WINDOW:
        raise ValueError(f"ssim needs images of at least {_WINDOW}×{_WINDOW} pixels")
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    g = _gaussian_1d()
    c1 = (0.01 * data_range) ** 2
    c2 = (0.03 * data_range) ** 2
    mu_a = _filter_valid(a, g)
    mu_b = _filter_valid(b, g)
    var_a = _filter_valid(a * a, g) - mu_a * mu_a
    var_b = _filter_valid(b * b, g) - mu_b * mu_b
    cov = _filter_valid(a * b, g) - mu_a * mu_b
    num = (2.0 * mu_a * mu_b + c1) * (2.0 * cov + c2)
    den = (mu_a * mu_a + mu_b * mu_b + c1) * (var_a + var_b + c2)
    return float(np.mean(num / den))
