"""The one runtime layer: how a network becomes an ONNX graph, and how ONNX Runtime runs it.

Everything that exports or runs ONNX goes through these two modules, so that the graph the
latency profiler times is the graph ``export`` ships, and the ONNX Runtime session the profiler
times is configured exactly as the sessions ``validate``, ``upscale`` and the benchmarks run:

* :mod:`tnas_pipeline.runtime.onnx_graph`: the single ``torch.onnx.export`` call (re-parameterised,
  FP32 or FP16 inside with FP32 input and output, static or dynamic shape);
* :mod:`tnas_pipeline.runtime.ort_session`: the single ``InferenceSession`` builder (full graph
  optimisation, fixed threads, spin-waiting off), pre-bound buffers for timing, and CPU pinning.

Imports run one way: networks → runtime → latency → search → workflows → CLI.
"""
