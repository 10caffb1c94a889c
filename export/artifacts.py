"""TensorRT engine files and their manifests, and whether an engine may run on this machine.

An engine's manifest (``model.engine.json``) holds its run's hashes
(:func:`tnas_pipeline.run_dir.run_identity`). ``validate`` refuses an engine built by another
TensorRT version or for another GPU model, which TensorRT could not deserialize or would run with
tactics tuned for a different device.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tnas_pipeline.errors import UserError
from tnas_pipeline.io_utils import atomic_path, read_json_file, write_json_atomic


def engine_manifest_path(engine: Path) -> Path:
    return engine.with_name(engine.name + ".json")


def save_engine(path: Path, plan: bytes, manifest: dict[str, Any]) -> None:
    """Write an engine and its manifest, each atomically (the manifest last)."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(plan)
    write_json_atomic(engine_manifest_path(path), manifest)


def read_engine_manifest(path: Path) -> dict[str, Any]:
    return read_json_file(engine_manifest_path(path),
                          "missing: an engine needs the manifest export writes next to it; "
                          "rebuild it with `tnas-pipeline export --format trt`",
                          "corrupt JSON ({exc}); rebuild the engine with `tnas-pipeline export "
                          "--format trt`")


def check_engine_compatible(manifest: dict[str, Any], here: dict[str, Any], path: Path) -> None:
    """Refuse an engine built by another TensorRT version or for another GPU model.

    ``here`` has this machine's ``tensorrt`` version, ``gpu`` name and ``compute_capability``
    (as :func:`tnas_pipeline.runtime.trt.cuda.gpu_info` and ``tensorrt.__version__`` report them).
    """
    built = (f"{manifest.get('gpu')} (compute {manifest.get('compute_capability')}), "
             f"TensorRT {manifest.get('tensorrt')}")
    this = f"{here.get('gpu')} (compute {here.get('compute_capability')}), " \
           f"TensorRT {here.get('tensorrt')}"
    same = all(str(manifest.get(k)) == str(here.get(k))
               for k in ("tensorrt", "gpu", "compute_capability"))
    if not same:
        raise UserError(f"{path} was built for {built}, but this machine has {this}; an engine "
                        "runs only where it was built: rebuild it here with `tnas-pipeline "
                        "export --format trt`")
