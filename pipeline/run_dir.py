"""The self-describing run directory that training, search and export write, and the hashes that
tie an exported artifact to its run.

::

    RUN/
      arch.json           the architecture artifact
      weights.safetensors final network weights
      metrics.json        validation history and final scores, parameters, Mult-Adds
      config.json         the training configuration (what --resume continues)
      command.json        the command that made the run (``created_by``: train, search or run)
                          and every invocation since (``invocations``: command line, date,
                          machine, library versions; the latest also at the top level)
      checkpoint.pt       model + optimiser + sampler state for --resume (tensors and plain data)

Only the command that made a run continues it: ``--resume`` of another is refused with the one
that does, and so is a directory holding no checkpoint (there is nothing to resume). While a
command writes a run it holds the run's lock (:mod:`tnas_pipeline.run_lock`).

An exported file carries the SHA-256 of its run's ``arch.json`` and ``weights.safetensors``
(ONNX files in their ``metadata_props``, TensorRT engines in a manifest next to them);
``validate`` refuses an artifact whose hashes are not its run's (another run, or the run retrained
since the export).

Every file is written atomically. Weights load through safetensors and the checkpoint through
``torch.load(weights_only=True)``: nothing user-supplied is unpickled.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from tnas_pipeline.errors import UserError
from tnas_pipeline.io_utils import atomic_path, file_sha256, read_json_file
from tnas_pipeline.networks.architecture import Architecture
from tnas_pipeline.networks.builder import SRNetwork, build_network
from tnas_pipeline.provenance import provenance

#: How each command starts a run afresh over an existing directory (the hint when there is
#: nothing to resume).
START_AFRESH = {"train": "tnas-pipeline train MODEL --overwrite",
                "search": "tnas-pipeline search --latency-budget BUDGET --overwrite",
                "run": "tnas-pipeline run --overwrite"}


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
        """Raise a :class:`UserError` naming every missing file and the command that would
        write them."""
        if not self.path.is_dir():
            raise UserError(f"{self.path}: no such run directory")
        missing = [f.name for f in files if not f.is_file()]
        if missing:
            raise UserError(f"{self.path}: run directory is missing {', '.join(missing)}; "
                            f"{self.continue_hint()}")

    FILES = ("arch.json", "weights.safetensors", "metrics.json", "config.json", "command.json",
             "checkpoint.pt")

    # -- which command made the run, and what continues it ---------------------------------
    def created_by(self) -> str | None:
        """``train``, ``search`` or ``run``: the command that made this directory (``None``:
        unknown, for a run older than the record, or an unreadable ``command.json``)."""
        try:
            record = json.loads(self.command.read_text())
        except (OSError, ValueError):
            return None
        by = record.get("created_by") if isinstance(record, dict) else None
        return by if by in START_AFRESH else None

    def maker(self) -> str:
        """The command that made the run; for an older run without the record, ``search`` when
        it holds a search's configuration, else ``train``."""
        return self.created_by() or ("search" if (self.path / "search" / "config.json").is_file()
                                     else "train")

    def resumable(self) -> bool:
        """Whether ``--resume`` has anything to continue: a checkpoint of training or of the
        search, a finished search phase, or a partial latency profile of ``run --profile``."""
        sd = self.path / "search"
        return (any(p.is_file() for p in (self.checkpoint, sd / "checkpoint.pt",
                                          sd / "result.json", self.path / "latency-profile.json"))
                or any(sd.glob("rounds/*/search/checkpoint.pt")))

    def continue_hint(self) -> str:
        """What to run to get a finished run out of this directory."""
        kind = self.maker()
        if self.resumable():
            return f"finish it with `tnas-pipeline {kind} --resume -o {self.path}`"
        return (f"it holds no checkpoint to resume; start it afresh with "
                f"`{START_AFRESH[kind]} -o {self.path}`")

    def require_resumable(self, command: str, *evidence: Path) -> None:
        """Refuse ``command --resume`` unless this directory exists, was made by ``command``
        (or is older than that record) and holds one of ``evidence`` (its checkpoint)."""
        if not self.path.is_dir():
            raise UserError(f"{self.path}: no such run directory to resume; check the -o path, "
                            "or start a new run without --resume")
        maker = self.created_by()
        if maker is not None and maker != command:
            raise UserError(f"{self.path} was made by `tnas-pipeline {maker}`, not `{command}`; "
                            f"continue it with `tnas-pipeline {maker} --resume -o {self.path}`")
        if not any(p.is_file() for p in evidence):
            names = " or ".join(str(p.relative_to(self.path)) for p in evidence)
            raise UserError(f"{self.path}: nothing to resume (no {names}: the run stopped before "
                            f"its first checkpoint); start it afresh with "
                            f"`{START_AFRESH[command]} -o {self.path}`")

    def invocation_record(self, command: str, resume: bool,
                          argv: list[str] | None) -> dict[str, Any]:
        """The ``command.json`` an invocation writes: a new run starts a new history, a resumed
        one appends to the history it finds."""
        entry = {"command": command, "resume": resume, **provenance(argv)}
        created_by, history = command, []
        if resume:
            try:
                old = json.loads(self.command.read_text())
            except (OSError, ValueError):
                old = None
            if isinstance(old, dict):
                created_by = old.get("created_by", command)
                history = old.get("invocations") or [old]  # a record older than the history
        return {**entry, "created_by": created_by, "invocations": [*history, entry]}

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
        # load_state_dict raises a RuntimeError (a traceback) on a tensor of another shape.
        expected = model.state_dict()
        wrong = [f"{k} is {tuple(v.shape)}, not {tuple(expected[k].shape)}"
                 for k, v in state.items() if k in expected and v.shape != expected[k].shape]
        if wrong:
            raise UserError(
                f"{self.weights}: {len(wrong)} weight tensor(s) have the wrong shape for "
                f"{self.arch.name} ({wrong[0]}); the files come from different runs")
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


def default_run_dir(label: str) -> Path:
    """``runs/LABEL-YYYYmmdd-HHMMSS``, the run directory of a command without ``-o``. Anything in
    ``label`` but letters, digits, ``.``, ``_`` and ``-`` becomes ``-`` (and it starts with a
    letter or digit), so a name read from a file never points outside ``runs/``."""
    safe = re.sub(r"[^A-Za-z0-9._-]", "-", label).lstrip("._-") or "run"
    return Path("runs") / f"{safe}-{dt.datetime.now().strftime('%Y%m%d-%H%M%S')}"
