import torch
import torch.nn.functional as F

from tnas_pipeline.networks import Architecture, Cell, Layer, Upsampler, build_network


def _arch(skip: str, up: str = "pixel_shuffle", scale: int = 3) -> Architecture:
    return Architecture("t", scale, Layer("conv3x3", 4), (Cell((Layer("conv3x3", 4),)),),
                        Upsampler(up, 3), global_skip=skip)


def test_anchor_skip_is_nearest_upsampling():
    for up in ("pixel_shuffle", "deconv"):
        model = build_network(_arch("nearest", up)).eval()
        last = model.upsampler[0] if up == "pixel_shuffle" else model.upsampler
        with torch.no_grad():
            last.weight.zero_()
            last.bias.zero_()
            x = torch.rand(2, 3, 5, 7)
            torch.testing.assert_close(model(x), F.interpolate(x, scale_factor=3, mode="nearest"))


def test_bicubic_skip_and_no_skip():
    x = torch.rand(1, 3, 6, 6)
    model = build_network(_arch("bicubic", scale=2)).eval()
    with torch.no_grad():
        model.upsampler[0].weight.zero_()
        model.upsampler[0].bias.zero_()
        expect = F.interpolate(x, scale_factor=2, mode="bicubic", align_corners=False)
        torch.testing.assert_close(model(x), expect)
    assert build_network(_arch("none")).eval()(x).shape == (1, 3, 18, 18)
