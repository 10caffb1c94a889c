"""Options several commands share, declared once (help text, type and range included).

Each is a decorator; those whose help depends on the command take it as an argument.
"""

from __future__ import annotations

import click

from tnas_pipeline.cli.common import MINUTES, POSITIVE, RUN_DIR, SEED, THREADS

no_progress_option = click.option("--no-progress", is_flag=True,
                                  help="No progress bars (they draw only on a terminal anyway).")
seed_option = click.option("--seed", default=0, show_default=True, type=SEED,
                           help="Random seed.")
overwrite_option = click.option("--overwrite", is_flag=True,
                                help="Delete an existing run in -o and start afresh.")
val_data_option = click.option("--val-data", multiple=True, type=click.Path(path_type=str),
                               help="Validation folder(s) of HR images [default: bundled Set5].")


def threads_option(what: str = "PyTorch intra-op threads [default: PyTorch's].") -> click.option:
    return click.option("--threads", type=THREADS, help=what)


def resume_option(what: str = "run") -> click.option:
    return click.option("--resume", is_flag=True, help=f"Continue the interrupted {what} in -o.")


def iters_option(what: str = "training") -> click.option:
    return click.option("--iters", type=POSITIVE, help=f"Budget: iterations of {what}.")


def minutes_option(what: str = "training steps", default: float | None = None) -> click.option:
    return click.option("--minutes", type=MINUTES, default=default,
                        show_default=default is not None, help=f"Budget: minutes of {what}.")


def scale_option(help_text: str, default: str | None = None) -> click.option:
    return click.option("--scale", type=click.Choice(["2", "3", "4"]), default=default,
                        show_default=default is not None, help=help_text)


def run_dir_option(default: str, fixed_default: bool = False) -> click.option:
    """``-o/--output``, the run directory a command writes (created, claimed while it writes):
    ``default`` is the path itself when ``fixed_default``, else how the default is named."""
    if fixed_default:
        return click.option("-o", "--output", type=RUN_DIR, default=default, show_default=True,
                            help="Run directory.")
    return click.option("-o", "--output", type=RUN_DIR, help=f"Run directory [default: {default}].")
