"""Pieces shared by the commands: the error-catching group, JSON output, device checks."""

from __future__ import annotations

import json
from typing import Any

import click

from tnas_pipeline.errors import UserError
from tnas_pipeline.interrupts import sigterm_as_interrupt


class PipelineGroup(click.Group):
    """A click group that turns :class:`UserError` into one line on stderr and exit code 2."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            with sigterm_as_interrupt():  # SIGTERM unwinds like Ctrl-C, and exits 143
                return super().invoke(ctx)
        except UserError as exc:
            click.echo(f"error: {exc}", err=True)
            ctx.exit(2)
        except KeyboardInterrupt as exc:
            # TrainingInterrupted says where the checkpoint is and how to resume; a SIGTERM
            # (Terminated, or TrainingInterrupted after one) exits 143, Ctrl-C 130.
            click.echo(f"{exc}" if str(exc) else "interrupted", err=True)
            ctx.exit(getattr(exc, "exit_code", 130))


#: ``--bring-up`` of ``search`` and ``run``: how a CPU without a table of its own is measured.
bring_up_option = click.option(
    "--bring-up", type=click.Choice(["profile", "transfer"]), default="profile",
    show_default=True,
    help="With --device cpu on a CPU that has no table yet: measure it by profiling every "
         "block here (about 3 minutes) or by adapting the shipped table (about a minute); "
         "cached for later runs.")


def echo_json(obj: Any) -> None:
    """Print ``obj`` as indented JSON on stdout."""
    click.echo(json.dumps(obj, indent=2))


def resolve_device(device: str) -> str:
    """``auto`` picks CUDA when available; asking for CUDA without it is a :class:`UserError`."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise UserError("--device cuda was asked for but PyTorch sees no CUDA GPU; "
                        "use --device cpu")
    return device


device_option = click.option(
    "--device", default="cpu", show_default=True, type=click.Choice(["cpu", "cuda", "auto"]),
    help="Where PyTorch runs the network.")
data_option = click.option(
    "--data", "data", multiple=True, type=click.Path(path_type=str),
    help="Folder of HR images (png/jpg/bmp); repeat for several.")
json_option = click.option("--json", "as_json", is_flag=True, help="Print a JSON object on stdout.")
