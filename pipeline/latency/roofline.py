"""Estimated latency tables for devices not at hand: a roofline model per layer.

Each layer takes ``max(FLOPs / (peak · e_c), bytes / (bandwidth · e_m)) + overhead`` (Williams,
Waterman, Patterson, "Roofline", CACM 2009). Peaks come from NVIDIA's Jetson Orin module
datasheets (memory bandwidth as published; compute peaks derived from the CUDA/tensor-core counts
times the maximum GPU clock): dense FP16 tensor-core throughput for FP16 convolutions, half of it
for FP32 convolutions (TensorRT runs them as TF32 on tensor cores by default), the FP32 CUDA-core
figure for depthwise convolutions (tensor cores do not help them), and the memory bandwidth for
every byte of activations and weights moved. The efficiencies are assumptions, recorded in the
table: real kernels reach a fraction of peak. A measured table on the device replaces an estimate.
An estimate has no reference network: its entries are milliseconds over a nominal 1 ms reference.
"""

from __future__ import annotations

import copy
import datetime as dt

import torch
from torch import nn

from tnas_pipeline.errors import UserError
from tnas_pipeline.latency.blocks import Block, space_blocks
from tnas_pipeline.latency.lut import ESTIMATE, LatencyTable
from tnas_pipeline.search_space import SearchSpace

# name: (FP16 dense TFLOP/s, FP32 TFLOP/s, GB/s, label) — from NVIDIA's Jetson Orin module
# datasheets: GB/s as published, TFLOP/s derived as core count × maximum GPU clock.
DEVICE_SPECS: dict[str, tuple[float, float, float, str]] = {
    "jetson-agx-orin": (42.6, 5.3, 204.8, "Jetson AGX Orin 64GB"),
    "jetson-orin-nx": (15.0, 1.9, 102.4, "Jetson Orin NX 16GB"),
    "jetson-orin-nano": (10.2, 1.3, 68.0, "Jetson Orin Nano 8GB"),
}
ASSUMPTIONS = {"compute_efficiency": 0.5, "memory_efficiency": 0.6, "layer_overhead_us": 5.0}


def _layer_costs(block: Block, bytes_per_el: int) -> list[tuple[float, float, bool]]:
    """(FLOPs, bytes, depthwise) of every layer of a block."""
    if block.kind == "skip":
        out = block.cout * block.h * block.w * block.scale**2
        inp = block.cin * block.h * block.w
        # Resize reads the input and writes the output; the add reads two outputs and writes one.
        resize_flops = 0.0 if block.op == "nearest" else 16.0 * out  # 4×4 taps for bicubic
        return [(resize_flops, (inp + out) * bytes_per_el, False),
                (float(out), 3 * out * bytes_per_el, False)]
    costs: list[tuple[float, float, bool]] = []

    def hook(mod: nn.Module, inputs: tuple[torch.Tensor, ...], out: torch.Tensor) -> None:
        moved = (inputs[0].numel() + out.numel()) * bytes_per_el
        if isinstance(mod, nn.Conv2d):
            macs = out.numel() * mod.in_channels // mod.groups * mod.kernel_size[0] ** 2
            weights = mod.weight.numel() * bytes_per_el
            depthwise = mod.groups > 1 and mod.groups == mod.in_channels
            costs.append((2.0 * macs, moved + weights, depthwise))
        elif isinstance(mod, nn.PixelShuffle):
            costs.append((0.0, moved, False))

    module = copy.deepcopy(block.module()).to("meta")
    handles = [m.register_forward_hook(hook) for m in module.modules()
               if isinstance(m, (nn.Conv2d, nn.PixelShuffle))]
    with torch.no_grad():
        module(torch.empty(block.input_shape, device="meta"))
    for h in handles:
        h.remove()
    return costs


def estimate_block_ms(block: Block, device: str) -> float:
    """Roofline latency of one block on a device of :data:`DEVICE_SPECS`."""
    fp16_peak, fp32_peak, bandwidth, _ = DEVICE_SPECS[device]
    fp16 = block.precision == "fp16"
    dense_peak = (fp16_peak if fp16 else fp16_peak / 2) * 1e12
    total = 0.0
    for flops, nbytes, depthwise in _layer_costs(block, 2 if fp16 else 4):
        peak = fp32_peak * 1e12 if depthwise else dense_peak
        compute = flops / (peak * ASSUMPTIONS["compute_efficiency"])
        memory = nbytes / (bandwidth * 1e9 * ASSUMPTIONS["memory_efficiency"])
        total += max(compute, memory) + ASSUMPTIONS["layer_overhead_us"] * 1e-6
    return total * 1e3


def estimate_table(device: str, space: SearchSpace, output_size: tuple[int, int],
                   precision: str) -> LatencyTable:
    """A LUT for ``device`` from the roofline model, marked ``method: roofline-estimate``."""
    if device not in DEVICE_SPECS:
        raise UserError(f"no published peaks for {device!r}; known: {', '.join(DEVICE_SPECS)}")
    fp16_peak, fp32_peak, bandwidth, label = DEVICE_SPECS[device]
    table = LatencyTable.new(space, output_size, precision, ESTIMATE, {
        "device": {"kind": "jetson", "name": f"{label} (estimated)", "estimate_of": device,
                   "peaks": {"fp16_dense_tflops": fp16_peak, "fp32_tflops": fp32_peak,
                             "bandwidth_gbs": bandwidth}},
        "runtime": {"runtime": "tensorrt", "version": None, "precision": precision,
                    "timing": "not measured: roofline estimate", "assumptions": ASSUMPTIONS},
        "protocol": None,
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    })
    for block in space_blocks(space, output_size, precision):
        ms = estimate_block_ms(block, device)
        table.set_entry(block, ms, 0.0)  # milliseconds over the nominal 1 ms reference
    return table
