"""Writing an upscaled image band by band, in the format its file name asks for.

PNG (:mod:`tnas_pipeline.png_writer`) and BMP stream: only the current band of rows is in memory.
JPEG cannot: Pillow's encoder takes a whole image, so a JPEG output is assembled in one Pillow
image (4 bytes per RGB pixel) and saved at the end, with Pillow's defaults as before. The limits
of each format are checked before anything is written (:func:`check_output_size`).
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import BinaryIO, Protocol

import numpy as np
from PIL import Image

from tnas_pipeline.errors import UserError
from tnas_pipeline.png_writer import PngWriter

FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".bmp": "BMP"}
JPEG_MAX_SIDE = 65500  # libjpeg's largest dimension
BMP_MAX_BYTES = 2**32 - 1  # the file size field is 32 bits
_BMP_PPM = int(96 * 39.3701 + 0.5)  # Pillow's default 96 dpi, in pixels per metre


class BandWriter(Protocol):
    def write(self, band: np.ndarray) -> None: ...

    def close(self) -> None: ...


def _format(path: Path) -> str:
    return FORMATS[path.suffix.lower()]


def _bmp_layout(width: int, height: int, channels: int) -> tuple[int, int, int]:
    """(row stride, pixel data offset, file size) of the BMP Pillow writes."""
    stride = (width * channels + 3) & ~3
    offset = 14 + 40 + (1024 if channels == 1 else 0)
    return stride, offset, offset + stride * height


def check_output_size(path: Path, width: int, height: int, channels: int) -> None:
    """Refuse an output its format cannot hold, before any work is done."""
    fmt = _format(path)
    if fmt == "JPEG" and max(width, height) > JPEG_MAX_SIDE:
        raise UserError(f"{path}: a {width}x{height} image is larger than JPEG allows "
                        f"({JPEG_MAX_SIDE} pixels a side); write a .png instead")
    if fmt == "BMP" and _bmp_layout(width, height, channels)[2] > BMP_MAX_BYTES:
        raise UserError(f"{path}: a {width}x{height} image is over the 4 GiB that BMP allows; "
                        "write a .png instead")


class BmpWriter:
    """The BMP Pillow writes (bottom-up rows, 24-bit BGR or 8-bit gray with a gray palette),
    written band by band into a file of known size by seeking to each band's rows."""

    def __init__(self, fp: BinaryIO, width: int, height: int, channels: int) -> None:
        self._fp, self._width, self._height, self._channels = fp, width, height, channels
        self._stride, self._offset, size = _bmp_layout(width, height, channels)
        colors = 256 if channels == 1 else 0
        fp.write(b"BM" + struct.pack("<IIIIiiHHIIiiII", size, 0, self._offset, 40, width, height,
                                     1, 8 * channels, 0, self._stride * height, _BMP_PPM,
                                     _BMP_PPM, colors, colors))
        if channels == 1:
            fp.write(b"".join(bytes((i, i, i, 0)) for i in range(256)))
        fp.truncate(size)
        self._row = 0

    def write(self, band: np.ndarray) -> None:
        n = band.shape[0]
        if self._row + n > self._height:
            raise ValueError(f"band of shape {band.shape} does not fit the image")
        rows = np.zeros((n, self._stride), dtype=np.uint8)
        pixels = band[::-1, :, ::-1] if self._channels == 3 else band[::-1]  # bottom-up, BGR
        rows[:, : self._width * self._channels] = pixels.reshape(n, -1)
        self._fp.seek(self._offset + (self._height - self._row - n) * self._stride)
        self._fp.write(rows.tobytes())
        self._row += n

    def close(self) -> None:
        if self._row != self._height:
            raise ValueError(f"{self._height - self._row} rows of the image were never written")


class PillowWriter:
    """Assemble the image in one Pillow image, then save it (formats that cannot stream)."""

    def __init__(self, fp: BinaryIO, width: int, height: int, channels: int, fmt: str) -> None:
        self._fp, self._fmt = fp, fmt
        self._image = Image.new("L" if channels == 1 else "RGB", (width, height))
        self._row = 0

    def write(self, band: np.ndarray) -> None:
        self._image.paste(Image.fromarray(np.ascontiguousarray(band)), (0, self._row))
        self._row += band.shape[0]

    def close(self) -> None:
        if self._row != self._image.height:
            raise ValueError(f"{self._image.height - self._row} rows were never written")
        self._image.save(self._fp, format=self._fmt)
        self._image.close()


def open_writer(fp: BinaryIO, path: Path, width: int, height: int, channels: int) -> BandWriter:
    """A writer for ``path``'s format (by suffix) that writes to the open file ``fp``."""
    fmt = _format(path)
    if fmt == "PNG":
        return PngWriter(fp, width, height, channels)
    if fmt == "BMP":
        return BmpWriter(fp, width, height, channels)
    return PillowWriter(fp, width, height, channels, fmt)
