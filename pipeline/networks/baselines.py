"""Hand-designed SR baselines, written in the architecture format (timm-style registry).

All take and produce RGB (``colors = 3``), as modern SR reimplementations do; the Y-only originals
of FSRCNN and ESPCN have fewer parameters in the head and the last layer, noted per baseline.
"""

from __future__ import annotations

from collections.abc import Callable

from tnas_pipeline.networks.architecture import Architecture, Cell, Layer, Upsampler
from tnas_pipeline.registry import Registry

BASELINES: Registry[Callable[[int], Architecture]] = Registry("baseline")


@BASELINES.register("fsrcnn")
def fsrcnn(scale: int) -> Architecture:
    """FSRCNN(d=56, s=12, m=4): Dong, Loy, Tang, "Accelerating the Super-Resolution Convolutional
    Neural Network", ECCV 2016.

    5×5 feature extraction to d = 56, 1×1 shrink to s = 12, m = 4 3×3 mapping layers, 1×1 expand
    back to 56, all with PReLU, then a 9×9 transposed convolution with stride ``scale``. The paper's
    network is Y-only (12.5K parameters at ×2); RGB in and out makes it about 25K.
    """
    prelu = "prelu"
    mapping = [Layer("conv3x3", 12, prelu) for _ in range(4)]
    body = (Layer("conv1x1", 12, prelu), *mapping, Layer("conv1x1", 56, prelu))
    return Architecture(
        name="fsrcnn", scale=scale, head=Layer("conv5x5", 56, prelu), cells=(Cell(body),),
        upsampler=Upsampler("deconv", 9), global_skip="none",
    )


@BASELINES.register("espcn")
def espcn(scale: int) -> Architecture:
    """ESPCN: Shi et al., "Real-Time Single Image and Video Super-Resolution Using an Efficient
    Sub-Pixel Convolutional Neural Network", CVPR 2016.

    The paper's configuration (l = 3, (f, n) = (5, 64), (3, 32), (3, 3·r²)) with tanh activations
    and the sub-pixel (pixel shuffle) output layer, on RGB as in the paper's colour experiments.
    """
    return Architecture(
        name="espcn", scale=scale, head=Layer("conv5x5", 64, "tanh"),
        cells=(Cell((Layer("conv3x3", 32, "tanh"),)),),
        upsampler=Upsampler("pixel_shuffle", 3), global_skip="none",
    )


@BASELINES.register("plain_cnn")
def plain_cnn(scale: int) -> Architecture:
    """A plain residual CNN of about 40K parameters at ×2.

    Six 3×3 convolutions of 32 channels with ReLU (head, four body layers, the sub-pixel layer),
    learning the residual over bicubic upsampling as VDSR does (Kim, Lee, Lee, "Accurate Image
    Super-Resolution Using Very Deep Convolutional Networks", CVPR 2016), with the efficient
    sub-pixel output of ESPCN. It is the reference point for "how far do plain convolutions go".
    """
    return Architecture(
        name="plain_cnn", scale=scale, head=Layer("conv3x3", 32, "relu"),
        cells=tuple(Cell((Layer("conv3x3", 32, "relu"),)) for _ in range(4)),
        upsampler=Upsampler("pixel_shuffle", 3), global_skip="bicubic",
    )


def baseline_architecture(name: str, scale: int) -> Architecture:
    """The registered baseline ``name`` at ``scale``; unknown names raise with the known ones."""
    return BASELINES.get(name)(scale)
