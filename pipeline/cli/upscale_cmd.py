"""``tnas-pipeline upscale``: super-resolve an image or a folder with a trained model."""

from __future__ import annotations

import click

from tnas_pipeline.cli.common import device_option, echo_json, json_option, resolve_device
from tnas_pipeline.cli.options import scale_option
from tnas_pipeline.data.images import DEFAULT_MAX_PIXELS
from tnas_pipeline.tiling import DEFAULT_OVERLAP, DEFAULT_TILE


@click.command()
@click.argument("source", type=click.Path(path_type=str))
@click.option("-o", "--output", required=True, type=click.Path(path_type=str),
              help="Output image (for one input image) or folder; into a folder, NAME.EXT is "
                   "written as NAME_EXT_x<scale>.png.")
@click.option("--overwrite", is_flag=True,
              help="Replace output files that exist (never an input).")
@click.option("--model", "model", type=click.Path(path_type=str),
              help="A run directory or an .onnx file.")
@click.option("--bicubic", is_flag=True, help="Use bicubic interpolation instead of a model.")
@scale_option("Scale for --bicubic.")
@click.option("--tile", default=DEFAULT_TILE, show_default=True,
              help="LR tile side for large images (0: whole image at once).")
@click.option("--overlap", type=int, default=None,
              help="LR context pixels around each tile [default: the network's receptive "
                   f"field; {DEFAULT_OVERLAP} for networks with global attention]; a smaller "
                   "value is refused.")
@click.option("--max-pixels", default=DEFAULT_MAX_PIXELS, show_default=True, type=int,
              help="Refuse inputs with more pixels (width x height); decoding takes about 10 "
                   "bytes a pixel.")
@device_option
@json_option
def upscale(source, output, overwrite, model, bicubic, scale, tile, overlap, max_pixels, device,
            as_json) -> None:
    """Upscale SOURCE (an image or a folder of images) into OUTPUT.

    Large images run in overlapping tiles; only each tile's own region is kept, so the result
    equals a whole-image pass and shows no seams (networks with global attention, as RLFN's,
    only approximately: --tile 0 runs each image whole). Grayscale images stay grayscale.
    Memory follows the tile, not the image, for PNG and BMP outputs (JPEG holds the output).

    Nothing is lost: existing files are replaced only with --overwrite, inputs never, and on
    any error (checked first where possible) no output is written.

    \b
    Examples:
      tnas-pipeline upscale photo.png -o photo_x2.png --model runs/demo
      tnas-pipeline upscale frames/ -o frames_x2/ --model model.onnx
    """
    from tnas_pipeline.inference import load_upscaler
    from tnas_pipeline.upscaling import upscale_paths

    upscaler = load_upscaler(model, bicubic=bicubic, scale=int(scale) if scale else None,
                             device=resolve_device(device), tile=tile, overlap=overlap)
    if upscaler.receptive_field is None and tile > 0:
        click.echo(f"note: {upscaler.description} has global attention, so images over {tile} "
                   "LR pixels a side, run in tiles, only approximate a whole-image pass; "
                   "--tile 0 runs each image whole", err=True)
    written = upscale_paths(upscaler, source, output, progress=not as_json, overwrite=overwrite,
                            max_pixels=max_pixels)
    if as_json:
        echo_json({"model": upscaler.description, "scale": upscaler.scale,
                   "outputs": [str(p) for p in written]})
    else:
        click.echo(f"wrote {len(written)} image(s) x{upscaler.scale} to {output}")
