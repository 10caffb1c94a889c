"""``tnas-pipeline evaluate``: PSNR/SSIM (Y) of a run, an ONNX file, or bicubic."""

from __future__ import annotations

from pathlib import Path

import click

from tnas_pipeline.cli.common import (
    data_option,
    device_option,
    echo_json,
    json_option,
    resolve_device,
)
from tnas_pipeline.cli.options import scale_option


@click.command()
@click.argument("model", required=False)
@click.option("--bicubic", is_flag=True, help="Evaluate bicubic interpolation instead of a model.")
@data_option
@scale_option("Upscaling factor [default: the model's; 2 for --bicubic].")
@click.option("--per-image", is_flag=True, help="Also list every image's scores.")
@device_option
@json_option
def evaluate(model, bicubic, data, scale, per_image, device, as_json) -> None:
    """Score MODEL (a run directory or an .onnx file) or --bicubic on folders of HR images.

    LR inputs are made from each HR image by the protocol (mod-crop, antialiased bicubic); PSNR
    and SSIM are on BT.601 Y after shaving `scale` border pixels, averaged over images. Without
    --data, evaluates on the bundled Set5 and Set14.

    \b
    Examples:
      tnas-pipeline evaluate runs/demo
      tnas-pipeline evaluate model.onnx --data ~/benchmarks/Urban100 --json
      tnas-pipeline evaluate --bicubic --scale 4 --data Set5 --data Set14 --json
    """
    from tnas_pipeline.data.defaults import default_eval_folders
    from tnas_pipeline.evaluation import evaluate_folders
    from tnas_pipeline.inference import load_upscaler

    upscaler = load_upscaler(model, bicubic=bicubic, scale=int(scale) if scale else None,
                             device=resolve_device(device))
    folders = [Path(d) for d in data] or default_eval_folders()
    result = evaluate_folders(upscaler, folders, progress=not as_json)
    if not per_image:
        for s in result["sets"].values():
            s.pop("per_image")
    if as_json:
        echo_json(result)
        return
    click.echo(f"{result['model']}  x{result['scale']}")
    click.echo(f"{'set':<16} {'images':>6} {'PSNR-Y':>8} {'SSIM-Y':>8}")
    for name, s in result["sets"].items():
        click.echo(f"{name:<16} {s['images']:>6} {s['psnr_y']:>8.2f} {s['ssim_y']:>8.4f}")
        for im in s.get("per_image", []):
            click.echo(f"  {im['name']:<14} {'':>6} {im['psnr_y']:>8.2f} {im['ssim_y']:>8.4f}")
