"""The op catalog: every op a layer of an architecture may name, by name (as DARTS' ``OPS``).

Every op maps ``in_channels`` to ``out_channels`` at the LR resolution and keeps H×W. Plain
layers (``conv1x1``, ``conv3x3``, ``conv5x5``) are one convolution followed by the activation;
block ops (:mod:`tnas_pipeline.networks.layers`) take an inner ``width`` (the kernel level of the
trilevel search). The re-parameterisable mixed-path sets (``rep3x3_1x1_id``, …,
:mod:`tnas_pipeline.networks.mixed_path`), ECBSR's edge-oriented block (``ecb``,
:mod:`tnas_pipeline.networks.ecb`) and RLFN's residual local feature block (``rlfb``,
:mod:`tnas_pipeline.networks.rlfn`) are registered here too, so the modules that define blocks
never import the catalog (imports run one way).
"""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from tnas_pipeline.networks.ecb import ECB
from tnas_pipeline.networks.layers import (
    ACTIVATIONS,
    ConvExpandBlock,
    InvertedResidual,
    ResidualBlock,
)
from tnas_pipeline.networks.mixed_path import MixedPathLayer
from tnas_pipeline.networks.reparam import REP_OPS, rep_op_name
from tnas_pipeline.networks.rlfn import RLFB
from tnas_pipeline.registry import Registry


class OpSpec:
    """How to build one op; ``uses_width`` says whether it takes an inner width, ``mixed_path``
    whether it is a branch set of the mixed-path space (searched by sparse group lasso)."""

    def __init__(self, build: Callable[[int, int, int | None, str], nn.Module], uses_width: bool,
                 mixed_path: bool = False):
        self.build = build
        self.uses_width = uses_width
        self.mixed_path = mixed_path


OPS: Registry[OpSpec] = Registry("op")


OPS: Registry[OpSpec] = Registry("op")


def _conv(k: int) -> Callable[[int, int, int | None, str], nn.Module]:
    def build(cin: int, cout: int, width: int | None, act: str) -> nn.Module:
        return nn.Sequential(nn.Conv2d(cin, cout, k, padding=k // 2), ACTIVATIONS.get(act)(cout))

    return build


OPS.add("conv1x1", OpSpec(_conv(1), uses_width=False))
OPS.add("conv3x3", OpSpec(_conv(3), uses_width=False))
OPS.add("conv5x5", OpSpec(_conv(5), uses_width=False))
OPS.add("resblock3x3", OpSpec(lambda i, o, w, a: ResidualBlock(i, o, w, a, 3), uses_width=True))
OPS.add("conv3x3_1x1", OpSpec(lambda i, o, w, a: ConvExpandBlock(i, o, w, a), uses_width=True))
OPS.add("invres3x3", OpSpec(lambda i, o, w, a: InvertedResidual(i, o, w, a, 3), uses_width=True))
OPS.add("invres5x5", OpSpec(lambda i, o, w, a: InvertedResidual(i, o, w, a, 5), uses_width=True))
# The rest of the op pool of search-space evolution (pipeline/nas/evolution.py), which holds
# more ops than one supernet: the same three families at other kernels.
OPS.add("resblock5x5", OpSpec(lambda i, o, w, a: ResidualBlock(i, o, w, a, 5), uses_width=True))
OPS.add("resblock1x1", OpSpec(lambda i, o, w, a: ResidualBlock(i, o, w, a, 1), uses_width=True))
OPS.add("conv5x5_1x1", OpSpec(lambda i, o, w, a: ConvExpandBlock(i, o, w, a, 5),
                              uses_width=True))
OPS.add("invres7x7", OpSpec(lambda i, o, w, a: InvertedResidual(i, o, w, a, 7), uses_width=True))
OPS.add("ecb", OpSpec(lambda i, o, w, a: ECB(i, o, a, with_idt=False), uses_width=False))


def _rlfb(cin: int, cout: int, width: int | None, act: str) -> RLFB:
    if cin != cout:
        raise ValueError(f"rlfb maps channels to themselves, not {cin} to {cout}")
    if act != "lrelu":
        raise ValueError(f"rlfb's activation is LeakyReLU 0.05 inside the block; write act "
                         f"'lrelu', not {act!r}")
    return RLFB(cin)


OPS.add("rlfb", OpSpec(_rlfb, uses_width=False))


def _rep_builder(branches: tuple[str, ...]):
    def build(cin: int, cout: int, width: int | None, act: str) -> nn.Module:
        if cin != cout:
            raise ValueError(f"{rep_op_name(branches)} maps channels to themselves, not "
                             f"{cin} to {cout}")
        return MixedPathLayer(cin, branches, act)

    return build


for _name, _branches in REP_OPS.items():
    OPS.add(_name, OpSpec(_rep_builder(_branches), uses_width=False, mixed_path=True))
