"""PyTorch runner: the reference every exported artifact is compared with."""

from __future__ import annotations

import copy
from collections.abc import Mapping

import numpy as np
import torch

from tnas_pipeline.errors import UserError
from tnas_pipeline.runtime.runners.base import Runner

INPUT, OUTPUT = "input", "output"  # the names the ONNX export gives the graph


class TorchRunner(Runner):
    """An SR network in eval mode under ``inference_mode`` on ``device`` (``cpu`` or ``cuda``).

    The module is copied on activation, so moving it to a GPU or to FP16 leaves the caller's
    module as it was. Outputs come back as FP32 host arrays.
    """

    def __init__(self, model: torch.nn.Module, device: str = "cpu", precision: str = "fp32",
                 name: str | None = None) -> None:
        super().__init__(name or f"pytorch-{device}-{precision}")
        self.model, self.device, self.precision = model, device, precision
        self.dtype = {"fp32": torch.float32, "fp16": torch.float16}[precision]
        self._active: torch.nn.Module | None = None

    def activate(self) -> None:
        if self.device.startswith("cuda") and not torch.cuda.is_available():
            raise UserError("PyTorch sees no CUDA GPU; use the CPU as the reference")
        self._active = copy.deepcopy(self.model).to(self.device, self.dtype).eval()
        self.input_names, self.output_names = [INPUT], [OUTPUT]

    def deactivate(self) -> None:
        self._active = None
        if self.device.startswith("cuda"):
            torch.cuda.empty_cache()

    def infer(self, feed: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        self.require_active()
        self.check_feed(feed)
        x = torch.from_numpy(np.ascontiguousarray(feed[INPUT])).to(self.device, self.dtype)
        with torch.inference_mode():
            y = self._active(x)  # type: ignore[misc]
        return {OUTPUT: y.float().cpu().numpy()}
