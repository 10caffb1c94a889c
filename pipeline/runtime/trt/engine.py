"""Build a TensorRT engine from ONNX bytes: strongly typed, one profile, a persistent timing cache.

Follows the TensorRT developer guide's Python build flow (builder, network, ONNX parser, builder
config, ``build_serialized_network``) with these choices, each documented by NVIDIA (TensorRT
developer guide, 10.x/11.x release notes, Python API reference for ``IOptimizationProfile``):

* Strongly typed networks, so precision comes from the ONNX tensor types (export FP32 or FP16
  ONNX). TensorRT 11 removed ``BuilderFlag.FP16``/``INT8`` and always builds strongly typed; on
  10.x the ``STRONGLY_TYPED`` creation flag opts in, and 11.x accepts and ignores it. The same
  code therefore builds the same engine on both, including TensorRT 10.3 on JetPack 6.
* Tactics are tuned at the profile's ``opt`` shape: for latency, pass min = opt = max.
* A timing cache file, loaded before and saved after each build, so rebuilding a block picks the
  same kernels (engine builds otherwise differ between runs, a known source of LUT noise).
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from tnas_pipeline.errors import UserError
from tnas_pipeline.io_utils import atomic_path
from tnas_pipeline.runtime.trt.availability import require_tensorrt
from tnas_pipeline.runtime.trt.cuda import CudaApi, gpu_info

log = logging.getLogger(__name__)

Shape = Sequence[int]
ProfileShapes = Mapping[str, tuple[Shape, Shape, Shape]]  # input name -> (min, opt, max)

MAX_PARSER_ERRORS = 3  # listed in the UserError; the TensorRT log has the rest


def timing_cache_name(gpu_name: str, trt_version: str) -> str:
    """``trt-<gpu>-trt<version>.timing_cache``: a cache is valid for one GPU model and TensorRT
    version only, hence both in the name."""
    slug = re.sub(r"[^a-z0-9]+", "-", gpu_name.lower()).strip("-") or "gpu"
    return f"trt-{slug}-trt{trt_version}.timing_cache"


def trt_logger(trt: Any) -> Any:
    """A TensorRT logger that prints warnings and errors (the reasons a build fails)."""
    return trt.Logger(trt.Logger.WARNING)


def strongly_typed_flags(trt: Any) -> int:
    """``create_network`` flags for a strongly typed network on TensorRT 10.x and 11.x."""
    flag = getattr(trt.NetworkDefinitionCreationFlag, "STRONGLY_TYPED", None)
    # 11.x keeps the flag (ignored, strong typing is always on); should a later release drop
    # the name, 0 already means strongly typed there.
    return 0 if flag is None else 1 << int(flag)


def _one_line(text: object) -> str:
    return " ".join(str(text).split())


def _parse(trt: Any, network: Any, logger: Any, onnx_bytes: bytes) -> Any:
    parser = trt.OnnxParser(network, logger)
    if not parser.parse(onnx_bytes):
        n = parser.num_errors
        errors = "; ".join(_one_line(parser.get_error(i)) for i in range(min(n, MAX_PARSER_ERRORS)))
        more = f" (and {n - MAX_PARSER_ERRORS} more)" if n > MAX_PARSER_ERRORS else ""
        raise UserError(f"TensorRT could not parse the ONNX model: {errors}{more}; simplify it "
                        "(onnxsim) or check that its opset and ops are supported by this TensorRT")
    return parser  # kept alive until the build: the network may reference its weights


def _add_profile(builder: Any, network: Any, config: Any, input_shapes: ProfileShapes) -> None:
    inputs = {network.get_input(i).name: tuple(network.get_input(i).shape)
              for i in range(network.num_inputs)}
    unknown = sorted(set(input_shapes) - set(inputs))
    missing = sorted(n for n, shape in inputs.items()
                     if any(d < 0 for d in shape) and n not in input_shapes)
    if unknown or missing:
        raise UserError(f"input shapes do not match the ONNX inputs {sorted(inputs)}: "
                        f"unknown {unknown}, dynamic but not given {missing}")
    if not input_shapes:
        return  # a fully static network needs no profile
    profile = builder.create_optimization_profile()
    for name, (lo, opt, hi) in input_shapes.items():
        profile.set_shape(name, tuple(lo), tuple(opt), tuple(hi))
    config.add_optimization_profile(profile)


def _load_timing_cache(config: Any, path: Path | None) -> Any:
    data = path.read_bytes() if path is not None and path.is_file() else b""
    try:
        cache = config.create_timing_cache(data)
    except (RuntimeError, TypeError, ValueError):  # a truncated or foreign file
        cache = None
    # ignore_mismatch=False: timings from another GPU or TensorRT version would steer tactic
    # choice by a different device's speed, which is what a latency LUT must not do.
    if cache is None or not config.set_timing_cache(cache, False):
        log.warning("timing cache %s is unreadable or from another GPU or TensorRT; "
                    "starting a new one", path)
        cache = config.create_timing_cache(b"")
        config.set_timing_cache(cache, False)
    return cache


def build_engine(onnx_bytes: bytes, input_shapes: ProfileShapes,
                 workspace_bytes: int = 1 << 30, timing_cache_path: Path | None = None) -> bytes:
    """Build a serialized TensorRT engine (a plan) from an ONNX model.

    Args:
        onnx_bytes: The serialized ONNX model; its tensor types set the engine's precision.
        input_shapes: For each dynamic input, (min, opt, max) shapes of one optimisation
            profile. For latency measurement use min = opt = max at the target resolution.
        workspace_bytes: Limit of the builder's scratch memory pool (``WORKSPACE``).
        timing_cache_path: Timing cache file, read if it exists and rewritten atomically after
            the build. ``None`` means no persistent cache.

    Returns:
        The serialized engine, for :class:`tnas_pipeline.runtime.trt.runner.TrtRunner` or a
        ``.engine`` file.

    Raises:
        UserError: TensorRT is missing, the ONNX does not parse, the shapes do not match the
            model's inputs, or the build fails.
    """
    trt = require_tensorrt()
    logger = trt_logger(trt)
    builder = trt.Builder(logger)
    network = builder.create_network(strongly_typed_flags(trt))
    parser = _parse(trt, network, logger, onnx_bytes)
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, int(workspace_bytes))
    _add_profile(builder, network, config, input_shapes)
    if timing_cache_path is not None:
        timing_cache_path = Path(timing_cache_path)
        _load_timing_cache(config, timing_cache_path)

    plan = builder.build_serialized_network(network, config)
    del parser
    if plan is None:
        raise UserError("TensorRT failed to build the engine (its log above says why); common "
                        f"causes: workspace too small ({workspace_bytes} bytes), GPU out of "
                        "memory, or an op without an implementation at this precision")
    if timing_cache_path is not None:
        with atomic_path(timing_cache_path) as tmp:
            tmp.write_bytes(bytes(config.get_timing_cache().serialize()))
    return bytes(plan)


def engine_manifest(onnx_bytes: bytes, engine_bytes: bytes, input_shapes: ProfileShapes,
                    precision: str, cuda: CudaApi | None = None) -> dict[str, Any]:
    """Provenance of an engine: what built it, on which GPU, from which ONNX, at which shapes.

    An engine runs only on the TensorRT version and GPU model that built it, so these go
    next to every saved engine. ``cuda`` is an open :class:`CudaApi`; ``None`` opens one.
    """
    trt = require_tensorrt()
    return {
        "tensorrt": str(trt.__version__),
        **gpu_info(cuda),
        "precision": precision,
        "strongly_typed": True,
        "input_shapes": {name: {"min": list(lo), "opt": list(opt), "max": list(hi)}
                         for name, (lo, opt, hi) in input_shapes.items()},
        "onnx_sha256": hashlib.sha256(onnx_bytes).hexdigest(),
        "engine_sha256": hashlib.sha256(engine_bytes).hexdigest(),
        "engine_bytes": len(engine_bytes),
    }
