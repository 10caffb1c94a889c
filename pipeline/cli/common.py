"""Pieces shared by the commands: the error-catching group, the option types, JSON output,
device checks."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import click

from tnas_pipeline.cli.crash import (
    crash_line,
    debug_enabled,
    environment_error,
    write_crash_log,
)
from tnas_pipeline.errors import UserError
from tnas_pipeline.interrupts import sigterm_as_interrupt
from tnas_pipeline.schema import describe_range


class PipelineGroup(click.Group):
    """A click group whose commands end in one line on stderr, never a traceback:

    * :class:`UserError` and a bad option value or usage: ``error: <message>``, exit 2;
    * the machine refusing a write (disk full, no permission, read-only): the same, exit 2
      (:func:`tnas_pipeline.cli.crash.environment_error`);
    * an interrupt: the line below, exit 130 (143 after SIGTERM);
    * any other exception (a bug): ``error: internal error (...)`` with the path of a crash log
      that holds the traceback, exit 1; ``TNAS_PIPELINE_DEBUG=1`` re-raises it instead.
    """

    def invoke(self, ctx: click.Context) -> Any:
        # The command line as the group received it (under CliRunner, sys.argv is the test
        # runner's): the subcommand is held apart from its arguments until it is resolved.
        pending = getattr(ctx, "_protected_args", None) or getattr(ctx, "protected_args", [])
        argv = [ctx.command_path, *pending, *ctx.args]
        try:
            with sigterm_as_interrupt():  # SIGTERM unwinds like Ctrl-C, and exits 143
                return super().invoke(ctx)
        except UserError as exc:
            click.echo(f"error: {exc}", err=True)
            ctx.exit(2)
        except click.UsageError as exc:
            where = exc.ctx.command_path if exc.ctx else ctx.command_path
            message = exc.format_message().rstrip(".")
            click.echo(f"error: {message} (see `{where} --help`)", err=True)
            ctx.exit(2)
        except KeyboardInterrupt as exc:
            # TrainingInterrupted says where the checkpoint is and how to resume; a SIGTERM
            # (Terminated, or TrainingInterrupted after one) exits 143, Ctrl-C 130.
            click.echo(f"{exc}" if str(exc) else "interrupted", err=True)
            ctx.exit(getattr(exc, "exit_code", 130))
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise  # click's own ways out (ctx.exit, --help, abort): not errors of ours
        except Exception as exc:
            if debug_enabled():
                raise
            line = environment_error(exc)
            if line:
                click.echo(f"error: {line}", err=True)
                ctx.exit(2)
            click.echo(f"error: {crash_line(exc, write_crash_log(exc, argv))}", err=True)
            ctx.exit(1)


# -- option types: every number finite and in range, every output path writable, checked before
# any work (click reports a bad value as a UsageError, which the group prints as one line) ------

class FiniteFloat(click.ParamType):
    """A float that is finite and in range: click's ``float`` takes ``inf`` and ``nan``, which
    turn into an overflow or a NaN loss minutes later."""

    name = "number"

    def __init__(self, lo: float | None = None, hi: float | None = None,
                 lo_open: bool = False) -> None:
        self.lo, self.hi, self.lo_open = lo, hi, lo_open

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None
                ) -> float:
        try:
            v = float(value)
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not a number", param, ctx)
        if not math.isfinite(v):
            self.fail(f"{value} is not a finite number", param, ctx)
        low = self.lo is not None and (v <= self.lo if self.lo_open else v < self.lo)
        if low or (self.hi is not None and v > self.hi):
            self.fail(f"{v:g} is not {describe_range(self.lo, self.hi, self.lo_open)}", param,
                      ctx)
        return v


class OutputPath(click.ParamType):
    """A path the command will create (``kind="dir"``: a folder, as a run directory) or write
    (``kind="file"``), checked before any work: an existing path of the other kind, a file in
    the way of the folders to create, or a folder the user cannot write to is refused."""

    name = "path"

    def __init__(self, kind: str = "dir", path_type: type = str) -> None:
        self.kind, self.path_type = kind, path_type

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None
                ) -> Any:
        path = Path(value)
        if self.kind == "dir" and path.exists() and not path.is_dir():
            self.fail(f"{path} is a file; pass a folder", param, ctx)
        if self.kind == "file" and path.is_dir():
            self.fail(f"{path} is a folder; pass a file name", param, ctx)
        existing = path if path.exists() else next(
            (p for p in path.absolute().parents if p.exists()), Path("/"))
        if existing != path and not existing.is_dir():
            self.fail(f"{path} cannot be created: {existing} is a file", param, ctx)
        folder = existing if existing.is_dir() else existing.parent
        if not os.access(folder, os.W_OK | os.X_OK):
            self.fail(f"{path} cannot be written: {folder} is not writable; choose another "
                      "path", param, ctx)
        return self.path_type(value)


#: The shared option types. Caps are far above any sensible run and named in the message.
MINUTES = FiniteFloat(0, 60 * 24 * 365, lo_open=True)   # a year
LEARNING_RATE = FiniteFloat(0, 1, lo_open=True)
NON_NEGATIVE = FiniteFloat(0)
ANY_FINITE = FiniteFloat()
THREADS = click.IntRange(1, 1024)
SEED = click.IntRange(0, 2**32 - 1)                      # what NumPy and PyTorch both take
BATCH = click.IntRange(1, 1024)
PATCH = click.IntRange(1, 1024)
POSITIVE = click.IntRange(min=1)
COUNT = click.IntRange(0, 100_000)
RUN_DIR = OutputPath("dir")


#: ``--bring-up`` of ``search`` and ``run``: how a CPU without a table of its own is measured.
bring_up_option = click.option(
    "--bring-up", type=click.Choice(["profile", "transfer"]), default="profile",
    show_default=True,
    help="With --device cpu on a CPU that has no table yet: measure it by profiling every "
         "block here (about 3 minutes) or by adapting the shipped table (about a minute); "
         "cached for later runs.")


def echo_json(obj: Any) -> None:
    """Print ``obj`` as indented JSON on stdout; a NaN or infinity (a statistic of too few
    samples) is ``null``, so that the output is JSON that any parser reads."""
    click.echo(json.dumps(_finite_or_null(obj), indent=2, allow_nan=False))


def _finite_or_null(obj: Any) -> Any:
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite_or_null(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite_or_null(v) for v in obj]
    return obj


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
