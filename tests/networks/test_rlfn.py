"""RLFN's residual local feature block: shape, size range, its max-pool, and its ONNX graph."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from tnas_pipeline.networks.ops import OPS
from tnas_pipeline.networks.rlfn import RLFB, max_pool_any_size


@pytest.mark.parametrize("h, w", [(18, 18), (36, 36), (17, 23), (12, 10), (3, 3), (360, 640)])
def test_block_keeps_the_shape(h, w):
    # LR training patches (18, 36), odd sizes, sizes below the 15 pixels RLFN's own pool needs,
    # and a 640×360 frame.
    torch.manual_seed(0)
    block = OPS.get("rlfb").build(12, 12, None, "lrelu").eval()
    with torch.no_grad():
        assert block(torch.randn(1, 12, h, w)).shape == (1, 12, h, w)


def test_max_pool_is_rlfns_where_the_window_fits_and_one_window_below():
    torch.manual_seed(0)
    for n in range(7, 30):
        x = torch.randn(1, 2, n, n + 2)
        assert torch.equal(max_pool_any_size(x), F.max_pool2d(x, 7, 3))
    small = torch.randn(1, 2, 5, 3)
    assert torch.equal(max_pool_any_size(small), small.amax(dim=(-2, -1), keepdim=True))


def test_bad_channels_and_activation_are_refused():
    with pytest.raises(ValueError, match="channels to themselves"):
        OPS.get("rlfb").build(12, 16, None, "lrelu")
    with pytest.raises(ValueError, match="lrelu"):
        OPS.get("rlfb").build(12, 12, None, "relu")
    assert not OPS.get("rlfb").uses_width


def test_one_dynamic_onnx_graph_serves_small_and_large_inputs():
    from tnas_pipeline.runtime.onnx_graph import export_onnx_bytes
    from tnas_pipeline.runtime.ort_session import create_session

    torch.manual_seed(0)
    block = RLFB(8).eval()
    session = create_session(export_onnx_bytes(block, channels=8), threads=1)
    for h, w in [(12, 10), (24, 20), (40, 36)]:
        x = torch.randn(1, 8, h, w)
        with torch.no_grad():
            expect = block(x).numpy()
        got = session.run(None, {"input": x.numpy()})[0]
        assert got.shape == expect.shape
        assert np.abs(got - expect).max() < 1e-5
