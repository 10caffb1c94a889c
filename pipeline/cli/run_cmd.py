"""``tnas-pipeline run``: the main job, from latency table to validated ONNX, in one command."""

from __future__ import annotations

import sys

import click

from tnas_pipeline.cli.common import (
    bring_up_option,
    data_option,
    echo_json,
    json_option,
)
from tnas_pipeline.cli.options import (
    iters_option,
    minutes_option,
    no_progress_option,
    overwrite_option,
    resume_option,
    run_dir_option,
    seed_option,
    threads_option,
    val_data_option,
)


@click.command("run")
@click.option("--latency-budget", "budget",
              help="Latency budget with a unit (30ms, 0.03s) on the target device [default: "
                   "250ms, or the middle of this device's reachable range when 250 ms is "
                   "outside it or at its edge; the job says so].")
@click.option("--device", "target", default="cpu", show_default=True,
              help="Target whose latency table is used: cpu (this CPU: the shipped table if "
                   "it was measured on this CPU, else this CPU's, measured once and cached), "
                   "jetson (shipped estimate) or a table FILE.json.")
@bring_up_option
@click.option("--profile", is_flag=True,
              help="Profile this CPU in full into RUN/latency-profile.json first (a few "
                   "minutes), even when a table of it exists.")
@minutes_option("search plus fine-tuning", default=8.0)
@iters_option("search plus fine-tuning, instead of --minutes (reproducible)")
@data_option
@val_data_option
@click.option("--no-device-check", is_flag=True,
              help="Trust the table alone: do not time the fitted network here and refit.")
@seed_option
@threads_option()
@run_dir_option("runs/main", fixed_default=True)
@resume_option("run")
@overwrite_option
@no_progress_option
@json_option
def run(budget, target, bring_up, profile, minutes, iters, data, val_data, no_device_check, seed,
        threads, output, resume, overwrite, no_progress, as_json) -> None:
    """Search, export and validate in one go: the whole pipeline on the bundled data.

    Uses this CPU's latency table (measured here first, once, when this CPU has none: a few
    minutes, cached), searches a network under the budget for --minutes, times it here and
    refits it until it measures inside [0.9, 1.0] x budget, exports it to ONNX with a parity
    check against PyTorch, validates PSNR on Set5/Set14 and latency on this machine, and prints
    where everything is. With the defaults it takes 10 to 13 minutes on 2 CPU cores. PASS needs
    the network within the budget and using at least 85 % of it. Exit code 0 on PASS, 1 on
    FAIL.

    \b
    Examples:
      tnas-pipeline run                                   # 250 ms on this CPU, bundled data
      tnas-pipeline run --bring-up transfer -o runs/fast  # a new CPU measured in about a minute
      tnas-pipeline run --latency-budget 120ms --minutes 5 -o runs/quick
      tnas-pipeline run --profile -o runs/measured        # profile this CPU first
      tnas-pipeline run --resume -o runs/main
    """
    from tnas_pipeline.main_job import MainJob, run_main_job
    from tnas_pipeline.nas.budget import parse_latency_budget

    job = MainJob(out=output, budget_ms=parse_latency_budget(budget) if budget else None,
                  device=target, bring_up=bring_up, profile=profile, minutes=minutes,
                  iters=iters, data=list(data), val_data=list(val_data), seed=seed,
                  threads=threads,
                  device_check=not no_device_check)
    summary = run_main_job(job, resume=resume, overwrite=overwrite,
                           progress=not (no_progress or as_json), argv=sys.argv)
    if as_json:
        echo_json(summary)
    else:
        lat = summary["latency_ms"]
        click.echo(f"\n{'PASS' if summary['pass'] else 'FAIL'}: {summary['arch']} in "
                   f"{summary['run']} ({summary['wall_seconds'] / 60:.1f} min): "
                   f"{summary['verdict']}")
        use = summary["budget_use"]
        click.echo(f"latency  {lat['median']:.1f} ms measured ({lat['basis']}), "
                   f"{summary['predicted_ms']:.1f} ms predicted, budget "
                   f"{summary['budget_ms']:g} ms" + (f", {use:.0%} used" if use else ""))
        click.echo("PSNR-Y   " + ", ".join(f"{k} {v:.2f} dB" for k, v in
                                             summary["psnr_y"].items()))
        for path in summary["onnx"]:
            click.echo(f"onnx     {path}")
        click.echo(f"report   {summary['validation_report']}")
        click.echo(f"search   {summary['trajectories']}")
    sys.exit(0 if summary["pass"] else 1)
