import numpy as np
import pytest

from tnas_pipeline.metrics import psnr, quantize, score_image, ssim, to_y


def test_bt601_y_of_black_white_and_gray_raw():
    assert to_y(np.zeros((1, 1, 3)))[0, 0] == pytest.approx(16.0)
    assert to_y(np.full((1, 1, 3), 255.0))[0, 0] == pytest.approx(235.0)
    gray = np.array([[3, 200]], dtype=np.uint8)
    np.testing.assert_array_equal(to_y(gray), gray.astype(float))


def test_psnr_known_value():
    a = np.zeros((4, 4))
    assert psnr(a, a + 1.0) == pytest.approx(20 * np.log10(255.0))
    assert psnr(a, a) == float("inf")


def _ssim_bruteforce(a, b):
    # Direct per-window evaluation of Wang et al. (2004) with the same Gaussian window.
    x = np.arange(11) - 5.0
    g = np.exp(-(x**2) / (2 * 1.5**2))
    w = np.outer(g, g)
    w /= w.sum()
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    vals = []
    for i in range(a.shape[0] - 10):
        for j in range(a.shape[1] - 10):
            pa, pb = a[i : i + 11, j : j + 11], b[i : i + 11, j : j + 11]
            ma, mb = (w * pa).sum(), (w * pb).sum()
            va, vb = (w * pa * pa).sum() - ma**2, (w * pb * pb).sum() - mb**2
            cov = (w * pa * pb).sum() - ma * mb
            num = (2 * ma * mb + c1) * (2 * cov + c2)
            vals.append(num / ((ma**2 + mb**2 + c1) * (va + vb + c2)))
    return float(np.mean(vals))


def test_ssim_matches_definition_and_identity():
    rng = np.random.default_rng(0)
    a = rng.uniform(0, 255, (20, 23))
    b = np.clip(a + rng.normal(0, 20, a.shape), 0, 255)
    assert ssim(a, b) == pytest.approx(_ssim_bruteforce(a, b), abs=1e-10)
    assert ssim(a, a) == pytest.approx(1.0)


def test_quantize_clamps_and_rounds():
    np.testing.assert_array_equal(quantize(np.array([-3.0, 0.4, 0.6, 254.7, 300.0])),
                                  np.array([0, 0, 1, 255, 255], dtype=np.uint8))


def test_score_shaves_scale_pixels_from_borders():
    rng = np.random.default_rng(1)
    hr = rng.integers(0, 256, (40, 40, 3)).astype(np.uint8)
    sr = hr.astype(float)
    sr[:2, :] = 0  # damage only the border that ×2 shaves
    assert score_image(sr, hr, scale=2).psnr_y == float("inf")
    assert score_image(sr, hr, scale=1).psnr_y < 40
