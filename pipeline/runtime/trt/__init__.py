"""TensorRT export and runtime: strongly typed engine builds, a runner, and a small CUDA layer.

Follows Polygraphy's layering: TensorRT and the CUDA bindings are imported only inside the
functions that need them (``availability.require_tensorrt``, ``cuda.load_cuda``), so importing
this package works on any machine; a runner touches no GPU until it is entered.
"""
