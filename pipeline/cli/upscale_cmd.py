"""``tnas-pipeline upscale``: super-resolve an image or a folder with a trained model."""

from __future__ import annotations

import click

from tnas_pipeline.cli.common import device_option, echo_json, json_option, resolve_device
from tnas_pipeline.tiling import DEFAULT_OVERLAP, DEFAULT_TILE


@click.command()
@click.argument("source", type=click.Path(path_type=str))
@click.option("-o", "--output", required=True, type=click.Path(path_type=str),
              help="Output image (for one input image) or folder.")
@click.option("--model", "model", type=click.Path(path_type=str),
              help="A run directory or an .onnx file.")
@click.option("--bicubic", is_flag=True, help="Use bicubic interpolation instead of a model.")
@click.option("--scale", type=click.Choice(["2", "3", "4"]), help="Scale for --bicubic.")
@click.option("--tile", default=DEFAULT_TILE, show_default=True,
              help="LR tile side for large images (0: whole image at once).")
@click.option("--overlap", default=DEFAULT_OVERLAP, show_default=True,
              help="LR context pixels around each tile; at least the receptive-field radius.")
@device_option
@json_option
def upscale(source, output, model, bicubic, scale, tile, overlap, device, as_json) -> None:
    """Upscale SOURCE (an image or a folder of images) into OUTPUT.

    Large images run in overlapping tiles; only each tile's own region is kept, so the result
    equals a whole-image pass and shows no seams. Grayscale images stay grayscale.

    \b
    Examples:
      tnas-pipeline upscale photo.png -o photo_x2.png --model runs/demo
      tnas-pipeline upscale frames/ -o frames_x2/ --model model.onnx
    """
    from tnas_pipeline.inference import load_upscaler
    from tnas_pipeline.upscaling import upscale_paths

    upscaler = load_upscaler(model, bicubic=bicubic, scale=int(scale) if scale else None,
                             device=resolve_device(device), tile=tile, overlap=overlap)
    written = upscale_paths(upscaler, source, output, progress=not as_json)
    if as_json:
        echo_json({"model": upscaler.description, "scale": upscaler.scale,
                   "outputs": [str(p) for p in written]})
    else:
        click.echo(f"wrote {len(written)} image(s) x{upscaler.scale} to {output}")
