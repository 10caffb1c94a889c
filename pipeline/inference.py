"""Upscalers: one interface over a trained run, an ONNX file, and bicubic interpolation.

An upscaler maps an LR uint8 image (H×W×3, or H×W grayscale) to an HR float image in the
[0, 255] range (not yet clamped or rounded: the metric does that, and so does saving).
Grayscale input goes through colour networks as three equal channels; the output's channel mean
is the grayscale result.

``upscale_bands`` gives the same result already clamped and rounded to uint8, one band of tile
rows at a time, for images too large to hold as floats: ``upscale`` writes files from it. A tile
with NaN or Inf in the network's output stops it with a :class:`UserError` (broken weights would
otherwise be written as a plausible-looking image).
"""

from __future__ import annotations

import abc
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

import numpy as np
import torch
from PIL import Image

from tnas_pipeline.data.degradation import upscale_bicubic
from tnas_pipeline.data.images import as_rgb
from tnas_pipeline.errors import UserError
from tnas_pipeline.tiling import (
    DEFAULT_OVERLAP,
    DEFAULT_TILE,
    check_tiling,
    own_region,
    tile_rows,
    tiled_apply,
)


class Upscaler(Protocol):
    """Anything that super-resolves an LR image by a fixed ``scale``."""

    scale: int
    description: str
    receptive_field: int | None  # LR pixels (tnas_pipeline.receptive_field); None: unbounded

    def upscale(self, lr: np.ndarray) -> np.ndarray: ...

    def upscale_bands(self, lr: np.ndarray) -> Iterator[np.ndarray]: ...


def quantize_u8(hr: np.ndarray) -> np.ndarray:
    """Clamp and round half to even to uint8, as :func:`tnas_pipeline.metrics.quantize` does,
    in float32: rounding a float32 to an integer is exact, so the result is the same."""
    return np.clip(np.rint(hr), 0, 255).astype(np.uint8)


class BicubicUpscaler:
    """Antialiased bicubic interpolation (the baseline row of every SR table)."""

    receptive_field = 2  # the cubic kernel's taps either side (upscaling does not widen it)

    def __init__(self, scale: int, tile: int = DEFAULT_TILE) -> None:
        self.scale, self.tile = scale, tile
        self.description = f"bicubic x{scale}"

    def upscale(self, lr: np.ndarray) -> np.ndarray:
        return upscale_bicubic(lr, self.scale).astype(np.float32)

    def upscale_bands(self, lr: np.ndarray) -> Iterator[np.ndarray]:
        """Bands of ``tile`` LR rows equal to the rows of one whole resize. Pillow resizes
        horizontally, rounds to uint8, then vertically; so does each band, on its rows plus
        three rows of context (the kernel reaches 2.5), keeping its own rows with ``box``."""
        h, w = lr.shape[:2]
        s, band, ctx = self.scale, (self.tile if self.tile > 0 else h), 3
        for y0 in range(0, h, band):
            y1, c0, c1 = min(y0 + band, h), max(0, y0 - ctx), min(h, y0 + band + ctx)
            with Image.fromarray(lr[c0:c1]) as rows:
                wide = rows.resize((w * s, c1 - c0), Image.Resampling.BICUBIC)
            out = wide.resize((w * s, (y1 - y0) * s), Image.Resampling.BICUBIC,
                              box=(0, y0 - c0, w * s, y1 - c0))
            yield np.asarray(out)


class _ArrayUpscaler(abc.ABC):
    """Shared path of network upscalers: uint8 → 1×3×H×W float in [0, 1] → tiles → [0, 255]."""

    scale: int
    tile: int
    overlap: int
    receptive_field: int | None = None

    @abc.abstractmethod
    def _run(self, x: np.ndarray) -> np.ndarray:
        """Run the network on one 1×3×h×w float32 tile in [0, 1]."""

    def upscale(self, lr: np.ndarray) -> np.ndarray:
        gray = lr.ndim == 2
        x = as_rgb(lr).astype(np.float32).transpose(2, 0, 1)[None] / 255.0
        y = tiled_apply(self._run, x, self.scale, self.tile, self.overlap)
        hr = y[0].transpose(1, 2, 0) * 255.0
        return hr.mean(axis=2) if gray else hr

    def _tile_hr(self, patch: np.ndarray) -> np.ndarray:
        """``upscale``'s arithmetic on one LR patch (uint8): HR floats in [0, 255]."""
        x = as_rgb(patch).astype(np.float32).transpose(2, 0, 1)[None] / 255.0
        y = self._run(np.ascontiguousarray(x))
        if not np.isfinite(y).all():
            raise UserError(f"{self.description}: the network's output has NaN or Inf values "
                            "(its weights are broken or overflow); retrain or re-export the "
                            "model; nothing was written")
        hr = y[0].transpose(1, 2, 0) * 255.0
        return hr.mean(axis=2) if patch.ndim == 2 else hr

    def upscale_bands(self, lr: np.ndarray) -> Iterator[np.ndarray]:
        """``quantize(upscale(lr))``, one band of tile rows at a time: each tile is run, its own
        region kept and rounded to uint8 at once, so no float copy of the image is ever made."""
        s, (h, w) = self.scale, lr.shape[:2]
        for row in tile_rows(h, w, self.tile, self.overlap):
            band = np.empty(((row[0].y1 - row[0].y0) * s, w * s, *lr.shape[2:]), np.uint8)
            for win in row:
                hr = self._tile_hr(lr[win.py0:win.py1, win.px0:win.px1])
                band[:, win.x0 * s : win.x1 * s] = quantize_u8(hr[own_region(win, s)])
            yield band


class TorchUpscaler(_ArrayUpscaler):
    """A PyTorch SR network in eval mode, run without gradients, tile by tile."""

    def __init__(self, model: torch.nn.Module, scale: int, device: str = "cpu",
                 tile: int = DEFAULT_TILE, overlap: int = DEFAULT_OVERLAP,
                 description: str = "pytorch", receptive_field: int | None = None) -> None:
        self.model = model.to(device).eval()
        self.scale, self.device, self.tile, self.overlap = scale, device, tile, overlap
        self.description, self.receptive_field = description, receptive_field

    def _run(self, x: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return self.model(torch.from_numpy(x).to(self.device)).float().cpu().numpy()


class OnnxUpscaler(_ArrayUpscaler):
    """An ONNX SR model in ONNX Runtime, in the session the profiler and ``validate`` use
    (:mod:`tnas_pipeline.runtime.ort_session`)."""

    def __init__(self, path: str | Path, tile: int = DEFAULT_TILE,
                 overlap: int = DEFAULT_OVERLAP, threads: int | None = None) -> None:
        from tnas_pipeline.receptive_field import onnx_receptive_field
        from tnas_pipeline.runtime.ort_session import create_session

        path = Path(path)
        self.session = create_session(path, threads, name=str(path))
        inputs = self.session.get_inputs()
        if len(inputs) != 1 or len(inputs[0].shape) != 4:
            raise UserError(f"{path}: expected one 4-D image input (N×C×H×W)")
        self.input_name = inputs[0].name
        self.input_dtype = np.float16 if "float16" in inputs[0].type else np.float32
        self.tile, self.overlap = tile, overlap
        self.receptive_field = onnx_receptive_field(path)
        meta = self.session.get_modelmeta().custom_metadata_map
        self.scale = int(meta["scale"]) if "scale" in meta else self._probe_scale()
        self.description = f"onnx {path.name}"

    def _probe_scale(self) -> int:
        probe = np.zeros((1, 3, 8, 8), dtype=np.float32)
        out = self._run(probe)
        return out.shape[-1] // 8

    def _run(self, x: np.ndarray) -> np.ndarray:
        out = self.session.run(None, {self.input_name: x.astype(self.input_dtype)})[0]
        return np.asarray(out, dtype=np.float32)


def load_upscaler(source: str | Path | None, bicubic: bool = False, scale: int | None = None,
                  device: str = "cpu", tile: int = DEFAULT_TILE,
                  overlap: int | None = None) -> Upscaler:
    """Open a run directory, an ``.onnx`` file, or (``bicubic=True``) bicubic at ``scale``.

    ``overlap`` ``None`` is the network's receptive field; a smaller one, which would leave
    seams, and a ``scale`` that disagrees with the model's are :class:`UserError`.
    """
    check_tiling(tile, overlap, None)
    if bicubic:
        if source is not None:
            raise UserError("pass either a model (run directory or .onnx) or --bicubic, not both")
        return BicubicUpscaler(scale or 2, tile)
    if source is None:
        raise UserError("no model given; pass a run directory, an .onnx file, or --bicubic")
    path = Path(source)
    if path.is_file() and path.suffix.lower() == ".onnx":
        up: _ArrayUpscaler = OnnxUpscaler(path, tile=tile)
    elif path.is_dir():
        from tnas_pipeline.receptive_field import arch_receptive_field
        from tnas_pipeline.run_dir import RunDir

        arch, model = RunDir(path).load_model()
        up = TorchUpscaler(model, arch.scale, device, tile,
                           description=f"run {path.name} ({arch.name})",
                           receptive_field=arch_receptive_field(arch))
    else:
        raise UserError(f"{path}: not a run directory or an .onnx file")
    if scale is not None and scale != up.scale:
        raise UserError(f"{path} is a x{up.scale} model but --scale {scale} was asked for")
    up.overlap = check_tiling(tile, overlap, up.receptive_field)
    return up
