"""``tnas-pipeline train``: train a baseline or an architecture file into a run directory."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from tnas_pipeline.cli.common import (
    BATCH,
    LEARNING_RATE,
    PATCH,
    POSITIVE,
    data_option,
    device_option,
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


def resolve_architecture(model: str, scale: int | None):
    """A baseline name, an architecture JSON file, or a run directory → ``Architecture``."""
    from tnas_pipeline.networks import BASELINES, Architecture, baseline_architecture

    path = Path(model)
    if path.is_dir():
        arch = Architecture.load(path / "arch.json")
    elif path.suffix.lower() == ".json" or path.is_file():
        arch = Architecture.load(path)
    elif model in BASELINES:
        return baseline_architecture(model, scale or 2)
    else:
        raise UserError(f"{model!r} is neither a file nor a registered baseline; "
                        f"known baselines: {', '.join(BASELINES.names())}")
    if scale is not None and scale != arch.scale:
        raise UserError(f"{model} is a x{arch.scale} architecture but --scale {scale} was given")
    return arch


@click.command()
@click.argument("model", required=False)
@scale_option("Upscaling factor [default: 2, or the architecture file's].")
@data_option
@val_data_option
@iters_option()
@minutes_option()
@click.option("--val-every", default=500, show_default=True, type=POSITIVE,
              help="Validate every N iterations.")
@click.option("--batch-size", default=16, show_default=True, type=BATCH,
              help="Patches per step (per process).")
@click.option("--patch-size", default=72, show_default=True, type=PATCH,
              help="HR patch side in pixels.")
@click.option("--lr", default=2e-3, show_default=True, type=LEARNING_RATE,
              help="Initial Adam learning rate.")
@seed_option
@threads_option()
@device_option
@run_dir_option("runs/<model>-x<scale>-<time>")
@resume_option()
@overwrite_option
@no_progress_option
@json_option
def train(model, scale, data, val_data, iters, minutes, val_every, batch_size, patch_size, lr, seed,
          threads, device, output, resume, overwrite, no_progress, as_json) -> None:
    """Train MODEL (a baseline name, an architecture JSON, or a run directory) and validate it.

    Without --data, trains on the bundled T91 and validates on the bundled Set5. Writes a run
    directory with arch.json, weights.safetensors, metrics.json, config.json and command.json;
    checkpoints at every validation so that --resume continues an interrupted run. Under
    torchrun it trains data-parallel (gloo on CPU, NCCL on CUDA).

    \b
    Examples:
      tnas-pipeline train plain_cnn --minutes 4 -o runs/plain
      tnas-pipeline train fsrcnn --scale 4 --iters 20000 --data ~/DIV2K/train_HR
      tnas-pipeline train --resume -o runs/plain
      torchrun --nproc_per_node 2 -m tnas_pipeline.cli.main train espcn --iters 5000 -o runs/ddp
    """
    from tnas_pipeline.data.defaults import default_train_folders, default_val_folders
    from tnas_pipeline.networks import Architecture
    from tnas_pipeline.run_dir import RunDir, default_run_dir
    from tnas_pipeline.training.config import TrainConfig
    from tnas_pipeline.training.trainer import train as run_training

    if resume:
        if not output:
            raise UserError("--resume needs -o RUN, the run directory to continue")
        run = RunDir(output)
        run.require_resumable("train", run.checkpoint)
        run.require(run.arch, run.config)
        arch = Architecture.load(run.arch)
        cfg = TrainConfig.from_dict(run.read_json(run.config))
        if iters is not None or minutes is not None:  # allow extending the budget on resume
            cfg.iters, cfg.minutes = iters, minutes
            cfg.__post_init__()
    else:
        if not model:
            raise UserError("name a MODEL: a baseline (see `tnas-pipeline baselines`), an "
                            "architecture JSON, or a run directory")
        arch = resolve_architecture(model, int(scale) if scale else None)
        cfg = TrainConfig(
            arch_source=model, scale=arch.scale,
            train_data=[str(Path(d)) for d in data] or [str(p) for p in default_train_folders()],
            val_data=[str(Path(d)) for d in val_data] or [str(p) for p in default_val_folders()],
            iters=iters, minutes=minutes, batch_size=batch_size, patch_size=patch_size, lr=lr,
            val_every=val_every, seed=seed, device=resolve_device(device), threads=threads,
        )
        output = output or str(default_run_dir(f"{arch.name}-x{arch.scale}"))
    metrics = run_training(arch, cfg, output, resume=resume, overwrite=overwrite,
                           progress=not no_progress, argv=sys.argv)
    if not metrics:  # a non-main process under torchrun
        return
    summary = {"run": str(output), "arch": arch.name, "scale": arch.scale,
               "iterations": metrics["iterations"], "train_seconds": metrics["train_seconds"],
               "params": metrics["params"], "mult_adds": metrics["mult_adds"],
               "val": metrics["val"]}
    if as_json:
        echo_json(summary)
        return
    for name, s in metrics["val"].items():
        click.echo(f"{name}: PSNR-Y {s['psnr_y']:.2f} dB  SSIM-Y {s['ssim_y']:.4f}  "
                   f"({s['images']} images)")
    click.echo(f"run directory: {output}")
