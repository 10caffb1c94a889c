"""Which run an artifact belongs to, and whether an engine may run on this machine.

An exported file carries the SHA-256 of its run's ``arch.json`` and ``weights.safetensors``:
ONNX files in their ``metadata_props``, TensorRT engines in a manifest next to them
(``model.engine.json``). ``validate`` refuses an artifact whose hashes are not its run's (another
run, or the run retrained since the export), and an engine built by another TensorRT version or
for another GPU model, which TensorRT could not deserialize or would run with tactics tuned for
a different device.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tnas_pipeline.errors import UserError
from tnas_pipeline.io_utils import atomic_path, file_sha256, read_json_file, write_json_atomic
from tnas_pipeline.training.run_dir import RunDir

ARCH_KEY, WEIGHTS_KEY = "tnas.arch_sha256", "tnas.weights_sha256"


def run_identity(run: RunDir) -> dict[str, str]:
    """The hashes that tie an artifact to ``run``: its architecture and its weights."""
    run.require(run.arch, run.weights)
    return {ARCH_KEY: file_sha256(run.arch), WEIGHTS_KEY: file_sha256(run.weights)}


def check_identity(found: dict[str, Any], run: RunDir, artifact: Path) -> None:
    """Raise a :class:`UserError` unless ``found`` holds ``run``'s architecture and weights."""
    if ARCH_KEY not in found or WEIGHTS_KEY not in found:
        raise UserError(f"{artifact}: not exported by `tnas-pipeline export` (no run hashes in "
                        f"it); export it with `tnas-pipeline export --run {run.path}`")
    expected = run_identity(run)
    if found[ARCH_KEY] != expected[ARCH_KEY]:
        raise UserError(f"{artifact} was exported from another run (its architecture differs "
                        f"from {run.arch}); pass the run it came from, or re-export with "
                        f"`tnas-pipeline export --run {run.path}`")
    if found[WEIGHTS_KEY] != expected[WEIGHTS_KEY]:
        raise UserError(f"{artifact} holds other weights than {run.weights} (another run, or the "
                        f"run was trained further since the export); re-export with "
                        f"`tnas-pipeline export --run {run.path}`")


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
    (as :func:`tnas_pipeline.export.trt.cuda.gpu_info` and ``tensorrt.__version__`` report them).
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
