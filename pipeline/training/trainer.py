"""The training loop: L1 loss, Adam, cosine schedule, periodic validation, atomic checkpoints.

One process or many under ``torchrun`` (DDP). The main process validates on full images with the
SR protocol, checkpoints at every validation, and writes the run directory; an interrupted run
continues from its last checkpoint with ``--resume`` and, for an iteration budget, ends with the
same weights as an uninterrupted one.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel

from tnas_pipeline.data.patches import PatchSampler
from tnas_pipeline.errors import UserError
from tnas_pipeline.evaluation import evaluate_folders
from tnas_pipeline.inference import TorchUpscaler
from tnas_pipeline.io_utils import write_json_atomic
from tnas_pipeline.networks.architecture import Architecture
from tnas_pipeline.networks.builder import build_network
from tnas_pipeline.networks.complexity import DEFAULT_OUTPUT_SIZE, count_complexity
from tnas_pipeline.run_dir import RunDir
from tnas_pipeline.run_lock import claim_run
from tnas_pipeline.training import distributed as D
from tnas_pipeline.training.budgeted_loop import (  # noqa: F401 (the trainer's public names)
    TrainingInterrupted,
    deferred_interrupts,
    fraction,
    run_budgeted,
)
from tnas_pipeline.training.config import TrainConfig
from tnas_pipeline.training.schedule import cosine_lr

logger = logging.getLogger(__name__)


def complexity_record(model: torch.nn.Module, scale: int) -> dict[str, Any]:
    """Params and Mult-Adds at 1280×720 (or the nearest size the scale divides)."""
    w, h = DEFAULT_OUTPUT_SIZE
    size = (w - w % scale, h - h % scale)
    c = count_complexity(model, scale, size)
    return {"params": c.params, "mult_adds": c.mult_adds, "output_size": list(size)}


def validate(model: torch.nn.Module, cfg: TrainConfig) -> dict[str, Any]:
    """Scores on the validation folders, without per-image detail (``cfg``: any configuration
    with ``scale``, ``device`` and ``val_data``; the search passes its own)."""
    up = TorchUpscaler(model.eval(), cfg.scale, cfg.device)
    result = evaluate_folders(up, [Path(p) for p in cfg.val_data])
    model.train()
    return {name: {k: v for k, v in s.items() if k != "per_image"}
            for name, s in result["sets"].items()}


class Trainer:
    """Trains ``arch`` into ``run`` according to ``cfg``."""

    def __init__(self, arch: Architecture, cfg: TrainConfig, run: RunDir,
                 progress: bool = True,
                 init_state: dict[str, torch.Tensor] | None = None,
                 resume_command: str = "train") -> None:
        if arch.scale != cfg.scale:
            raise UserError(f"architecture is x{arch.scale} but --scale {cfg.scale} was asked for")
        self.arch, self.cfg, self.run, self.progress = arch, cfg, run, progress
        self.resume_command = resume_command  # what an interrupt tells the user to run
        self.dist = D.init_distributed(cfg.device)
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        torch.manual_seed(cfg.seed)
        self.model = build_network(arch)
        if init_state is not None:  # weights inherited from a supernet (search fine-tuning)
            self.model.load_state_dict(init_state)
        self.model.to(cfg.device)
        self.sampler = PatchSampler([Path(p) for p in cfg.train_data], cfg.scale,
                                    cfg.patch_size, seed=cfg.seed * 1000 + self.dist.rank)
        self.opt = torch.optim.Adam(self.model.parameters(), lr=cfg.lr)
        self.net: torch.nn.Module = (
            DistributedDataParallel(self.model) if self.dist.enabled else self.model)
        self.iteration, self.train_seconds = 0, 0.0
        self.history: list[dict[str, Any]] = []
        self.checkpointed_at = -1  # iteration of the last checkpoint, the same on every rank
        self.stop_requested = False

    # -- state ----------------------------------------------------------------------------------
    def budget(self) -> tuple[int | None, float | None]:
        return self.cfg.iters, None if self.cfg.minutes is None else self.cfg.minutes * 60.0

    def spent_seconds(self) -> float:
        return self.train_seconds

    def add_seconds(self, dt: float) -> None:
        self.train_seconds += dt

    def progress_fraction(self) -> float:
        return fraction(self)

    def checkpoint(self) -> None:
        self.checkpointed_at = self.iteration
        states = D.gather_objects(self.dist, self.sampler.state())
        if self.dist.is_main:
            self.run.save_checkpoint({
                "model": self.model.state_dict(), "optimizer": self.opt.state_dict(),
                "iteration": self.iteration, "train_seconds": self.train_seconds,
                "sampler_states": states, "world_size": self.dist.world_size,
                "history": self.history,
            })
        D.barrier(self.dist)

    def restore(self) -> None:
        ck = self.run.load_checkpoint()
        self.model.load_state_dict(ck["model"])
        self.opt.load_state_dict(ck["optimizer"])
        self.iteration, self.train_seconds = int(ck["iteration"]), float(ck["train_seconds"])
        self.checkpointed_at = self.iteration
        self.history = list(ck["history"])
        states = ck["sampler_states"]
        if len(states) == self.dist.world_size:
            self.sampler.set_state(states[self.dist.rank])
        elif self.dist.is_main:
            logger.info(f"resuming with {self.dist.world_size} processes instead of "
                        f"{len(states)}: batches are drawn afresh from the seed")

    # -- loop -----------------------------------------------------------------------------------
    def _step(self) -> float:
        lr_img, hr_img = self.sampler.sample(self.cfg.batch_size)
        lr_img, hr_img = lr_img.to(self.cfg.device), hr_img.to(self.cfg.device)
        for group in self.opt.param_groups:
            group["lr"] = cosine_lr(self.progress_fraction(), self.cfg.lr, self.cfg.lr_final)
        loss = F.l1_loss(self.net(lr_img), hr_img)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        return float(loss.item())

    def _validate_and_checkpoint(self, loss: float) -> dict[str, Any] | None:
        val = validate(self.model, self.cfg) if self.dist.is_main else None
        if val is not None:
            self.history.append({
                "iteration": self.iteration, "train_seconds": round(self.train_seconds, 2),
                "loss": loss, "val": val,
            })
        self.checkpoint()
        return val

    def fit(self) -> dict[str, Any]:
        """Train to the end of the budget; return the metrics record."""
        cfg, main = self.cfg, self.dist.is_main
        last: dict[str, Any] = {"loss": float("nan"), "val": None}

        def after_step(loss: float, bar) -> None:
            last["loss"] = loss
            if self.iteration % cfg.val_every == 0:
                last["val"] = self._validate_and_checkpoint(loss) or last["val"]
                if last["val"]:
                    psnr = next(iter(last["val"].values()))["psnr_y"]
                    bar.set_postfix(loss=f"{loss:.4f}", val_psnr=f"{psnr:.2f}")
            elif self.iteration % 20 == 0:
                bar.set_postfix(loss=f"{loss:.4f}")

        self.model.train()
        run_budgeted(self, self._step, after_step, desc=f"train {self.arch.name} x{cfg.scale}",
                     progress=self.progress, run=self.run.path, resume=self.resume_command)
        loss = last["loss"]
        if self.checkpointed_at != self.iteration:
            self._validate_and_checkpoint(loss)
        metrics = self._metrics() if main else {}
        if main:
            self.run.save_weights(self.model)
            write_json_atomic(self.run.metrics, metrics)
        D.barrier(self.dist)
        return metrics

    def _metrics(self) -> dict[str, Any]:
        last = self.history[-1]
        return {
            "arch": self.arch.name, "scale": self.cfg.scale, "iterations": self.iteration,
            "train_seconds": round(self.train_seconds, 2),
            "budget": {"iters": self.cfg.iters, "minutes": self.cfg.minutes},
            "world_size": self.dist.world_size,
            **complexity_record(self.model, self.cfg.scale),
            "val": last["val"], "history": self.history,
        }


def train(arch: Architecture, cfg: TrainConfig, out: str | Path, resume: bool = False,
          overwrite: bool = False, progress: bool = True, argv: list[str] | None = None,
          init_state: dict[str, torch.Tensor] | None = None,
          resume_command: str = "train") -> dict[str, Any]:
    """Train into run directory ``out``: a new one, an existing one with ``resume``, or an
    existing one started afresh with ``overwrite``. ``init_state`` starts from given weights
    instead of a fresh initialisation (a searched network's fine-tuning)."""
    run = RunDir(out)
    # The claim (a lock, and the clean-up of a failed new run) comes before the checks, so that
    # no other writer changes what they saw; ``resume_command`` is the command being run.
    with claim_run(out, resume_command, resume=resume, argv=argv) as claim:
        if resume:
            run.require(run.arch, run.config, run.checkpoint)
        elif not overwrite and (run.checkpoint.exists() or run.weights.exists()):
            raise UserError(f"{run.path} already holds a run; pass --resume to continue it, "
                            "--overwrite to start it afresh, or choose another -o directory")
        # Data and architecture are checked here, before anything in ``out`` is written.
        trainer = Trainer(arch, cfg, run, progress=progress, init_state=init_state,
                          resume_command=resume_command)
        try:
            if trainer.dist.is_main and not resume:
                run.clear()
            claim.record()  # command.json; nothing on ranks other than 0
            if trainer.dist.is_main and not resume:
                arch.save(run.arch)
                write_json_atomic(run.config, cfg.to_dict())
            D.barrier(trainer.dist)
            if resume:
                trainer.restore()
            return trainer.fit()
        finally:
            D.shutdown(trainer.dist)
