import numpy as np
import torch

from tnas_pipeline.inference import TorchUpscaler
from tnas_pipeline.networks import baseline_architecture, build_network
from tnas_pipeline.tiling import tiled_apply


def test_tiles_equal_a_whole_image_pass():
    torch.manual_seed(0)
    model = build_network(baseline_architecture("plain_cnn", 2)).eval()
    lr = np.random.default_rng(0).integers(0, 256, (70, 90, 3)).astype(np.uint8)
    whole = TorchUpscaler(model, 2, tile=0).upscale(lr)
    tiled = TorchUpscaler(model, 2, tile=24, overlap=8).upscale(lr)
    np.testing.assert_allclose(tiled, whole, atol=1e-3)  # [0, 255] range: 1e-3 is ~4e-6 relative


def test_tiling_covers_every_pixel_once():
    x = np.random.default_rng(1).random((1, 3, 37, 41)).astype(np.float32)
    out = tiled_apply(lambda t: np.repeat(np.repeat(t, 3, 2), 3, 3), x, 3, tile=10, overlap=2)
    np.testing.assert_array_equal(out, np.repeat(np.repeat(x, 3, 2), 3, 3))
