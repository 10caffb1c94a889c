"""Loading HR images from folders, with the mode rules of the SR protocol.

Images become uint8 NumPy arrays: ``H×W×3`` for colour, ``H×W`` for grayscale (kept grayscale so
that the metric can score it on its raw values, as the published Set14 numbers do for ``bridge``).
Anything that would silently change what is scored is refused with a message that says how to fix
it: 16-bit or floating-point pixels (a PNG's bit depth is read from its header, before Pillow
decodes it to 8 bits), real transparency, and images of more than ``max_pixels`` pixels
(:data:`DEFAULT_MAX_PIXELS`; Pillow's own decompression-bomb check is replaced by this one, so the
limit is one documented number with one message).
"""

from __future__ import annotations

import functools
import os
import struct
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from tnas_pipeline.errors import UserError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")

_HIGH_DEPTH_MODES = {"I", "I;16", "I;16B", "I;16L", "I;16N", "F"}

#: Largest image accepted, in pixels (width × height): a 10000 × 10000 image. Decoding takes about
#: 10 bytes per pixel at its peak (Pillow's 4-byte pixels, then the 3-byte array), so about 1 GB.
DEFAULT_MAX_PIXELS = 100_000_000

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PILLOW_LIMIT = threading.Lock()  # Image.MAX_IMAGE_PIXELS is a module global


@dataclass(frozen=True)
class HRImage:
    """One high-resolution image: its file stem and its pixels (uint8, H×W×3 or H×W)."""

    name: str
    pixels: np.ndarray

    @property
    def is_gray(self) -> bool:
        return self.pixels.ndim == 2


def _png_bit_depth(path: Path) -> int | None:
    """A PNG's bits per channel from its IHDR chunk; ``None`` for other formats."""
    with open(path, "rb") as f:
        head = f.read(25)
    if len(head) < 25 or not head.startswith(_PNG_SIGNATURE) or head[12:16] != b"IHDR":
        return None
    return struct.unpack(">B", head[24:25])[0]


def _check_depth(im: Image.Image, path: Path) -> None:
    """Refuse more than 8 bits per channel. Read before ``load()``: Pillow opens a 48- or 64-bit
    PNG as 8-bit RGB(A) by dropping the low bytes, and only the file's header still says so."""
    depth = _png_bit_depth(path)
    if im.mode in _HIGH_DEPTH_MODES or (depth is not None and depth > 8):
        what = f"{depth} bits per channel" if depth and depth > 8 else f"mode {im.mode}"
        raise UserError(
            f"{path}: 16-bit or floating-point pixels ({what}) are not supported; the SR "
            "protocol scores 8-bit images: convert it to 8 bits per channel first"
        )


def _open(path: Path, max_pixels: int) -> Image.Image:
    """Open (header only) and check the pixel count and bit depth."""
    with _PILLOW_LIMIT:
        saved, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None
        try:
            im = Image.open(path)
        finally:
            Image.MAX_IMAGE_PIXELS = saved
    w, h = im.size
    if w * h > max_pixels:
        im.close()
        raise UserError(
            f"{path}: {w}x{h} is {w * h:,} pixels, more than the limit of {max_pixels:,}; "
            "use a smaller image, or raise the limit with upscale's --max-pixels if this "
            "machine has the memory"
        )
    try:
        _check_depth(im, path)
    except UserError:
        im.close()
        raise
    return im


def _drop_opaque_alpha(im: Image.Image, path: Path) -> Image.Image:
    alpha = np.asarray(im.getchannel("A"))
    if alpha.min() < 255:
        raise UserError(
            f"{path}: image has transparency (mode {im.mode}); flatten it onto a background "
            "and save it without alpha, or remove it from the folder"
        )
    return im.convert("L" if im.mode == "LA" else "RGB")


def _to_supported_mode(im: Image.Image, path: Path) -> Image.Image:
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


# A DecompressionBombError can still come from plugins that check frame sizes while loading.
_DECODE_ERRORS = (UnidentifiedImageError, OSError, SyntaxError, ValueError,
                  Image.DecompressionBombError)


def _decode_errors(path: Path, exc: Exception) -> UserError:
    return UserError(
        f"{path}: cannot decode image ({exc}); re-save it as PNG or remove it from the folder")


def probe_image(path: str | Path,
                max_pixels: int = DEFAULT_MAX_PIXELS) -> tuple[int, int, bool]:
    """``(width, height, gray)`` of an image file from its header, with the checks that need no
    pixels (decodable header, pixel limit, bit depth): cheap enough to run on a folder first."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: no such image file; check the path")
    try:
        with _open(path, max_pixels) as im:
            return im.width, im.height, im.mode in ("1", "L", "LA")
    except UserError:
        raise
    except _DECODE_ERRORS as exc:
        raise _decode_errors(path, exc) from None


def read_image(path: str | Path, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Decode one image file into a read-only uint8 array (not cached: for large images read
    once, as ``upscale`` does)."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: no such image file; check the path")
    try:
        with _open(path, max_pixels) as im:
            im.load()
            im = _to_supported_mode(im, path)
            pixels = np.asarray(im, dtype=np.uint8)
    except UserError:
        raise
    except _DECODE_ERRORS as exc:
        raise _decode_errors(path, exc) from None
    if pixels.flags.writeable:
        pixels.setflags(write=False)
    return pixels


@functools.lru_cache(maxsize=1024)
def _decode(path_str: str, mtime_ns: int, size: int) -> np.ndarray:
    # mtime and size are part of the key so that an edited file is decoded again.
    return read_image(path_str)


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
