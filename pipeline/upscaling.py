"""Upscaling image files: one image or a folder, with nothing lost and nothing half-written.

* Names: into a folder, input ``NAME.EXT`` is written as ``NAME_EXT_xS.png`` (``a.png`` →
  ``a_png_x2.png``, ``a.jpg`` → ``a_jpg_x2.png``): the extension stays in the name, so inputs
  that differ only by extension never share an output. ``-o FILE`` names the one output.
* Nothing lost: every output is checked before any work. An existing file is replaced only with
  ``overwrite``, and an input never, even then (``-o`` equal to the input, or a folder upscaled
  into itself).
* Nothing half-written: every input's header is read first (size limit, bit depth); outputs are
  written to temporary files next to their destination and renamed into place only when every
  image has succeeded, so a bad image, a NaN output or Ctrl-C leaves the output as it was.
* Bounded memory: one image at a time, decoded, upscaled band by band into its writer
  (:mod:`tnas_pipeline.image_writers`), and freed before the next.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from tnas_pipeline.data.images import (
    DEFAULT_MAX_PIXELS,
    IMAGE_SUFFIXES,
    list_image_files,
    probe_image,
    read_image,
)
from tnas_pipeline.errors import UserError
from tnas_pipeline.image_writers import check_output_size, open_writer
from tnas_pipeline.inference import Upscaler
from tnas_pipeline.logs import progress_bar

_LISTED = 3  # existing outputs named in the error before "and N more"


def output_name(source: Path, scale: int) -> str:
    """``NAME_EXT_xS.png`` for ``NAME.EXT``: distinct input names give distinct outputs."""
    return f"{source.stem}_{source.suffix[1:]}_x{scale}.png"


def plan_outputs(source: Path, output: Path, scale: int) -> list[tuple[Path, Path]]:
    """(input, output) pairs for ``source`` (image or folder) written into ``output``."""
    if source.is_dir():
        if output.exists() and not output.is_dir():
            raise UserError(f"{output}: exists and is not a folder; the output of a folder "
                            "of images must be a folder")
        return [(p, output / output_name(p, scale)) for p in list_image_files(source)]
    if not source.is_file():
        raise UserError(f"{source}: no such image or folder")
    if output.is_dir():
        return [(source, output / output_name(source, scale))]
    if output.suffix.lower() in IMAGE_SUFFIXES:
        return [(source, output)]
    if output.suffix:
        raise UserError(f"{output}: unknown image type; use .png, .jpg or .bmp")
    return [(source, output / output_name(source, scale))]


def _listing(paths: list[Path]) -> str:
    shown = ", ".join(str(p) for p in paths[:_LISTED])
    return shown + (f" and {len(paths) - _LISTED} more" if len(paths) > _LISTED else "")


def check_outputs(pairs: list[tuple[Path, Path]], overwrite: bool) -> None:
    """Refuse to write over an input (always) or an existing file (without ``overwrite``)."""
    inputs = {(st.st_dev, st.st_ino) for st in (os.stat(src) for src, _ in pairs)}
    existing = []
    for _, dst in pairs:
        if not dst.exists():
            continue
        if dst.is_dir():
            raise UserError(f"{dst}: is a folder where an output image would go; move it or "
                            "choose another -o")
        st = os.stat(dst)
        if (st.st_dev, st.st_ino) in inputs:
            raise UserError(f"{dst}: is an input of this run; upscale never writes over its "
                            "inputs, not even with --overwrite: choose another -o")
        existing.append(dst)
    if existing and not overwrite:
        raise UserError(f"{len(existing)} output file(s) exist: {_listing(existing)}; pass "
                        "--overwrite to replace them, or choose another -o")


def _make_folders(dsts: list[Path]) -> list[Path]:
    """Create the missing output folders; return those created, deepest first."""
    made: list[Path] = []
    for folder in dict.fromkeys(d.parent for d in dsts):
        missing = [p for p in (folder, *folder.parents) if not p.exists()]
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            _discard([], made)
            raise UserError(f"{folder}: cannot create the output folder ({exc.strerror or exc}); "
                            "choose another -o") from None
        made.extend(missing)
    return made


def _discard(staged: list[tuple[Path, Path]], made: list[Path]) -> None:
    """Remove this run's temporary outputs and the folders it created (if still empty)."""
    for tmp, _ in staged:
        tmp.unlink(missing_ok=True)
    for folder in sorted(made, key=lambda p: len(p.parts), reverse=True):
        with contextlib.suppress(OSError):
            folder.rmdir()


def _upscale_one(upscaler: Upscaler, src: Path, dst: Path, tmp: Path, max_pixels: int) -> None:
    pixels = read_image(src, max_pixels)
    h, w = pixels.shape[:2]
    s = upscaler.scale
    with open(tmp, "w+b") as f:
        writer = open_writer(f, dst, w * s, h * s, 1 if pixels.ndim == 2 else 3)
        for band in upscaler.upscale_bands(pixels):
            writer.write(band)
        writer.close()
        f.flush()
        os.fsync(f.fileno())


def upscale_paths(upscaler: Upscaler, source: str | Path, output: str | Path,
                  progress: bool = False, overwrite: bool = False,
                  max_pixels: int = DEFAULT_MAX_PIXELS) -> list[Path]:
    """Upscale ``source`` (file or folder) into ``output``; return the written paths.

    All checks come before any work, and the outputs appear together at the end (module
    docstring); on any error nothing is written.
    """
    pairs = plan_outputs(Path(source), Path(output), upscaler.scale)
    check_outputs(pairs, overwrite)
    for src, dst in pairs:
        w, h, gray = probe_image(src, max_pixels)
        check_output_size(dst, w * upscaler.scale, h * upscaler.scale, 1 if gray else 3)
    made = _make_folders([dst for _, dst in pairs])
    staged: list[tuple[Path, Path]] = []
    dst = pairs[0][1]
    try:
        # A context, so that an error closes the bar and its message starts on a line of its own.
        with progress_bar(total=len(pairs), desc="upscale", enabled=progress) as bar:
            for src, dst in pairs:
                fd, tmp = tempfile.mkstemp(prefix=f".{dst.name}.", suffix=".tmp", dir=dst.parent)
                os.close(fd)
                staged.append((Path(tmp), dst))
                _upscale_one(upscaler, src, dst, Path(tmp), max_pixels)
                bar.update()
        for tmp, dst in staged:
            os.replace(tmp, dst)
    except BaseException as exc:
        _discard(staged, made)
        if isinstance(exc, OSError):  # disk full, no permission: the user's to fix
            raise UserError(f"{dst}: cannot write ({exc.strerror or exc}); check free space and "
                            "permissions; no output was kept") from None
        raise
    return [dst for _, dst in pairs]
