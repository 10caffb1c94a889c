"""The training configuration, saved in the run directory so that ``--resume`` continues it."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

from tnas_pipeline.errors import UserError


def check_budget(iters: int | None, minutes: float | None, min_iters: int = 1,
                 why: str = "") -> None:
    """Exactly one of ``--iters`` (at least ``min_iters``) and ``--minutes`` (positive)."""
    if (iters is None) == (minutes is None):
        raise UserError("give exactly one budget: --iters N or --minutes M")
    if iters is not None and iters < min_iters:
        raise UserError(f"--iters must be at least {min_iters}{why}, got {iters}")
    if minutes is not None and not minutes > 0:
        raise UserError(f"--minutes must be positive, got {minutes}")


@dataclass
class TrainConfig:
    """What a training run does. Budgets: ``iters`` or ``minutes`` (training-step wall time)."""

    arch_source: str                      # baseline name or path of the architecture JSON
    scale: int = 2
    train_data: list[str] = field(default_factory=list)
    val_data: list[str] = field(default_factory=list)
    iters: int | None = None
    minutes: float | None = None
    batch_size: int = 16                  # per process under torchrun
    patch_size: int = 72                  # HR patch side; the LR patch is patch_size / scale
    lr: float = 2e-3                      # Adam; cosine-annealed to lr_final over the budget
    lr_final: float = 1e-5
    val_every: int = 500
    seed: int = 0
    device: str = "cpu"
    threads: int | None = None

    def __post_init__(self) -> None:
        check_budget(self.iters, self.minutes)
        for name in ("batch_size", "patch_size", "val_every"):
            if getattr(self, name) < 1:
                raise UserError(f"--{name.replace('_', '-')} must be at least 1")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})
