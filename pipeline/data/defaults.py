"""The images bundled with the package: T91 (training), Set5 (validation), Set14 (evaluation).

See ``pipeline/assets/images/README.md`` for their authors and provenance.
"""

from __future__ import annotations

from pathlib import Path

ASSETS = Path(__file__).resolve().parent.parent / "assets" / "images"


def bundled(name: str) -> Path:
    """Path of a bundled image set: ``T91``, ``Set5`` or ``Set14``."""
    return ASSETS / name


def default_train_folders() -> list[Path]:
    return [bundled("T91")]


def default_val_folders() -> list[Path]:
    return [bundled("Set5")]


def default_eval_folders() -> list[Path]:
    return [bundled("Set5"), bundled("Set14")]
