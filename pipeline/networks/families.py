"""Families of hand-designed efficient SR networks that edge engineers ship, as size grids.

Each :class:`Family` is one published design (ABPN, ECBSR, RLFN, FSRCNN, ESPCN) or the plain
CNN, written in the architecture format (head layer → cells → pixel-shuffle or deconv upsampler →
global skip) at a few sizes, so that the builder, training, ONNX export and loading treat every
member like any searched network. :meth:`Family.grid` lists a family's members at one scale
from the cheapest to the most expensive by deployed (folded) Mult-Adds (:func:`grid_cost`). The
grids run, at ×2 and a 1280×720 output, from about 30 ms to several hundred per frame on one
thread of ONNX Runtime on a 2-core CPU, in steps of 10–25 % of latency where budgets usually
are, so that the largest member under a budget uses most of it (``bench/arena.py`` times them).
Mult-Adds are not latency (activations, attention and memory traffic are not counted): the
arena picks members by what they measure, not by their Mult-Adds.

Members are named ``<family>-<size>``, e.g. ``abpn-d4c28``, ``ecbsr-m4c16``, ``rlfn-b2c24``,
``plain-d4c32``. All take and produce RGB in [0, 1]. None clips its output: inference returns it
unclamped (:mod:`tnas_pipeline.inference`), and scoring and saved images clamp to [0, 255]
(:func:`tnas_pipeline.metrics.quantize`), which is where ABPN's deployed clip sits in this pipeline.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, replace

import torch

from tnas_pipeline.networks.architecture import Architecture, Cell, Layer, Upsampler
from tnas_pipeline.networks.baselines import espcn, fsrcnn
from tnas_pipeline.registry import Registry


@dataclass(frozen=True)
class Family:
    """A named design with its citation, description and the architectures of its grid."""

    name: str
    citation: str
    description: str
    members: Callable[[int], list[Architecture]]

    def grid(self, scale: int) -> list[Architecture]:
        """The family's members at ``scale``, cheapest first by Mult-Adds (the order changes
        with the scale: the last layer's width is 3·s²)."""
        return sorted(self.members(scale), key=grid_cost)


def grid_cost(arch: Architecture) -> int:
    """Mult-Adds of ``arch`` at a 320·s × 180·s output, counted on the meta device: nothing is
    computed and no global random state is used up."""
    from tnas_pipeline.networks.builder import build_network
    from tnas_pipeline.networks.complexity import count_complexity

    with torch.random.fork_rng(devices=[]), torch.device("meta"):
        return count_complexity(build_network(arch), arch.scale,
                                (320 * arch.scale, 180 * arch.scale)).mult_adds


FAMILIES: Registry[Family] = Registry("network family")


def family(name: str, citation: str) -> Callable[[Callable[[int], list[Architecture]]],
                                                 Callable[[int], list[Architecture]]]:
    """Register the decorated ``members(scale)`` as family ``name``; its docstring is the
    family's description."""

    def deco(members: Callable[[int], list[Architecture]]) -> Callable[[int], list[Architecture]]:
        FAMILIES.add(name, Family(name, citation, inspect.getdoc(members) or "", members))
        return members

    return deco


def _stack(op: str, out: int, act: str, depth: int) -> tuple[Cell, ...]:
    return tuple(Cell((Layer(op, out, act),)) for _ in range(depth))


# (depth D, channels C). The published 28 channels at every depth, and other widths between
# them: one depth step at 28 channels is ~35 ms on a 2-core CPU at 720p, too coarse to fill a
# budget, and ONNX Runtime's CPU convolutions run 20, 24 and 28 channels about as slowly as 32
# (blocked layouts), so a designer who measures picks 16 or 32 channels and varies the depth.
ABPN_SIZES = ((0, 28), (1, 16), (2, 16), (3, 16), (4, 16), (1, 20), (6, 16), (2, 20), (1, 24),
              (1, 28), (2, 24), (3, 20), (4, 20), (2, 28), (3, 24), (3, 32), (4, 24), (6, 20),
              (3, 28), (8, 20), (4, 28), (4, 32), (5, 28), (6, 28), (8, 28), (12, 28), (16, 28))


@family("abpn", 'Du et al., "Anchor-based Plain Net for Mobile Image Super-Resolution", '
                "CVPRW 2021 (MAI 2021 winner)")
def abpn(scale: int) -> list[Architecture]:
    """ABPN: plain 3×3 convs with ReLU and the anchor skip, at its published 28 channels.

    3×3 conv 3 → 28, D × 3×3 conv 28 → 28, 3×3 conv 28 → 3·s² (all ReLU), then a linear 3×3 conv
    3·s² → 3·s² (the pixel-shuffle upsampler's conv); the anchor (each input pixel repeated s²
    times) is added before depth-to-space, which is the ``nearest`` global skip of the builder.
    The published ×3 network is D = 4 (``abpn-d4c28``, 42.5 K parameters); the grid varies D at
    28 channels and at 16, 20, 24 and 32 (ABPN_SIZES). The
    original clips to [0, 255] at the end; here the metric and image saving clamp instead.
    """
    return [Architecture(
        name=f"abpn-d{d}c{c}", scale=scale, head=Layer("conv3x3", c, "relu"),
        cells=(*_stack("conv3x3", c, "relu", d),
               Cell((Layer("conv3x3", 3 * scale * scale, "relu"),))),
        upsampler=Upsampler("pixel_shuffle", 3), global_skip="nearest",
    ) for d, c in ABPN_SIZES]


ECBSR_SIZES = ((4, 8), (1, 16), (2, 16), (3, 16), (4, 16), (6, 16), (8, 16), (10, 16), (12, 16),
               (16, 16), (4, 32), (6, 32), (8, 32), (16, 32), (8, 64))


@family("ecbsr", 'Zhang, Zeng, Zhang, "Edge-oriented Convolution Block for Real-time Super '
                 'Resolution on Mobile Devices", ACM MM 2021')
def ecbsr(scale: int) -> list[Architecture]:
    """ECBSR-MmCc: M + 1 edge-oriented convolution blocks (op ``ecb``) of C channels with PReLU.

    ECB(3 → C), M × ECB(C → C), each folding into one 3×3 conv for deployment; then a 3×3 conv
    C → 3·s² and pixel shuffle, with the input broadcast over the s² sub-pixels added before the
    shuffle (the ``nearest`` anchor skip). ECBSR's last layer is a linear ECB, which folds to
    exactly this 3×3 conv: the deployed network is the same, but here that one layer trains
    without the extra branches. The original is Y-only; this is RGB. Published: M4C8 and M4C16
    (``ecbsr-m4c8``, ``ecbsr-m4c16``).
    """
    return [Architecture(
        name=f"ecbsr-m{m}c{c}", scale=scale, head=Layer("ecb", c, "prelu"),
        cells=_stack("ecb", c, "prelu", m),
        upsampler=Upsampler("pixel_shuffle", 3), global_skip="nearest",
    ) for m, c in ECBSR_SIZES]


RLFN_SIZES = ((1, 8), (2, 8), (1, 12), (2, 12), (3, 12), (2, 16), (3, 16), (4, 16), (2, 24),
              (6, 16), (4, 24), (3, 32), (4, 32), (4, 48))


@family("rlfn", 'Kong et al., "Residual Local Feature Network for Efficient Super-Resolution", '
                "CVPRW 2022 (NTIRE 2022)")
def rlfn(scale: int) -> list[Architecture]:
    """RLFN-BbCc: B residual local feature blocks (op ``rlfb``, with ESA) of C channels.

    3×3 conv 3 → C (linear); one residual cell of B × RLFB(C) and a linear 3×3 conv C → C, the
    cell's residual being RLFN's long skip; then a 3×3 conv C → 3·s² and pixel shuffle, with no
    global skip. RLFN itself is 52 channels × 6 blocks (RLFN-S 48 × 6), the NTIRE 2022 entry
    46 × 4 with 48-channel convs inside the blocks; the grid stops at ``rlfn-b4c48``.
    """
    return [Architecture(
        name=f"rlfn-b{b}c{c}", scale=scale, head=Layer("conv3x3", c, "none"),
        cells=(Cell((*(Layer("rlfb", c, "lrelu") for _ in range(b)),
                     Layer("conv3x3", c, "none")), residual=True),),
        upsampler=Upsampler("pixel_shuffle", 3), global_skip="none",
    ) for b, c in RLFN_SIZES]


PLAIN_SIZES = ((1, 16), (2, 16), (3, 16), (4, 16), (2, 24), (6, 16), (3, 24), (2, 32), (4, 24),
               (3, 32), (4, 32), (5, 32), (6, 32), (8, 32), (4, 48), (6, 48), (6, 64), (8, 64))


@family("plain", 'plain CNN with the anchor skip of Du et al., CVPRW 2021, and the sub-pixel '
                 'output of Shi et al., CVPR 2016')
def plain(scale: int) -> list[Architecture]:
    """Plain-DdCc: 3×3 conv 3 → C, D × 3×3 conv C → C (ReLU), pixel shuffle, anchor skip.

    The reference point for how far plain convolutions go at each cost: no blocks, no
    attention, no re-parameterisation; the last 3×3 conv maps C → 3·s² and the input repeated
    over the s² sub-pixels is added before the shuffle (the ``nearest`` global skip).
    """
    return [Architecture(
        name=f"plain-d{d}c{c}", scale=scale, head=Layer("conv3x3", c, "relu"),
        cells=_stack("conv3x3", c, "relu", d),
        upsampler=Upsampler("pixel_shuffle", 3), global_skip="nearest",
    ) for d, c in PLAIN_SIZES]


@family("fsrcnn", 'Dong, Loy, Tang, "Accelerating the Super-Resolution Convolutional Neural '
                  'Network", ECCV 2016')
def fsrcnn_family(scale: int) -> list[Architecture]:
    """FSRCNN(56, 12, 4), the ``fsrcnn`` baseline (:mod:`tnas_pipeline.networks.baselines`),
    alone."""
    return [replace(fsrcnn(scale), name="fsrcnn-d56s12m4")]


@family("espcn", 'Shi et al., "Real-Time Single Image and Video Super-Resolution Using an '
                 'Efficient Sub-Pixel Convolutional Neural Network", CVPR 2016')
def espcn_family(scale: int) -> list[Architecture]:
    """ESPCN with (5, 64), (3, 32), (3, 3·s²) and tanh, the ``espcn`` baseline, alone."""
    return [replace(espcn(scale), name="espcn-n64n32")]
