"""Shared fixtures: small synthetic image folders and a tiny architecture."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pipeline.networks import Architecture, Cell, Layer, Upsampler

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def smooth_image(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A natural-ish uint8 RGB image: upsampled noise, so SR has structure to learn."""
    small = rng.integers(0, 256, size=(max(2, h // 8), max(2, w // 8), 3), dtype=np.uint8)
    return np.asarray(Image.fromarray(small).resize((w, h), Image.Resampling.BICUBIC))


@pytest.fixture
def image_folder(tmp_path: Path) -> Path:
    """A folder of four 64×48 RGB PNGs."""
    rng = np.random.default_rng(0)
    folder = tmp_path / "imgs"
    folder.mkdir()
    for i in range(4):
        Image.fromarray(smooth_image(rng, 48, 64)).save(folder / f"im{i}.png")
    return folder


@pytest.fixture
def tiny_arch() -> Architecture:
    """A two-layer ×2 network that trains in a blink."""
    return Architecture(name="tiny", scale=2, head=Layer("conv3x3", 8, "relu"),
                        cells=(Cell((Layer("resblock3x3", 8, "relu", width=8),)),),
                        upsampler=Upsampler("pixel_shuffle", 3), global_skip="bicubic")


def needs_shared_data():
    return pytest.mark.skipif(not SHARED_DATA.is_dir(),
                              reason=f"{SHARED_DATA} is absent (optional, larger data checks)")
