"""``tnas-pipeline validate``: quality and latency of a deployed artifact against its run."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from tnas_pipeline.cli.common import data_option, echo_json, json_option
from tnas_pipeline.cli.options import no_progress_option, threads_option


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
@threads_option("ONNX Runtime threads for latency [default: the latency table's].")
@click.option("--rounds", default=3, show_default=True, type=click.IntRange(1, 100),
              help="Fresh sessions timed, each a run of interleaved pairs with the table's "
                   "reference network; the median of their ratios is reported.")
@no_progress_option
@json_option
def validate(run, artifact, data, device, torch_device, threads, rounds,
             no_progress, as_json) -> None:
    """Check an exported artifact: PSNR/SSIM and difference from PyTorch on benchmark images,
    latency on this machine against the LUT prediction and the run's budget, pass or fail.

    Latency is timed as the profiler times whole networks: the static ONNX at the table's output
    resolution and thread count, as a ratio to the table's reference network run interleaved
    with it, in --rounds fresh sessions. On the CPU the table was measured on, the ratio is
    converted with the reference's time at profiling (the host's drift cancels; the reading now
    is shown beside it); on another CPU, with its time now. Latency passes only within the
    budget; under 85 % of the budget a warning says the network leaves budget unused. The
    report is written to RUN/validation/ARTIFACT.{json,md}; the exit code is 0 on pass and 1 on
    fail.

    \b
    Examples:
      tnas-pipeline validate --run runs/s150
      tnas-pipeline validate --run runs/s150 --artifact runs/s150/export/model-fp16.onnx --json
      tnas-pipeline validate --run runs/s150 --device cuda    # the engine, on the GPU
      tnas-pipeline validate --run runs/s150 --data ~/benchmarks/Urban100
    """
    from tnas_pipeline.deploy.validation import validate_run

    report = validate_run(run, artifact, [Path(d) for d in data], device, torch_device,
                          threads, rounds, argv=sys.argv,
                          progress=not (no_progress or as_json))
    if as_json:
        echo_json(report)
    else:
        click.echo(Path(report["report"]).read_text().rstrip())
        click.echo(f"\nreport: {report['report']}")
    sys.exit(0 if report["pass"] else 1)
