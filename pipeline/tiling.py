"""Seam-free tiled inference for images too large to run in one pass.

Each LR tile is cut with ``overlap`` pixels of real context on every side (less at the image
border, where the full-image pass sees the same zero padding), the network runs on the padded tile,
and only the tile's own region of the output is kept. When ``overlap`` covers the network's
receptive-field radius (:mod:`tnas_pipeline.receptive_field`), the stitched result equals the
full-image result exactly, so there is nothing to blend and no seam to see.

Tiles come in rows (:func:`tile_rows`), so a caller can finish, quantise and write one band of
output rows before it runs the next: memory then follows the tile and the band, not the image.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from tnas_pipeline.errors import UserError

DEFAULT_TILE = 256
# The overlap of a network whose receptive field is unknown or unbounded (RLFN's attention).
DEFAULT_OVERLAP = 16


@dataclass(frozen=True)
class Window:
    """One tile: its own LR region ``[y0, y1) × [x0, x1)`` and the padded region it is run on."""

    y0: int
    y1: int
    x0: int
    x1: int
    py0: int
    py1: int
    px0: int
    px1: int


def tile_rows(h: int, w: int, tile: int, overlap: int) -> Iterator[list[Window]]:
    """The tiles of an ``h × w`` LR image, one list per row of tiles, top to bottom.

    ``tile <= 0``, or an image no larger than one tile, gives one window: the whole image."""
    if tile <= 0 or (h <= tile and w <= tile):
        yield [Window(0, h, 0, w, 0, h, 0, w)]
        return
    for y0 in range(0, h, tile):
        y1 = min(y0 + tile, h)
        py0, py1 = max(0, y0 - overlap), min(h, y1 + overlap)
        yield [Window(y0, y1, x0, min(x0 + tile, w), py0, py1, max(0, x0 - overlap),
                      min(w, x0 + tile + overlap)) for x0 in range(0, w, tile)]


def own_region(win: Window, scale: int) -> tuple[slice, slice]:
    """Where a tile's own output lies in the output of its padded region (rows, columns)."""
    oy, ox = (win.y0 - win.py0) * scale, (win.x0 - win.px0) * scale
    return (slice(oy, oy + (win.y1 - win.y0) * scale), slice(ox, ox + (win.x1 - win.x0) * scale))


def tiled_apply(
    fn: Callable[[np.ndarray], np.ndarray], lr: np.ndarray, scale: int,
    tile: int = DEFAULT_TILE, overlap: int = DEFAULT_OVERLAP,
) -> np.ndarray:
    """Apply ``fn`` (1×C×h×w float32 → 1×C×sh×sw) to ``lr`` (1×C×H×W) tile by tile."""
    _, c, h, w = lr.shape
    if tile <= 0 or (h <= tile and w <= tile):
        return fn(lr)
    out = np.empty((1, c, h * scale, w * scale), dtype=np.float32)
    for row in tile_rows(h, w, tile, overlap):
        for win in row:
            sr = fn(np.ascontiguousarray(lr[:, :, win.py0:win.py1, win.px0:win.px1]))
            rows, cols = own_region(win, scale)
            out[:, :, win.y0 * scale : win.y1 * scale, win.x0 * scale : win.x1 * scale] = sr[
                :, :, rows, cols]
    return out


def check_tiling(tile: int, overlap: int | None, receptive_field: int | None) -> int:
    """The overlap to use: ``overlap`` if given (refused below the receptive field, where tiles
    would show seams), else the receptive field (else :data:`DEFAULT_OVERLAP` when unknown)."""
    if tile < 0:
        raise UserError(f"--tile {tile} is negative; pass a tile side in LR pixels, or 0 to run "
                        "each image whole")
    if overlap is not None and overlap < 0:
        raise UserError(f"--overlap {overlap} is negative; pass 0 or more LR pixels, or leave it "
                        "out to use the network's receptive field")
    if receptive_field is None:
        return DEFAULT_OVERLAP if overlap is None else overlap
    if overlap is None:
        return receptive_field
    if overlap < receptive_field:
        raise UserError(f"--overlap {overlap} is below this network's receptive field of "
                        f"{receptive_field} LR pixels, so tiles would show seams; pass --overlap "
                        f"{receptive_field} or more, or leave it out")
    return overlap
