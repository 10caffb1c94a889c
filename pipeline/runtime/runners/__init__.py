"""Runners with one interface for PyTorch, ONNX Runtime and TensorRT (Polygraphy's layering).

A runner holds only what it was given until it is entered; ``with runner:`` loads the model on
its device (a session, an engine, a module moved to a GPU) and leaving frees it. Inside,
``infer({name: array})`` returns ``{name: array}`` on the host, so a
:class:`~tnas_pipeline.deploy.comparator.Comparator` can feed several runners the same inputs.
"""

from tnas_pipeline.runtime.runners.base import Runner
from tnas_pipeline.runtime.runners.onnxrt_runner import OnnxrtRunner
from tnas_pipeline.runtime.runners.torch_runner import TorchRunner

__all__ = ["OnnxrtRunner", "Runner", "TorchRunner"]
