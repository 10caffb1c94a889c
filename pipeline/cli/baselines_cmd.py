"""``tnas-pipeline baselines``: the registered hand-designed networks and their cost."""

from __future__ import annotations

import click

from tnas_pipeline.cli.common import echo_json, json_option
from tnas_pipeline.cli.options import scale_option


@click.command()
@scale_option("Upscaling factor.", default="2")
@json_option
def baselines(scale: str, as_json: bool) -> None:
    """List the registered baselines with parameters and Mult-Adds (1280×720 output).

    \b
    Examples:
      tnas-pipeline baselines
      tnas-pipeline baselines --scale 4 --json
    """
    from tnas_pipeline.networks import BASELINES, baseline_architecture, build_network
    from tnas_pipeline.training.trainer import complexity_record

    rows = []
    for name in BASELINES.names():
        arch = baseline_architecture(name, int(scale))
        rows.append({"name": name, **complexity_record(build_network(arch), int(scale)),
                     "doc": (BASELINES.get(name).__doc__ or "").strip().splitlines()[0]})
    if as_json:
        echo_json(rows)
        return
    for r in rows:
        click.echo(f"{r['name']:<12} {r['params']:>9,d} params  {r['mult_adds'] / 1e9:7.2f} G "
                   f"Mult-Adds  {r['doc']}")
