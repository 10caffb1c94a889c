"""``tnas-pipeline validate``: quality and latency of a deployed artifact against its run."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from pipeline.cli.common import data_option, echo_json, json_option


@click.command()
@click.option("--run", "run", required=True, type=click.Path(path_type=Path),
              help="Run directory the artifact was exported from.")
@click.option("--artifact", type=click.Path(path_type=Path),
              help="Exported .onnx or .engine [default: RUN/export/model-fp32.onnx on cpu, the "
                   "dynamic engine on cuda].")
@data_option
@click.option("--device", default="cpu", show_default=True, type=click.Choice(["cpu", "cuda"]),
              help="Where the artifact runs (a Jetson is cuda).")
@click.option("--torch-device", default="cpu", show_default=True,
              type=click.Choice(["cpu", "cuda"]), help="Where the PyTorch reference runs.")
@click.option("--threads", type=int,
              help="ONNX Runtime threads for latency [default: the latency table's].")
@click.option("--rounds", default=3, show_default=True,
              help="Fresh sessions timed; the median of their medians is reported.")
@click.option("--no-drift-check", is_flag=True,
              help="Do not time the table's nearest calibration network alongside (host drift).")
@click.option("--no-progress", is_flag=True, help="No progress bars.")
@json_option
def validate(run, artifact, data, device, torch_device, threads, rounds, no_drift_check,
             no_progress, as_json) -> None:
    """Check an exported artifact: PSNR/SSIM and difference from PyTorch on benchmark images,
    latency on this machine against the LUT prediction and the run's budget, pass or fail.

    Latency follows the profiler's protocol for whole networks (its warm-up, repeats, threads
    and output resolution). The report is written to RUN/validation/ARTIFACT.{json,md}; the exit
    code is 0 on pass and 1 on fail.

    \b
    Examples:
      tnas-pipeline validate --run runs/s150
      tnas-pipeline validate --run runs/s150 --artifact runs/s150/export/model-fp16.onnx --json
      tnas-pipeline validate --run runs/s150 --device cuda    # the engine, on the GPU
      tnas-pipeline validate --run runs/s150 --data ~/benchmarks/Urban100
    """
    from export.validation import validate_run

    report = validate_run(run, artifact, [Path(d) for d in data], device, torch_device,
                          threads, rounds, drift_check=not no_drift_check, argv=sys.argv,
                          progress=not (no_progress or as_json),
                          log=lambda m: click.echo(m, err=True))
    if as_json:
        echo_json(report)
    else:
        click.echo(Path(report["report"]).read_text().rstrip())
        click.echo(f"\nreport: {report['report']}")
    sys.exit(0 if report["pass"] else 1)
