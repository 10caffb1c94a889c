"""ONNX Runtime runner: an exported ONNX model in an ``InferenceSession``.

Sessions come from :func:`tnas_pipeline.runtime.ort_session.create_session`, the builder the latency
profiler's ONNX Runtime backend uses too (full graph optimisation, fixed threads, spin-waiting
off), so what is validated is what was profiled.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from tnas_pipeline.runtime.runners.base import Runner

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
        from tnas_pipeline.runtime.ort_session import create_session

        self.session = create_session(self.model, self.threads, self.providers, name=self.name)
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
