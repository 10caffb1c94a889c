"""Entry point of ``tnas-pipeline``."""

from __future__ import annotations

import click

from pipeline import __version__
from pipeline.cli.baselines_cmd import baselines
from pipeline.cli.common import PipelineGroup
from pipeline.cli.evaluate_cmd import evaluate
from pipeline.cli.export_cmd import export
from pipeline.cli.profile_cmd import profile
from pipeline.cli.run_cmd import run
from pipeline.cli.search_cmd import search
from pipeline.cli.train_cmd import train
from pipeline.cli.upscale_cmd import upscale
from pipeline.cli.validate_cmd import validate


@click.group(cls=PipelineGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="tnas-pipeline")
def cli() -> None:
    """Hardware-aware NAS for efficient super-resolution, from latency profile to deployed model.

    \b
    Examples:
      tnas-pipeline run                      # search, export, validate on the bundled data
      tnas-pipeline train plain_cnn --minutes 3 -o runs/demo
      tnas-pipeline evaluate runs/demo
      tnas-pipeline evaluate --bicubic --scale 4 --json
      tnas-pipeline upscale photo.png -o photo_x2.png --model runs/demo
      tnas-pipeline profile --device cpu -o hardware_profiles/cpu.json
      tnas-pipeline search --latency-budget 150ms --minutes 6 -o runs/s150
      tnas-pipeline export --run runs/s150
      tnas-pipeline validate --run runs/s150
    """


for command in (run, train, evaluate, upscale, baselines, profile, search, export, validate):
    cli.add_command(command)

if __name__ == "__main__":
    cli()
