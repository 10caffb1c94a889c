import numpy as np
import pytest

from tnas_pipeline.data.degradation import (
    check_scale,
    downscale,
    make_pair,
    mod_crop,
    upscale_bicubic,
)
from tnas_pipeline.errors import UserError


def test_mod_crop_keeps_top_left():
    x = np.arange(7 * 9, dtype=np.uint8).reshape(7, 9)
    np.testing.assert_array_equal(mod_crop(x, 4), x[:4, :8])


def test_pair_shapes():
    hr = np.zeros((31, 45, 3), dtype=np.uint8)
    lr, hr_c = make_pair(hr, 3)
    assert lr.shape == (10, 15, 3) and hr_c.shape == (30, 45, 3)
    assert upscale_bicubic(lr, 3).shape == hr_c.shape


def test_downscale_is_antialiased():
    # A one-pixel checkerboard has no content below Nyquist after x2 downscaling: an antialiased
    # kernel gives flat mid-gray, point sampling (OpenCV INTER_CUBIC style) gives 0 or 255.
    board = ((np.indices((64, 64)).sum(0) % 2) * 255).astype(np.uint8)
    lr = downscale(board, 2)
    inner = lr[4:-4, 4:-4].astype(int)
    assert abs(inner.mean() - 127.5) < 1.5 and inner.std() < 2


def test_downscale_needs_mod_crop_and_scale_checked():
    with pytest.raises(ValueError):
        downscale(np.zeros((5, 6), np.uint8), 2)
    with pytest.raises(UserError):
        check_scale(5)
