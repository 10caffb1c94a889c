"""The self-describing run directory that training, search and export write, and the hashes that
tie an exported artifact to its run.

::

    RUN/
      arch.json           the architecture artifact
      weights.safetensors final network weights
      metrics.json        validation history and final scores, parameters, Mult-Adds
      config.json         the training configuration (what --resume continues)
      command.json        command line, date, machine, library versions
      checkpoint.pt       model + optimiser + sampler state for --resume (tensors and plain data)

An exported file carries the SHA-256 of its run's ``arch.json`` and ``weights.safetensors``
(ONNX files in their ``metadata_props``, TensorRT engines in a manifest next to them);
``validate`` refuses an artifact whose hashes are not its run's (another run, or the run retrained
since the export).

Every file is written atomically. Weights load through safetensors and the checkpoint through
``torch.load(weights_only=True)``: nothing user-supplied is unpickled.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from tnas_pipeline.errors import UserError
from tnas_pipeline.io_utils import atomic_path, file_sha256, read_json_file
from tnas_pipeline.networks.architecture import Architecture
from tnas_pipeline.networks.builder import SRNetwork, build_network


class RunDir:
    """Paths and readers/writers of one run directory."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    arch = property(lambda self: self.path / "arch.json")
    weights = property(lambda self: self.path / "weights.safetensors")
    metrics = property(lambda self: self.path / "metrics.json")
    config = property(lambda self: self.path / "config.json")
    command = property(lambda self: self.path / "command.json")
    checkpoint = property(lambda self: self.path / "checkpoint.pt")

    def require(self, *files: Path) -> None:
        """Raise a :class:`UserError` naming every missing file."""
        if not self.path.is_dir():
            raise UserError(f"{self.path}: no such run directory")
        missing = [f.name for f in files if not f.is_file()]
        if missing:
            raise UserError(
                f"{self.path}: run directory is missing {', '.join(missing)}; "
                "finish or resume the run (tnas-pipeline train --resume -o RUN) first"
            )

    FILES = ("arch.json", "weights.safetensors", "metrics.json", "config.json", "command.json",
             "checkpoint.pt")

    def clear(self) -> None:
        """Delete the files a run writes (and nothing else the folder may hold)."""
        for name in self.FILES:
            (self.path / name).unlink(missing_ok=True)

    # -- weights and architecture ---------------------------------------------------------------
    def save_weights(self, model: torch.nn.Module) -> None:
        state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
        with atomic_path(self.weights) as tmp:
            save_file(state, str(tmp))

    def load_model(self) -> tuple[Architecture, SRNetwork]:
        """The run's architecture and its network with trained weights (CPU, eval mode)."""
        self.require(self.arch, self.weights)
        arch = Architecture.load(self.arch)
        model = build_network(arch)
        try:
            state = load_file(str(self.weights))
        except Exception as exc:  # safetensors raises its own error type on corrupt files
            raise UserError(f"{self.weights}: cannot read weights ({exc})") from None
        result = model.load_state_dict(state, strict=False)
        if result.missing_keys or result.unexpected_keys:
            raise UserError(
                f"{self.weights}: weights do not match {self.arch.name} (missing "
                f"{len(result.missing_keys)}, unexpected {len(result.unexpected_keys)} tensors); "
                "the files come from different runs"
            )
        return arch, model.eval()

    # -- json records ---------------------------------------------------------------------------
    def read_json(self, path: Path) -> Any:
        return read_json_file(path, "missing from the run directory",
                              "corrupt JSON ({exc}); delete the run and start again")

    # -- checkpoints ----------------------------------------------------------------------------
    def save_checkpoint(self, state: dict[str, Any]) -> None:
        with atomic_path(self.checkpoint) as tmp:
            torch.save(state, tmp)

    def load_checkpoint(self) -> dict[str, Any]:
        try:
            return torch.load(self.checkpoint, map_location="cpu", weights_only=True)
        except FileNotFoundError:
            raise UserError(f"{self.checkpoint}: no checkpoint to resume from") from None
        except Exception as exc:  # unpickling errors, truncated files
            raise UserError(
                f"{self.checkpoint}: corrupt checkpoint ({type(exc).__name__}); "
                "start a new run instead of --resume"
            ) from None


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
