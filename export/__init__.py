"""Export and deployment: ONNX, TensorRT, runtimes and on-device validation.

Follows Polygraphy's layering (STYLE.md): loaders (:mod:`tnas_pipeline.export.onnx_export`,
:mod:`tnas_pipeline.export.trt.engine`), runners with one interface that touch nothing until entered
(:mod:`tnas_pipeline.export.runners`, :class:`tnas_pipeline.export.trt.runner.TrtRunner`), a
comparator across them (:mod:`tnas_pipeline.export.comparator`); on top, ``tnas-pipeline export``
(:mod:`tnas_pipeline.export.exporter`, :mod:`tnas_pipeline.export.engine_export`) and
``tnas-pipeline validate`` (:mod:`tnas_pipeline.export.validation`). TensorRT and the CUDA bindings
are imported only where used, so everything else works without.
"""
