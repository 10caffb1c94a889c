"""``tnas-pipeline report``: plots and a table of what runs achieved."""

from __future__ import annotations

import click

from tnas_pipeline.cli.common import OutputPath, echo_json, json_option


@click.command()
@click.argument("runs", nargs=-1, type=click.Path(path_type=str))
@click.option("--arena", type=click.Path(path_type=str),
              help="An arena results file (bench/results/arena.json) to plot with the runs.")
@click.option("-o", "--output", default="report", show_default=True,
              type=OutputPath("dir"), help="Folder for the plots and the tables.")
@json_option
def report(runs, arena, output, as_json) -> None:
    """Plot what runs achieved: PSNR against measured latency (with the Pareto front and the
    budgets), training curves, and one table.

    RUNS are run directories made by train, search or run, or folders of them. A run's latency
    is the one its latest `validate` measured; runs never validated are listed, not plotted.
    Nothing is measured here.

    \b
    Examples:
      tnas-pipeline report runs/* -o report/
      tnas-pipeline report runs/s200 runs/plain --json
      tnas-pipeline report --arena bench/results/arena.json -o report/arena
    """
    from tnas_pipeline.report import build_report

    written = build_report(list(runs), output, arena)
    if as_json:
        echo_json(written)
        return
    for path in written["plots"]:
        click.echo(path)
    click.echo(written["report"])
