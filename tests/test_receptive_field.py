"""The receptive-field radii that set upscale's minimum --overlap (issue 18), checked against the
measured impulse response of every op, of the deconv upsampler, and of whole networks."""

import numpy as np
import pytest
import torch

from tnas_pipeline.networks import Architecture, Cell, Layer, Upsampler, build_network
from tnas_pipeline.networks.builder import _deconv
from tnas_pipeline.networks.ops import OPS
from tnas_pipeline.receptive_field import (
    OP_RADIUS,
    arch_receptive_field,
    deconv_radius,
    onnx_receptive_field,
)


def measured_radius(module: torch.nn.Module, channels: int, scale: int = 1, size: int = 31) -> int:
    """How far (in input pixels, Chebyshev) a change of the centre pixel reaches the output."""
    torch.manual_seed(0)
    module = module.double().eval()
    x = torch.rand(1, channels, size, size, dtype=torch.float64)
    y = x.clone()
    c = size // 2
    y[:, :, c, c] += 1.0
    with torch.no_grad():
        diff = (module(y) - module(x)).abs().amax(dim=(0, 1)).numpy()
    ys, xs = np.nonzero(diff > 1e-12)
    # an output pixel o belongs to input pixel o // scale
    return int(max(np.abs(ys // scale - c).max(), np.abs(xs // scale - c).max()))


def test_every_registered_op_has_a_radius():
    assert set(OPS.names()) <= set(OP_RADIUS)


@pytest.mark.parametrize("op", sorted(n for n, r in OP_RADIUS.items() if r is not None))
def test_op_radius_is_its_impulse_response(op):
    act = "lrelu" if op == "rlfb" else "prelu"
    module = OPS.get(op).build(4, 4, 4 if OPS.get(op).uses_width else None, act)
    assert measured_radius(module, 4) == OP_RADIUS[op]


def test_rlfb_has_no_finite_radius():
    assert OP_RADIUS["rlfb"] is None
    arch = Architecture(name="r", scale=2, head=Layer("conv3x3", 8, "none"),
                        cells=(Cell((Layer("rlfb", 8, "lrelu"),)),))
    assert arch_receptive_field(arch) is None


@pytest.mark.parametrize("scale", [2, 3, 4])
@pytest.mark.parametrize("kernel", [1, 3, 5, 9])
def test_deconv_radius_is_its_impulse_response(kernel, scale):
    deconv = _deconv(3, 3, kernel, scale)
    padding = deconv.padding[0]
    assert measured_radius(deconv, 3, scale) == deconv_radius(kernel, scale, padding)


@pytest.mark.parametrize("skip", ["none", "nearest", "bilinear", "bicubic"])
def test_network_radius_is_its_impulse_response(skip):
    arch = Architecture(name="n", scale=2, head=Layer("conv3x3", 6, "prelu"),
                        cells=(Cell((Layer("invres5x5", 6, "prelu", width=8),
                                     Layer("resblock3x3", 6, "prelu", width=6))),),
                        upsampler=Upsampler("pixel_shuffle", 3), global_skip=skip)
    assert arch_receptive_field(arch) == 1 + 2 + 2 + 1
    assert measured_radius(build_network(arch), 3, scale=2) == 6


def test_bicubic_skip_sets_the_radius_of_a_shallow_network():
    arch = Architecture(name="n", scale=2, head=Layer("conv1x1", 6, "relu"), cells=(),
                        upsampler=Upsampler("pixel_shuffle", 1), global_skip="bicubic")
    assert arch_receptive_field(arch) == 2


def test_onnx_graph_radius_bounds_the_architecture(tmp_path, tiny_arch):
    """Exact for a chain with the search space's nearest (anchor) skip; an upper bound (every
    conv and resize summed as if chained) when a bicubic skip runs beside the trunk."""
    from tests.test_inference import export_onnx

    anchor = Architecture(name="a", scale=2, head=Layer("conv3x3", 8, "none"),
                          cells=(Cell((Layer("invres5x5", 8, "relu", width=16),)),),
                          upsampler=Upsampler("pixel_shuffle", 3), global_skip="nearest")
    export_onnx(build_network(anchor), tmp_path / "a.onnx", 2)
    assert onnx_receptive_field(tmp_path / "a.onnx") == arch_receptive_field(anchor) == 4
    export_onnx(build_network(tiny_arch), tmp_path / "t.onnx", 2)
    assert onnx_receptive_field(tmp_path / "t.onnx") == 4 + 2 >= arch_receptive_field(tiny_arch)
