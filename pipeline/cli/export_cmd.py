"""``tnas-pipeline export``: a run directory to ONNX, or to ONNX and TensorRT engines."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from tnas_pipeline.cli.common import OutputPath, echo_json, json_option
from tnas_pipeline.cli.options import no_progress_option
from tnas_pipeline.cli.profile_cmd import parse_output_size


@click.command()
@click.option("--run", "run", required=True, type=click.Path(path_type=Path),
              help="Run directory (from train or search).")
@click.option("--format", "fmt", default="onnx", show_default=True,
              type=click.Choice(["onnx", "trt"]),
              help="onnx: dynamic and static ONNX; trt: also TensorRT engines (needs TensorRT "
                   "and a GPU, on the device that will run them).")
@click.option("--precision", default="fp32", show_default=True,
              type=click.Choice(["fp32", "fp16"]),
              help="fp16: FP16 weights and activations with FP32 input and output.")
@click.option("--output-size",
              help="Deployment output WIDTHxHEIGHT of the static variant [default: the "
                   "resolution of the run's latency table, 1280x720 for a run without one].")
@click.option("-o", "--output", "out_dir", type=OutputPath("dir", Path),
              help="Output folder [default: RUN/export].")
@click.option("--parity-data", multiple=True, type=click.Path(path_type=Path),
              help="HR image folder(s) for the parity check [default: bundled Set5].")
@click.option("--workspace-mb", default=1024, show_default=True, type=click.IntRange(1, 2**20),
              help="TensorRT builder workspace limit.")
@click.option("--timing-cache", type=click.Path(path_type=Path),
              help="TensorRT timing cache [default: one per GPU and TensorRT version in "
                   "~/.cache/tnas-pipeline/trt].")
@no_progress_option
@json_option
def export(run, fmt, precision, output_size, out_dir, parity_data, workspace_mb, timing_cache,
           no_progress, as_json) -> None:
    """Export a run's network for deployment, checked against PyTorch before it is written.

    Writes MODEL.onnx (dynamic batch, height, width) and MODEL-WxH.onnx (static at
    --output-size), opset 17, through onnx.checker and onnxsim, stamped with the run's hashes;
    with --format trt also a fixed-shape engine for latency and a dynamic one for images
    (strongly typed, so TensorRT 10.x on a Jetson and 11.x on a desktop build the same way).
    MODEL is model-fp32 or model-fp16. The parity of ONNX Runtime (and TensorRT) against PyTorch
    on real images is in export-PRECISION.json; NaN or Inf in an output is an error and nothing
    is written.

    \b
    Examples:
      tnas-pipeline export --run runs/s150
      tnas-pipeline export --run runs/s150 --precision fp16 --output-size 1920x1080
      tnas-pipeline export --run runs/s150 --format trt --precision fp16   # on the Jetson
    """
    from tnas_pipeline.deploy.exporter import ExportRequest, export_run

    req = ExportRequest(run=run, fmt=fmt, precision=precision,
                        output_size=parse_output_size(output_size) if output_size else None,
                        out_dir=out_dir,
                        parity_data=list(parity_data), workspace_mb=workspace_mb,
                        timing_cache=timing_cache)
    manifest = export_run(req, argv=sys.argv, progress=not (no_progress or as_json))
    folder = Path(out_dir) if out_dir else Path(run) / "export"
    if as_json:
        echo_json({"out_dir": str(folder), **{k: manifest[k] for k in (
            "run", "arch", "precision", "output_size", "artifacts", "parity")}})
        return
    for a in manifest["artifacts"]:
        click.echo(f"{folder / a['file']}  ({a['kind']}, {a['variant']}, {a['precision']}, "
                   f"{a['bytes'] / 1e6:.2f} MB)")
    for name, s in manifest["parity"]["onnxruntime"].items():
        o = s["onnxruntime"]
        click.echo(f"parity {name}: ONNX Runtime {o['psnr_y']:.3f} dB vs PyTorch "
                   f"{s['pytorch']['psnr_y']:.3f} dB ({o['psnr_delta_db']:+.4f}), "
                   f"max |diff| {o['max_abs_diff']:.2e}")
    failed = [c for c in manifest["parity"]["checks"] if not c["ok"]]
    for c in failed:
        click.echo(f"warning: parity check {c['name']} failed: {c['detail']}", err=True)
    click.echo(f"next: tnas-pipeline validate --run {run}")
