"""Loading HR images from folders, with the mode rules of the SR protocol.

Images become uint8 NumPy arrays: ``H×W×3`` for colour, ``H×W`` for grayscale (kept grayscale so
that the metric can score it on its raw values, as the published Set14 numbers do for ``bridge``).
Anything that would silently change what is scored is refused with a message that says how to fix
it: 16-bit or floating-point pixels, and real transparency.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from tnas_pipeline.errors import UserError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")

_HIGH_DEPTH_MODES = {"I", "I;16", "I;16B", "I;16L", "I;16N", "F"}


@dataclass(frozen=True)
class HRImage:
    """One high-resolution image: its file stem and its pixels (uint8, H×W×3 or H×W)."""

    name: str
    pixels: np.ndarray

    @property
    def is_gray(self) -> bool:
        return self.pixels.ndim == 2


def _is_16_bit(im: Image.Image) -> bool:
    if im.mode in _HIGH_DEPTH_MODES:
        return True
    # Pillow opens 48/64-bit PNGs as 8-bit RGB(A) by dropping the low bytes; the raw mode says so.
    return any(";16" in str(tile[3]) for tile in getattr(im, "tile", []) or [] if len(tile) > 3)


def _drop_opaque_alpha(im: Image.Image, path: Path) -> Image.Image:
    alpha = np.asarray(im.getchannel("A"))
    if alpha.min() < 255:
        raise UserError(
            f"{path}: image has transparency (mode {im.mode}); flatten it onto a background "
            "and save it without alpha, or remove it from the folder"
        )
    return im.convert("L" if im.mode == "LA" else "RGB")


def _to_supported_mode(im: Image.Image, path: Path) -> Image.Image:
    if _is_16_bit(im):
        raise UserError(
            f"{path}: 16-bit or floating-point pixels (mode {im.mode}) are not supported; the SR "
            "protocol scores 8-bit images: convert it to 8 bits per channel first"
        )
    if im.mode in ("RGB", "L"):
        return im
    if im.mode == "1":
        return im.convert("L")
    if im.mode == "P":
        if "transparency" not in im.info:
            return im.convert("RGB")
        im = im.convert("RGBA")
    if im.mode in ("RGBA", "LA", "PA"):
        return _drop_opaque_alpha(im.convert("RGBA") if im.mode == "PA" else im, path)
    if im.mode in ("CMYK", "YCbCr", "LAB", "HSV"):
        return im.convert("RGB")
    raise UserError(
        f"{path}: unsupported image mode {im.mode}; save it as 8-bit RGB or grayscale")


@functools.lru_cache(maxsize=1024)
def _decode(path_str: str, mtime_ns: int, size: int) -> np.ndarray:
    # mtime and size are part of the key so that an edited file is decoded again.
    path = Path(path_str)
    try:
        with Image.open(path) as im:
            im.load()
            im = _to_supported_mode(im, path)
            pixels = np.array(im, dtype=np.uint8)
    except UserError:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise UserError(
            f"{path}: cannot decode image ({exc}); re-save it as PNG or remove it from the folder"
        ) from None
    pixels.setflags(write=False)
    return pixels


def load_image(path: str | Path) -> HRImage:
    """Decode one image file (cached) into an :class:`HRImage`."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: no such image file; check the path")
    st = os.stat(path)
    return HRImage(name=path.stem, pixels=_decode(str(path.resolve()), st.st_mtime_ns, st.st_size))


def list_image_files(folder: str | Path) -> list[Path]:
    """The image files in ``folder`` (not recursive), sorted by name; raise if there are none."""
    folder = Path(folder)
    if not folder.exists():
        raise UserError(f"{folder}: no such folder; pass a folder of HR images with --data")
    if folder.is_file():
        if folder.suffix.lower() in IMAGE_SUFFIXES:
            return [folder]
        raise UserError(f"{folder}: not a folder of images; pass a folder of png/jpg/bmp files")
    files = sorted(p for p in folder.iterdir()
                   if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if not files:
        raise UserError(
            f"{folder}: no images found (looked for {', '.join(IMAGE_SUFFIXES)}); "
            "pass a folder that holds HR images"
        )
    return files


def load_folder(folder: str | Path) -> list[HRImage]:
    """Load every image of ``folder``."""
    return [load_image(p) for p in list_image_files(folder)]


def as_rgb(pixels: np.ndarray) -> np.ndarray:
    """A grayscale H×W array replicated to H×W×3; colour arrays are returned unchanged."""
    if pixels.ndim == 2:
        return np.repeat(pixels[:, :, None], 3, axis=2)
    return pixels
