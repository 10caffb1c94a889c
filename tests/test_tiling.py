import numpy as np
import pytest
import torch

from tnas_pipeline.data.degradation import upscale_bicubic
from tnas_pipeline.errors import UserError
from tnas_pipeline.inference import BicubicUpscaler, TorchUpscaler
from tnas_pipeline.networks import baseline_architecture, build_network
from tnas_pipeline.receptive_field import arch_receptive_field
from tnas_pipeline.tiling import DEFAULT_OVERLAP, check_tiling, tiled_apply


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


# -- tiles equal the whole-image pass exactly once overlap >= receptive field (issue 18) -------

def _archs():
    from tnas_pipeline.networks import Architecture, Cell, Layer, Upsampler

    def arch(name, cells, kernel=3, skip="nearest", scale=2):
        return Architecture(name=name, scale=scale, head=Layer("conv3x3", 8, "relu"),
                            cells=(Cell(tuple(cells)),),
                            upsampler=Upsampler("pixel_shuffle", kernel), global_skip=skip)

    return [
        arch("res-bicubic", [Layer("resblock3x3", 8, "relu", width=8)], skip="bicubic"),
        arch("invres5", [Layer("invres5x5", 8, "relu", width=16),
                         Layer("conv5x5_1x1", 8, "prelu", width=8)], scale=3),
        arch("ecb-rep", [Layer("ecb", 8, "prelu"), Layer("rep3x3_1x1_id", 8, "relu")],
             kernel=1, scale=4),
        baseline_architecture("fsrcnn", 3),  # deconv upsampler
    ]


@pytest.mark.parametrize("index", range(4))
@pytest.mark.parametrize("gray", [False, True])
def test_tiles_are_bit_exact_at_the_receptive_field(index, gray):
    """uint8 output of tiles (odd image, tiles that do not divide it) equals the whole-image
    pass at overlap = receptive field, for several op kinds and both upsamplers."""
    arch = _archs()[index]
    torch.manual_seed(index)
    model = build_network(arch).eval()
    rf = arch_receptive_field(arch)
    shape = (37, 29) if gray else (37, 29, 3)
    lr = np.random.default_rng(index).integers(0, 256, shape).astype(np.uint8)
    whole = np.concatenate(list(TorchUpscaler(model, arch.scale, tile=0).upscale_bands(lr)))
    for tile in (7, 10):
        up = TorchUpscaler(model, arch.scale, tile=tile, overlap=rf)
        tiled = np.concatenate(list(up.upscale_bands(lr)))
        assert tiled.dtype == np.uint8 and tiled.shape == whole.shape
        assert np.abs(tiled.astype(int) - whole).max() == 0, (arch.name, tile)


def test_bands_equal_the_float_path_quantised():
    """upscale_bands is quantize(upscale): the files upscale writes match what evaluate scores."""
    from tnas_pipeline.metrics import quantize

    torch.manual_seed(0)
    model = build_network(baseline_architecture("plain_cnn", 2)).eval()
    lr = np.random.default_rng(0).integers(0, 256, (45, 31, 3)).astype(np.uint8)
    up = TorchUpscaler(model, 2, tile=16, overlap=6)
    np.testing.assert_array_equal(np.concatenate(list(up.upscale_bands(lr))),
                                  quantize(up.upscale(lr)))


def test_bands_come_one_tile_row_at_a_time():
    model = build_network(baseline_architecture("espcn", 2)).eval()
    lr = np.zeros((45, 31, 3), np.uint8)
    heights = [b.shape[0] for b in TorchUpscaler(model, 2, tile=16, overlap=4).upscale_bands(lr)]
    assert heights == [32, 32, 26]


@pytest.mark.parametrize("scale", [2, 3, 4])
@pytest.mark.parametrize("shape", [(41, 23, 3), (41, 50)])
def test_bicubic_bands_equal_one_resize(scale, shape):
    lr = np.random.default_rng(scale).integers(0, 256, shape).astype(np.uint8)
    bands = list(BicubicUpscaler(scale, tile=6).upscale_bands(lr))
    assert len(bands) == 7
    np.testing.assert_array_equal(np.concatenate(bands), upscale_bicubic(lr, scale))


def test_check_tiling():
    assert check_tiling(64, None, 5) == 5  # default: the receptive field
    assert check_tiling(64, 9, 5) == 9
    assert check_tiling(64, None, None) == DEFAULT_OVERLAP  # unbounded (RLFN): the old default
    with pytest.raises(UserError, match=r"--overlap 4 is below .* receptive field of 5 .*"
                                        r"--overlap 5 or more"):
        check_tiling(64, 4, 5)
    with pytest.raises(UserError, match="--overlap -5 is negative"):
        check_tiling(64, -5, None)
    with pytest.raises(UserError, match="--tile -1 is negative"):
        check_tiling(-1, None, 5)
