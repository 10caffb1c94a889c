"""Parameter count and Mult-Adds of a network at a given output size.

Mult-Adds follow the convention of the SR efficiency tables (CARN, FALSR, IMDN): one per weight of
a convolution or transposed convolution per output position it produces, for an output of
1280×720 by default; activations, additions, pixel shuffle and the global resize are not counted.
The network is run on the ``meta`` device, so no memory is used and no time is spent computing.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from tnas_pipeline.errors import UserError

DEFAULT_OUTPUT_SIZE = (1280, 720)


@dataclass(frozen=True)
class Complexity:
    """``params`` (count), ``mult_adds`` (count) and the output size (W, H) they refer to."""

    params: int
    mult_adds: int
    output_size: tuple[int, int]


def lr_size(output_size: tuple[int, int], scale: int) -> tuple[int, int]:
    """The LR input size (W, H) that produces ``output_size``; the scale must divide it."""
    w, h = output_size
    if w % scale or h % scale:
        raise UserError(
            f"output size {w}x{h} is not divisible by scale {scale}; pick a size whose width and "
            f"height are multiples of {scale} (e.g. {w - w % scale}x{h - h % scale})"
        )
    return w // scale, h // scale


def count_complexity(
    model: nn.Module, scale: int, output_size: tuple[int, int] = DEFAULT_OUTPUT_SIZE,
    colors: int = 3,
) -> Complexity:
    """Count parameters and Mult-Adds of ``model`` for one output of ``output_size`` (W, H).

    A network with re-parameterisable layers is counted as deployed: folded (on a copy)."""
    import copy

    from tnas_pipeline.networks.reparam import folded_copy

    model = folded_copy(model)
    params = sum(p.numel() for p in model.parameters())
    w, h = lr_size(output_size, scale)
    total = 0

    def hook(mod: nn.Module, inputs: tuple[torch.Tensor, ...], out: torch.Tensor) -> None:
        nonlocal total
        if isinstance(mod, nn.Conv2d):
            per_pos = mod.in_channels // mod.groups * mod.kernel_size[0] * mod.kernel_size[1]
            total += out.numel() * per_pos
        elif isinstance(mod, nn.ConvTranspose2d):
            # Each input position scatters in/groups · out · k² products.
            k = mod.kernel_size[0] * mod.kernel_size[1]
            total += inputs[0].numel() * mod.out_channels // mod.groups * k

    meta_model = copy.deepcopy(model).to("meta")
    handles = [m.register_forward_hook(hook) for m in meta_model.modules()
               if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]
    try:
        with torch.no_grad():
            meta_model(torch.empty(1, colors, h, w, device="meta"))
    finally:
        for handle in handles:
            handle.remove()
    return Complexity(params=params, mult_adds=int(total), output_size=output_size)
