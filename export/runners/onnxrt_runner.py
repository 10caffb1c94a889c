"""ONNX Runtime runner: an exported ONNX model in an ``InferenceSession``.

Sessions use full graph optimisation and a fixed intra-op thread count, as the latency profiler's
ONNX Runtime backend does (REFERENCE.md, "ONNX Runtime on CPU"), so what is validated is what
was profiled.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from export.runners.base import Runner
from pipeline.errors import UserError

_NP_TYPES = {"tensor(float)": np.float32, "tensor(float16)": np.float16}


class OnnxrtRunner(Runner):
    """Runs an ONNX model (bytes or a path) with ONNX Runtime.

    Args:
        model: The serialized model, or the path of an ``.onnx`` file.
        providers: Execution providers in order of preference; ``None`` means the CPU.
        threads: Intra-op threads; ``None`` leaves ONNX Runtime's default (all cores).
    """

    def __init__(self, model: bytes | str | Path, providers: Sequence[str] | None = None,
                 threads: int | None = None, name: str | None = None) -> None:
        self.model = model
        self.providers = list(providers or ["CPUExecutionProvider"])
        self.threads = threads
        label = Path(model).name if isinstance(model, (str, Path)) else "onnx"
        super().__init__(name or f"onnxruntime-{label}")
        self.session = None
        self.input_types: dict[str, type] = {}

    def activate(self) -> None:
        import onnxruntime as ort

        missing = [p for p in self.providers if p not in ort.get_available_providers()]
        if missing:
            raise UserError(f"this onnxruntime has no {', '.join(missing)}; install "
                            "onnxruntime-gpu for CUDA, or validate on the CPU")
        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if self.threads:
            opts.intra_op_num_threads = self.threads
        source = str(self.model) if isinstance(self.model, (str, Path)) else self.model
        try:
            self.session = ort.InferenceSession(source, opts, providers=self.providers)
        except Exception as exc:  # ORT raises its own exception types for unreadable models
            raise UserError(f"ONNX Runtime cannot load {self.name} ({' '.join(str(exc).split())})"
                            ) from None
        self.input_names = [i.name for i in self.session.get_inputs()]
        self.output_names = [o.name for o in self.session.get_outputs()]
        self.input_types = {i.name: _NP_TYPES.get(i.type, np.float32)
                            for i in self.session.get_inputs()}

    def deactivate(self) -> None:
        self.session = None

    def infer(self, feed: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        self.require_active()
        self.check_feed(feed)
        inputs = {n: np.ascontiguousarray(feed[n], dtype=self.input_types[n]) for n in feed}
        outputs = self.session.run(None, inputs)  # type: ignore[union-attr]
        return dict(zip(self.output_names, outputs, strict=True))
