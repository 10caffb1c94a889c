"""Random LR/HR training patch pairs, deterministic for a seed.

Every HR image is mod-cropped and downscaled once (antialiased bicubic, :mod:`degradation`), and
both are kept in memory; a batch draws images in proportion to their area, crops aligned LR/HR
patches, and applies one of the eight flips/90° rotations. The NumPy generator's state is part of
a training checkpoint, so a resumed run draws the same batches it would have drawn.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from tnas_pipeline.data.degradation import make_pair
from tnas_pipeline.data.images import as_rgb, list_image_files, load_image
from tnas_pipeline.errors import UserError


class PatchSampler:
    """Draws batches of (LR, HR) float32 patches in [0, 1], shaped N×3×p×p and N×3×sp×sp."""

    def __init__(self, folders: list[Path], scale: int, hr_patch: int, seed: int,
                 part: tuple[int, int] | None = None) -> None:
        """``part=(k, n)`` keeps every n-th image starting at the k-th (in folder order): the
        disjoint splits a bilevel search trains weights and architecture on."""
        if hr_patch % scale:
            raise UserError(f"patch size {hr_patch} is not a multiple of scale {scale}")
        self.scale, self.hr_patch, self.lr_patch = scale, hr_patch, hr_patch // scale
        self.pairs: list[tuple[np.ndarray, np.ndarray]] = []
        files = [path for folder in folders for path in list_image_files(folder)]
        if part is not None:
            files = files[part[0]::part[1]]
            if not files:
                raise UserError("too few training images to split between weights and "
                                "architecture; give --data with at least two images")
        for path in files:
            hr = as_rgb(load_image(path).pixels)
            if min(hr.shape[:2]) < hr_patch:
                raise UserError(
                    f"{path}: image is {hr.shape[1]}x{hr.shape[0]}, smaller than the "
                    f"{hr_patch}x{hr_patch} training patch; lower --patch-size or remove it"
                )
            self.pairs.append(make_pair(hr, scale))
        areas = np.array([lr.shape[0] * lr.shape[1] for lr, _ in self.pairs], dtype=np.float64)
        self.weights = areas / areas.sum()
        self.rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        return len(self.pairs)

    def state(self) -> dict[str, Any]:
        """The generator state (JSON- and ``weights_only``-safe) for checkpoints."""
        return self.rng.bit_generator.state

    def set_state(self, state: dict[str, Any]) -> None:
        self.rng.bit_generator.state = state

    def sample(self, batch: int) -> tuple[torch.Tensor, torch.Tensor]:
        """One batch of augmented aligned patches."""
        p, s = self.lr_patch, self.scale
        lrs = np.empty((batch, p, p, 3), dtype=np.uint8)
        hrs = np.empty((batch, p * s, p * s, 3), dtype=np.uint8)
        for i, k in enumerate(self.rng.choice(len(self.pairs), size=batch, p=self.weights)):
            lr, hr = self.pairs[k]
            y = int(self.rng.integers(0, lr.shape[0] - p + 1))
            x = int(self.rng.integers(0, lr.shape[1] - p + 1))
            lp = lr[y : y + p, x : x + p]
            hp = hr[y * s : (y + p) * s, x * s : (x + p) * s]
            flip, rot = int(self.rng.integers(0, 2)), int(self.rng.integers(0, 4))
            if flip:
                lp, hp = lp[:, ::-1], hp[:, ::-1]
            lrs[i], hrs[i] = np.rot90(lp, rot), np.rot90(hp, rot)
        to_tensor = lambda a: torch.from_numpy(a).permute(0, 3, 1, 2).float().div_(255.0)  # noqa: E731
        return to_tensor(lrs), to_tensor(hrs)
