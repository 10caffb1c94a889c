"""Entry point of ``tnas-pipeline``."""

from __future__ import annotations

import click

from tnas_pipeline import __version__
from tnas_pipeline.cli.baselines_cmd import baselines
from tnas_pipeline.cli.common import PipelineGroup
from tnas_pipeline.cli.evaluate_cmd import evaluate
from tnas_pipeline.cli.export_cmd import export
from tnas_pipeline.cli.profile_cmd import profile
from tnas_pipeline.cli.report_cmd import report
from tnas_pipeline.cli.run_cmd import run
from tnas_pipeline.cli.search_cmd import search
from tnas_pipeline.cli.train_cmd import train
from tnas_pipeline.cli.upscale_cmd import upscale
from tnas_pipeline.cli.validate_cmd import validate
from tnas_pipeline.logs import configure_cli_logging


@click.group(cls=PipelineGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="tnas-pipeline")
@click.option("-v", "--verbose", count=True, help="Log more (debug messages).")
@click.option("-q", "--quiet", count=True, help="Log less (warnings and errors only).")
def cli(verbose: int, quiet: int) -> None:
    """Hardware-aware NAS for efficient super-resolution, from latency profile to deployed model.

    \b
    Examples:
      tnas-pipeline run                      # search, export, validate on the bundled data
      tnas-pipeline train plain_cnn --minutes 3 -o runs/demo
      tnas-pipeline evaluate runs/demo
      tnas-pipeline evaluate --bicubic --scale 4 --json
      tnas-pipeline upscale photo.png -o photo_x2.png --model runs/demo
      tnas-pipeline profile --device cpu -o my-cpu.json
      tnas-pipeline report runs/* -o report/
      tnas-pipeline search --latency-budget 150ms --minutes 6 -o runs/s150
      tnas-pipeline export --run runs/s150
      tnas-pipeline validate --run runs/s150

    Bad input is one line starting with "error:" (exit 2). An internal error is one line
    with the path of a crash log that holds the traceback (exit 1); set TNAS_PIPELINE_DEBUG=1
    to see the traceback instead, TNAS_PIPELINE_LOG_DIR to put crash logs elsewhere.
    """
    configure_cli_logging(verbose - quiet)


for command in (run, train, evaluate, upscale, baselines, profile, search, export, validate,
                report):
    cli.add_command(command)

if __name__ == "__main__":
    cli()
