"""A validation split carved out of the training images, for any selection a run makes.

Set5 and Set14 are for reporting (the metric protocol, docs/how-it-works.md); anything chosen on
them is chosen on the test set. The split is by file, fixed by a hash of each file's name (and the
seed), so it does not depend on the order files are listed in, on which other files a folder
holds, or on the machine: the same image lands on the same side everywhere. Both sides are folders
of symbolic links to the original files, which every consumer of image folders reads as they are.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from tnas_pipeline.data.images import list_image_files
from tnas_pipeline.errors import UserError


def _draw(name: str, seed: int) -> float:
    digest = hashlib.sha256(f"{seed}:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def split_files(folder: str | Path, fraction: float, seed: int = 0
                ) -> tuple[list[Path], list[Path]]:
    """(train, validation) files of ``folder``: each file goes to validation with probability
    ``fraction`` by its name's hash; at least one file goes to each side."""
    if not 0.0 < fraction < 1.0:
        raise UserError(f"the validation fraction must be between 0 and 1, got {fraction}")
    files = list_image_files(folder)
    if len(files) < 2:
        raise UserError(f"{folder}: {len(files)} image(s); a validation split needs at least 2")
    ranked = sorted(files, key=lambda p: _draw(p.name, seed))
    val = [p for p in ranked if _draw(p.name, seed) < fraction] or ranked[:1]
    if len(val) == len(files):
        val = val[:-1]
    train = [p for p in files if p not in set(val)]
    return train, sorted(val)


def carve_validation(folders: list[str | Path], out: str | Path, fraction: float = 0.1,
                     seed: int = 0) -> tuple[list[Path], list[Path]]:
    """Split every folder into ``out/train/NAME`` and ``out/val/NAME`` (links to the files);
    returns the train folders and the validation folders. Re-running rebuilds the same split."""
    out = Path(out)
    train_dirs, val_dirs = [], []
    for folder in folders:
        folder = Path(folder)
        train, val = split_files(folder, fraction, seed)
        for side, files, dirs in (("train", train, train_dirs), ("val", val, val_dirs)):
            target = out / side / folder.resolve().name
            target.mkdir(parents=True, exist_ok=True)
            wanted = {p.name for p in files}
            for old in target.iterdir():  # a stale link of another split
                if old.name not in wanted:
                    old.unlink()
            for p in files:
                link = target / p.name
                if not link.is_symlink() or os.readlink(link) != str(p.resolve()):
                    link.unlink(missing_ok=True)
                    link.symlink_to(p.resolve())
            dirs.append(target)
    return train_dirs, val_dirs
