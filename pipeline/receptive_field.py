"""How far an SR network looks: its receptive-field radius in LR pixels.

Tiled upscaling (:mod:`tnas_pipeline.tiling`) cuts each tile with ``overlap`` LR pixels of real
context around it and keeps only the tile's own output. The kept output equals a whole-image pass
exactly when the overlap is at least the radius computed here: an output pixel depends on LR
pixels at most this far away, so the zero padding at a tile's cut edge never reaches it.

The radius of a chain of same-size convolutions is the sum of their ``(k - 1) / 2``; parallel
branches (residual connections, the global skip) take the larger of their radii. Ops whose output
depends on the whole input, as RLFN's attention (ESA: strided conv, max-pool, bilinear resize to
the input's size) does, have no finite radius: ``None``, and tiles only approximate them.
"""

from __future__ import annotations

from pathlib import Path

from tnas_pipeline.networks.architecture import Architecture, Layer, Upsampler
from tnas_pipeline.networks.reparam import REP_OPS

# Radius of each registered op (ops.py, ecb.py, mixed_path.py, rlfn.py); a test checks every
# registered op is here and that each radius matches the op's measured impulse response.
OP_RADIUS: dict[str, int | None] = {
    "conv1x1": 0, "conv3x3": 1, "conv5x5": 2,
    "resblock1x1": 0, "resblock3x3": 2, "resblock5x5": 4,        # two k×k convs
    "conv3x3_1x1": 1, "conv5x5_1x1": 2,                          # k×k then 1×1
    "invres3x3": 1, "invres5x5": 2, "invres7x7": 3,              # 1×1, depthwise k×k, 1×1
    "ecb": 1,                                                    # five branches, each 3×3
    "rlfb": None,                                                # ESA sees the whole input
    **{name: (1 if "conv3x3" in branches else 0) for name, branches in REP_OPS.items()},
}

# The global skip's interpolation: nearest reads one LR pixel, bilinear two, bicubic four taps.
SKIP_RADIUS = {"none": 0, "nearest": 0, "bilinear": 1, "bicubic": 2}


def deconv_radius(kernel: int, scale: int, padding: int) -> int:
    """Radius of a k×k transposed conv with stride ``scale``: output ``o`` reads input ``i``
    when ``0 <= o + padding - i·scale < kernel``; the worst case over one LR pixel's outputs."""
    radius = 0
    for o in range(scale):  # the outputs of LR pixel 0
        first = -((kernel - 1 - o - padding) // scale)  # ceil((o + padding - kernel + 1) / scale)
        last = (o + padding) // scale
        radius = max(radius, -first, last)
    return radius


def upsampler_radius(up: Upsampler, scale: int) -> int:
    """Radius of the LR → HR layer as :mod:`tnas_pipeline.networks.builder` builds it."""
    if up.type == "pixel_shuffle":
        return up.kernel // 2
    padding = max(0, -(-(up.kernel - scale) // 2))  # builder._deconv's padding
    return deconv_radius(up.kernel, scale, padding)


def layer_radius(layer: Layer) -> int | None:
    return OP_RADIUS.get(layer.op)


def arch_receptive_field(arch: Architecture) -> int | None:
    """The receptive-field radius of ``arch`` in LR pixels, or ``None`` when it is unbounded
    (or an op is not in :data:`OP_RADIUS`)."""
    radii = [layer_radius(arch.head), *(layer_radius(op) for c in arch.cells for op in c.ops)]
    if any(r is None for r in radii):
        return None
    trunk = sum(radii) + upsampler_radius(arch.upsampler, arch.scale)
    return max(trunk, SKIP_RADIUS[arch.global_skip])


# ONNX ops that mix pixels over a window or the whole image without being a stride-1 conv.
_UNBOUNDED_ONNX = {"MaxPool", "AveragePool", "LpPool", "GlobalAveragePool", "GlobalMaxPool",
                   "GlobalLpPool", "SpaceToDepth", "ReduceMean", "ReduceMax", "ReduceSum"}
_RESIZE_RADIUS = {"nearest": 0, "linear": 1, "cubic": 2}


def onnx_receptive_field(path: str | Path) -> int | None:
    """An upper bound of an exported model's radius, from its graph: the sum over every conv
    (and resize) node, as if all were chained. Exports are folded plain chains, so the bound is
    tight for them; a pooling or strided node makes it ``None``."""
    import onnx

    graph = onnx.load(str(path), load_external_data=False).graph
    weight_dims = {t.name: list(t.dims) for t in graph.initializer}
    total = 0
    for node in graph.node:
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        if node.op_type in _UNBOUNDED_ONNX:
            return None
        kernel = list(attrs.get("kernel_shape", weight_dims.get(
            node.input[1] if len(node.input) > 1 else "", [0, 0, -1])[2:]))
        if node.op_type in ("Conv", "ConvTranspose") and any(k < 1 for k in kernel):
            return None  # a kernel whose size the graph does not state
        if node.op_type == "Conv":
            if any(s != 1 for s in attrs.get("strides", [1])):
                return None
            dilation = list(attrs.get("dilations", [1] * len(kernel)))
            total += max((k - 1) * d // 2 for k, d in zip(kernel, dilation, strict=True))
        elif node.op_type == "ConvTranspose":
            strides = list(attrs.get("strides", [1] * len(kernel)))
            pads = list(attrs.get("pads", [0] * 2 * len(kernel)))
            total += max(deconv_radius(k, s, p)
                         for k, s, p in zip(kernel, strides, pads[: len(kernel)], strict=True))
        elif node.op_type in ("Resize", "Upsample"):
            mode = attrs.get("mode", b"nearest")
            total += _RESIZE_RADIUS.get(mode.decode() if isinstance(mode, bytes) else mode, 2)
    return total
