"""Export and deployment: ONNX and TensorRT artifacts of a run, and on-device validation.

Follows Polygraphy's layering: loaders (:mod:`tnas_pipeline.deploy.onnx_export`, and the engine
builder :mod:`tnas_pipeline.runtime.trt.engine`), runners with one interface that touch nothing
until entered (:mod:`tnas_pipeline.runtime.runners`,
:class:`tnas_pipeline.runtime.trt.runner.TrtRunner`), a comparator across them
(:mod:`tnas_pipeline.deploy.comparator`); on top, ``tnas-pipeline export``
(:mod:`tnas_pipeline.deploy.exporter`, :mod:`tnas_pipeline.deploy.engine_export`) and
``tnas-pipeline validate`` (:mod:`tnas_pipeline.deploy.validation`). TensorRT and the CUDA bindings
are imported only where used, so everything else works without.

The runners and the TensorRT engine builder live in :mod:`tnas_pipeline.runtime` (the design
card's ``pipeline/`` folder), not here: the latency profiler builds and times engines with them,
and imports run one way (networks → runtime → latency → search → workflows such as export).
"""
