"""Export and deployment: ONNX, TensorRT, runtimes and on-device validation.

Follows Polygraphy's layering (STYLE.md): loaders (:mod:`export.onnx_export`,
:mod:`export.trt.engine`), runners with one interface that touch nothing until entered
(:mod:`export.runners`, :class:`export.trt.runner.TrtRunner`), a comparator across them
(:mod:`export.comparator`); on top, ``tnas-pipeline export`` (:mod:`export.exporter`,
:mod:`export.engine_export`) and ``tnas-pipeline validate`` (:mod:`export.validation`).
TensorRT and the CUDA bindings are imported only where used, so everything else works without.
"""
