"""Upscalers: one interface over a trained run, an ONNX file, and bicubic interpolation.

An upscaler maps an LR uint8 image (H×W×3, or H×W grayscale) to an HR float image in the
[0, 255] range (not yet clamped or rounded: the metric does that, and so does saving).
Grayscale input goes through colour networks as three equal channels; the output's channel mean
is the grayscale result.
"""

from __future__ import annotations

import abc
from pathlib import Path
from typing import Protocol

import numpy as np
import torch

from tnas_pipeline.data.degradation import upscale_bicubic
from tnas_pipeline.data.images import as_rgb
from tnas_pipeline.errors import UserError
from tnas_pipeline.tiling import DEFAULT_OVERLAP, DEFAULT_TILE, tiled_apply


class Upscaler(Protocol):
    """Anything that super-resolves an LR image by a fixed ``scale``."""

    scale: int
    description: str

    def upscale(self, lr: np.ndarray) -> np.ndarray: ...


class BicubicUpscaler:
    """Antialiased bicubic interpolation (the baseline row of every SR table)."""

    def __init__(self, scale: int) -> None:
        self.scale = scale
        self.description = f"bicubic x{scale}"

    def upscale(self, lr: np.ndarray) -> np.ndarray:
        return upscale_bicubic(lr, self.scale).astype(np.float32)


class _ArrayUpscaler(abc.ABC):
    """Shared path of network upscalers: uint8 → 1×3×H×W float in [0, 1] → tiles → [0, 255]."""

    scale: int
    tile: int
    overlap: int

    @abc.abstractmethod
    def _run(self, x: np.ndarray) -> np.ndarray:
        """Run the network on one 1×3×h×w float32 tile in [0, 1]."""

    def upscale(self, lr: np.ndarray) -> np.ndarray:
        gray = lr.ndim == 2
        x = as_rgb(lr).astype(np.float32).transpose(2, 0, 1)[None] / 255.0
        y = tiled_apply(self._run, x, self.scale, self.tile, self.overlap)
        hr = y[0].transpose(1, 2, 0) * 255.0
        return hr.mean(axis=2) if gray else hr


class TorchUpscaler(_ArrayUpscaler):
    """A PyTorch SR network in eval mode, run without gradients, tile by tile."""

    def __init__(self, model: torch.nn.Module, scale: int, device: str = "cpu",
                 tile: int = DEFAULT_TILE, overlap: int = DEFAULT_OVERLAP,
                 description: str = "pytorch") -> None:
        self.model = model.to(device).eval()
        self.scale, self.device, self.tile, self.overlap = scale, device, tile, overlap
        self.description = description

    def _run(self, x: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return self.model(torch.from_numpy(x).to(self.device)).float().cpu().numpy()


class OnnxUpscaler(_ArrayUpscaler):
    """An ONNX SR model in ONNX Runtime, in the session the profiler and ``validate`` use
    (:mod:`tnas_pipeline.runtime.ort_session`)."""

    def __init__(self, path: str | Path, tile: int = DEFAULT_TILE,
                 overlap: int = DEFAULT_OVERLAP, threads: int | None = None) -> None:
        from tnas_pipeline.runtime.ort_session import create_session

        path = Path(path)
        self.session = create_session(path, threads, name=str(path))
        inputs = self.session.get_inputs()
        if len(inputs) != 1 or len(inputs[0].shape) != 4:
            raise UserError(f"{path}: expected one 4-D image input (N×C×H×W)")
        self.input_name = inputs[0].name
        self.input_dtype = np.float16 if "float16" in inputs[0].type else np.float32
        self.tile, self.overlap = tile, overlap
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
                  overlap: int = DEFAULT_OVERLAP) -> Upscaler:
    """Open a run directory, an ``.onnx`` file, or (``bicubic=True``) bicubic at ``scale``.

    A ``scale`` that disagrees with the model's is a :class:`UserError`.
    """
    if bicubic:
        if source is not None:
            raise UserError("pass either a model (run directory or .onnx) or --bicubic, not both")
        return BicubicUpscaler(scale or 2)
    if source is None:
        raise UserError("no model given; pass a run directory, an .onnx file, or --bicubic")
    path = Path(source)
    if path.is_file() and path.suffix.lower() == ".onnx":
        up: Upscaler = OnnxUpscaler(path, tile=tile, overlap=overlap)
    elif path.is_dir():
        from tnas_pipeline.run_dir import RunDir

        arch, model = RunDir(path).load_model()
        up = TorchUpscaler(model, arch.scale, device, tile, overlap,
                           description=f"run {path.name} ({arch.name})")
    else:
        raise UserError(f"{path}: not a run directory or an .onnx file")
    if scale is not None and scale != up.scale:
        raise UserError(f"{path} is a x{up.scale} model but --scale {scale} was asked for")
    return up
