"""The latency tables shipped with tnas-pipeline, installed as package data.

The folder keeps the design card's name in the source tree; the build maps it to
``tnas_pipeline.hardware_profiles`` and :mod:`tnas_pipeline.latency.shipped` reads it with
:mod:`importlib.resources`, so a plain (non-editable) install finds the tables as well.
"""
