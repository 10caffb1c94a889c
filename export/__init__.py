"""Export and deployment: ONNX, TensorRT, runtimes and on-device validation.

In place for the export issue; it will follow Polygraphy's layering (loaders named
``<Target>From<Source>``, runners as context managers, a comparator across PyTorch, ONNX Runtime
and TensorRT). Until then, ``tnas-pipeline evaluate`` and ``upscale`` already run ONNX files
through ONNX Runtime (``pipeline.inference.OnnxUpscaler``).
"""
