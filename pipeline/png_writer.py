"""A PNG encoder that takes the image one band of rows at a time.

Pillow encodes a PNG only from a whole image held in memory (four bytes per RGB pixel): 1 GB for
a 16000 × 16000 upscaled photo, on top of the array it was made from. This writer keeps one band:
each row gets the adaptive filter choice of libpng and Pillow (of None, Sub, Up, Average and Paeth,
the one with the smallest sum of absolute signed bytes), the rows go through one zlib stream at
Pillow's default level, and the stream is cut into IDAT chunks as it grows. 8-bit gray and RGB.
"""

from __future__ import annotations

import struct
import zlib
from typing import BinaryIO

import numpy as np

SIGNATURE = b"\x89PNG\r\n\x1a\n"
_COLOR_TYPE = {1: 0, 3: 2}  # channels → PNG colour type (gray, truecolour)
_ROWS_PER_STEP = 8  # rows filtered at once: the int16 temporaries stay small however wide
_CHUNK_BYTES = 1 << 20


def _paeth(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    pa, pb, pc = np.abs(b - c), np.abs(a - c), np.abs(a + b - 2 * c)
    return np.where((pa <= pb) & (pa <= pc), a, np.where(pb <= pc, b, c))


def filter_rows(rows: np.ndarray, prior: np.ndarray, bpp: int) -> np.ndarray:
    """PNG-filter ``rows`` (n × stride uint8) that follow the row ``prior``: n × (1 + stride),
    each row led by its filter type."""
    n = rows.shape[0]
    x = rows.astype(np.int16)
    b = np.concatenate([prior[None].astype(np.int16), x[:-1]])
    a = np.zeros_like(x)
    a[:, bpp:] = x[:, :-bpp]
    c = np.zeros_like(x)
    c[:, bpp:] = b[:, :-bpp]
    candidates = np.stack([x, x - a, x - b, x - ((a + b) >> 1), x - _paeth(a, b, c)])
    filtered = candidates.astype(np.uint8)  # modulo 256, as PNG filters are defined
    cost = np.abs(filtered.view(np.int8).astype(np.int16)).sum(axis=2, dtype=np.int64)
    best = cost.argmin(axis=0)
    out = np.empty((n, rows.shape[1] + 1), dtype=np.uint8)
    out[:, 0] = best
    out[:, 1:] = filtered[best, np.arange(n)]
    return out


class PngWriter:
    """Write an 8-bit gray (``channels=1``) or RGB (3) PNG to ``fp``, band by band, top down."""

    def __init__(self, fp: BinaryIO, width: int, height: int, channels: int, level: int = 6):
        self._fp, self._width, self._channels = fp, width, channels
        self._rows_left = height
        self._z = zlib.compressobj(level)
        self._prior = np.zeros(width * channels, dtype=np.uint8)
        self._pending: list[bytes] = []
        self._pending_bytes = 0
        fp.write(SIGNATURE)
        self._chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, _COLOR_TYPE[channels],
                                         0, 0, 0))

    def _chunk(self, kind: bytes, data: bytes) -> None:
        self._fp.write(struct.pack(">I", len(data)) + kind)
        self._fp.write(data)
        self._fp.write(struct.pack(">I", zlib.crc32(data, zlib.crc32(kind)) & 0xFFFFFFFF))

    def _emit(self, data: bytes, force: bool = False) -> None:
        if data:
            self._pending.append(data)
            self._pending_bytes += len(data)
        if self._pending_bytes >= _CHUNK_BYTES or (force and self._pending_bytes):
            self._chunk(b"IDAT", b"".join(self._pending))
            self._pending, self._pending_bytes = [], 0

    def write(self, band: np.ndarray) -> None:
        """Append rows: ``band`` is n × width (gray) or n × width × 3 uint8."""
        rows = np.ascontiguousarray(band, dtype=np.uint8).reshape(band.shape[0], -1)
        if rows.shape[1] != self._width * self._channels or rows.shape[0] > self._rows_left:
            raise ValueError(f"band of shape {band.shape} does not fit the image")
        for i in range(0, rows.shape[0], _ROWS_PER_STEP):
            part = rows[i : i + _ROWS_PER_STEP]
            self._emit(self._z.compress(filter_rows(part, self._prior, self._channels).tobytes()))
            self._prior = part[-1].copy()
        self._rows_left -= rows.shape[0]

    def close(self) -> None:
        """Finish the stream; every row must have been written."""
        if self._rows_left:
            raise ValueError(f"{self._rows_left} rows of the image were never written")
        self._emit(self._z.flush(), force=True)
        self._chunk(b"IEND", b"")
