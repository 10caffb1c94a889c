"""``tnas-pipeline search``: hardware-aware trilevel search under a latency budget."""

from __future__ import annotations

import sys

import click

from tnas_pipeline.cli.common import (
    ANY_FINITE,
    BATCH,
    COUNT,
    NON_NEGATIVE,
    PATCH,
    bring_up_option,
    data_option,
    echo_json,
    json_option,
    resolve_device,
)
from tnas_pipeline.cli.options import (
    iters_option,
    minutes_option,
    no_progress_option,
    overwrite_option,
    resume_option,
    run_dir_option,
    scale_option,
    seed_option,
    threads_option,
    val_data_option,
)
from tnas_pipeline.errors import UserError


def _method_names() -> list[str]:
    from tnas_pipeline.nas.methods import SEARCH_METHODS

    return SEARCH_METHODS.names()


@click.command()
@click.option("--latency-budget", "budget",
              help="Latency budget with a unit: 30ms, 30 ms or 0.03s (batch 1, one forward "
                   "pass at the table's output size, on the target device). Required, except "
                   "with --resume.")
@click.option("--device", "target", default="cpu", show_default=True,
              help="Target device whose latency table the search uses: cpu (shipped, measured), "
                   "jetson (shipped roofline estimate), cuda (profile first) or a LUT FILE.json.")
@scale_option("Upscaling factor [default: the table's; with a shipped --device, the ×N "
              "table is picked (cpu: ×2 and ×4 are shipped)].")
@data_option
@val_data_option
@iters_option("search plus fine-tuning")
@minutes_option("search plus fine-tuning steps")
@click.option("--search-fraction", default=0.4, show_default=True, type=ANY_FINITE,
              help="Share of the budget spent on the supernet; the rest fine-tunes.")
@click.option("--relaxation", default="sparsestmax", show_default=True,
              type=click.Choice(_method_names()),
              help="Relaxation of the architecture weights (sparsestmax, SSN's, with the depth "
                   "as sorted path weights; softmax is the DARTS baseline; sparse-group-lasso is "
                   "mixed-path search, Sparse Supernet, on the mixed space's table: an edge keeps "
                   "any of 3x3, 1x1 and identity, folded into one conv at export).")
@click.option("--space", "space_opt", type=click.Choice(["default", "plain"]),
              help="Search space of a single-path search [default: default]: default (residual "
                   "and inverted-residual blocks with inner widths) or plain (3x3 conv, ECB and "
                   "1x1 conv chains at a searched trunk width; needs this device's plain table: "
                   "profile --space plain, or the CPU bring-up).")
@click.option("--penalty", default="augmented", show_default=True,
              type=click.Choice(["augmented", "hinge", "lagrangian"]),
              help="How the expected latency is held to the middle of the fit's window: "
                   "augmented (Lagrangian plus a quadratic term) and lagrangian pull it from "
                   "both sides, hinge only caps it (the multiplier adapts in each).")
@click.option("--param-weight", default=0.0, show_default=True, type=NON_NEGATIVE,
              help="Extra loss term: weight × expected parameters (millions).")
@click.option("--mult-add-weight", default=0.0, show_default=True, type=NON_NEGATIVE,
              help="Extra loss term: weight × expected Mult-Adds (G).")
@click.option("--headroom", type=ANY_FINITE,
              help="Fit the derived network's prediction into [0.9, 1 - headroom] x budget "
                   "[default: the window the table's model uncertainty leaves for the "
                   "measurement to land in [0.9, 1.0] x budget].")
@click.option("--check-on-device/--no-check-on-device", default=True, show_default=True,
              help="Time the fitted network on this machine and refit until its measurement, "
                   "with its confidence interval, lies in [0.9, 1.0] x budget (a CPU table of "
                   "this CPU only; skipped with a note otherwise).")
@bring_up_option
@click.option("--ops", "ops_list",
              help="Comma-separated ops the supernet holds [default: every op of the table's "
                   "space], e.g. resblock3x3,invres3x3.")
@click.option("--evolve-rounds", default=1, show_default=True, type=COUNT,
              help="Search-space evolution (NSE): rounds over the table's op pool, each on "
                   "--evolve-active ops, replacing the --evolve-drop lowest ranked; needs a table "
                   "of the pool (profile --space pool).")
@click.option("--evolve-active", default=4, show_default=True, type=COUNT,
              help="Ops per evolution round.")
@click.option("--evolve-drop", default=2, show_default=True, type=COUNT,
              help="Ops replaced after each evolution round.")
@click.option("--evolve-criterion", default="weight", show_default=True,
              type=click.Choice(["weight", "abs"]),
              help="How a round ranks its ops: their cell-level weight, or ABS (the angle of "
                   "the paths through them between their current and initial weights).")
@click.option("--batch-size", default=8, show_default=True, type=BATCH,
              help="Search batch (per process).")
@click.option("--patch-size", default=48, show_default=True, type=PATCH,
              help="Search HR patch side.")
@click.option("--finetune-batch-size", default=16, show_default=True, type=BATCH,
              help="Fine-tuning batch (per process).")
@click.option("--finetune-patch-size", default=72, show_default=True, type=PATCH,
              help="Fine-tuning HR patch side.")
@seed_option
@threads_option()
@click.option("--torch-device", default="cpu", show_default=True,
              type=click.Choice(["cpu", "cuda", "auto"]),
              help="Where PyTorch trains the supernet (not the target device).")
@run_dir_option("runs/search-<budget>ms-<time>")
@resume_option("search run")
@overwrite_option
@no_progress_option
@json_option
def search(budget, target, scale, data, val_data, iters, minutes, search_fraction, relaxation,
           space_opt, penalty, param_weight, mult_add_weight, headroom, check_on_device, bring_up,
           ops_list, evolve_rounds, evolve_active, evolve_drop, evolve_criterion, batch_size,
           patch_size, finetune_batch_size, finetune_patch_size, seed,
           threads, torch_device, output, resume, overwrite, no_progress, as_json) -> None:
    """Search for the best SR network whose latency on the target device fits the budget.

    One phase, as Trilevel NAS: a supernet over network level (depth, upsampler), cell level
    (op per edge) and kernel level (inner widths; the trunk width in the plain space) is trained
    with first-order bilevel updates on two halves of the training images, with the device's
    LUT-expected latency held to the middle of the fit's window; the architecture freezes at the
    first derived network inside it, which is fitted (trimmed, if need be) into the window the
    table's model uncertainty leaves inside [0.9, 1.0] x budget (--headroom sets its top), timed
    here when the table is this CPU's, inherits the
    supernet's weights and is fine-tuned. --device cpu means this CPU: a CPU without a table
    yet is measured first (--bring-up) and its table cached. The run directory works with
    train, evaluate, upscale and export. Under torchrun, search and fine-tuning run
    data-parallel.

    \b
    Examples:
      tnas-pipeline search --latency-budget 150ms --minutes 6 -o runs/s150
      tnas-pipeline search --latency-budget "60 ms" --iters 2000 --json
      tnas-pipeline search --latency-budget 0.03s --device jetson --minutes 30
      tnas-pipeline search --latency-budget 25ms --device cuda-h100.json --torch-device cuda
      tnas-pipeline search --resume -o runs/s150
      tnas-pipeline search --latency-budget 250ms --relaxation sparse-group-lasso --minutes 4
      tnas-pipeline search --latency-budget 250ms --evolve-rounds 3 --minutes 4
      tnas-pipeline search --latency-budget 200ms --space plain --iters 1000
      torchrun --nproc_per_node 2 -m tnas_pipeline.cli.main search --latency-budget 150ms --iters
      4000
    """
    from tnas_pipeline.latency.devices import cpu_mismatch
    from tnas_pipeline.nas.budget import parse_latency_budget
    from tnas_pipeline.nas.plan import plan_search
    from tnas_pipeline.nas.run import check_output, resume_config, run_search
    from tnas_pipeline.run_dir import default_run_dir

    if budget is None and not resume:
        raise UserError("give --latency-budget, e.g. --latency-budget 30ms")
    budget_ms = parse_latency_budget(budget) if budget is not None else None
    if resume:
        if not output:
            raise UserError("--resume needs -o RUN, the search run to continue")
        cfg, lut = resume_config(output)
        if budget_ms is not None and abs(budget_ms - cfg.budget_ms) > 1e-9:
            raise UserError(f"{output} searched under {cfg.budget_ms:g} ms, not {budget_ms:g} "
                            "ms; drop --latency-budget to resume it, or start a new run")
    else:
        cfg, lut = plan_search(
            budget_ms, target=target, scale=int(scale) if scale else None, space=space_opt,
            relaxation=relaxation, evolve_rounds=evolve_rounds,
            ops=[o.strip() for o in ops_list.split(",") if o.strip()] if ops_list else None,
            data=data, val_data=val_data, bring_up=bring_up, progress=not no_progress,
            penalty=penalty, param_weight=param_weight, mult_add_weight=mult_add_weight,
            iters=iters, minutes=minutes, search_fraction=search_fraction, headroom=headroom,
            check_on_device=check_on_device, evolve_active=evolve_active,
            evolve_drop=evolve_drop, evolve_criterion=evolve_criterion, batch_size=batch_size,
            patch_size=patch_size, seed=seed, finetune_batch_size=finetune_batch_size,
            finetune_patch_size=finetune_patch_size, device=resolve_device(torch_device),
            threads=threads)
        output = output or str(default_run_dir(f"search-{budget_ms:g}ms"))
    check_output(output, resume, overwrite)
    notice = lut.estimate_notice()
    if notice:
        click.echo(notice, err=True)
    mismatch = cpu_mismatch(lut.data.get("device", {}))
    if mismatch:
        click.echo(f"warning: {mismatch}", err=True)
    if not as_json:
        click.echo(f"searching under {cfg.budget_ms:g} ms on {lut.describe()}", err=True)
    summary = run_search(cfg, lut, output, resume=resume, overwrite=overwrite,
                         progress=not no_progress, argv=sys.argv)
    if not summary:  # a non-main process under torchrun
        return
    if as_json:
        echo_json(summary)
        return
    click.echo(f"{summary['arch']}: {summary['cells']} cells, predicted "
               f"{summary['predicted_ms']:.1f} ms for a {cfg.budget_ms:g} ms budget")
    if not summary["in_window"]:
        click.echo(f"warning: outside [0.9, 1.0] x budget: {summary['fit_reason']}", err=True)
    for name, s in summary["val"].items():
        click.echo(f"{name}: PSNR-Y {s['psnr_y']:.2f} dB  SSIM-Y {s['ssim_y']:.4f}")
    click.echo(f"run directory: {output}  (trajectories: {output}/search/trajectories.png)")
