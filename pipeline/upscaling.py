"""Upscaling image files: one image or a folder, every output written atomically."""

from __future__ import annotations

from pathlib import Path

from PIL import Image
from tqdm import tqdm

from tnas_pipeline.data.images import IMAGE_SUFFIXES, list_image_files, load_image
from tnas_pipeline.errors import UserError
from tnas_pipeline.inference import Upscaler
from tnas_pipeline.io_utils import atomic_path
from tnas_pipeline.metrics import quantize


def _targets(source: Path, output: Path) -> list[tuple[Path, Path]]:
    if source.is_dir():
        if output.exists() and not output.is_dir():
            raise UserError(f"{output}: exists and is not a folder; the output of a folder "
                            "of images must be a folder")
        return [(p, output / f"{p.stem}.png") for p in list_image_files(source)]
    if not source.is_file():
        raise UserError(f"{source}: no such image or folder")
    if output.is_dir() or output.suffix.lower() not in IMAGE_SUFFIXES:
        if output.suffix:
            raise UserError(f"{output}: unknown image type; use .png, .jpg or .bmp")
        return [(source, output / f"{source.stem}.png")]
    return [(source, output)]


def upscale_paths(upscaler: Upscaler, source: str | Path, output: str | Path,
                  progress: bool = False) -> list[Path]:
    """Upscale ``source`` (file or folder) into ``output``; return the written paths.

    Every input is decoded before anything is written, so a bad image stops the run cleanly.
    """
    pairs = _targets(Path(source), Path(output))
    images = [load_image(src) for src, _ in pairs]
    written = []
    jobs = list(zip(pairs, images, strict=True))
    for (_, dst), image in tqdm(jobs, desc="upscale", disable=not progress):
        pixels = quantize(upscaler.upscale(image.pixels))
        with atomic_path(dst) as tmp:
            Image.fromarray(pixels).save(tmp, format=_pil_format(dst))
        written.append(dst)
    return written


def _pil_format(path: Path) -> str:
    return {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".bmp": "BMP"}[path.suffix.lower()]
