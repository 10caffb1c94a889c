"""The one loop that the trainer and the searcher both run: steps until a budget is spent.

A budget is a number of iterations, or seconds of stepping (validation and checkpoints do not
count, so a slow disk does not shorten training). The loop draws the progress bar, turns the first
SIGINT/SIGTERM into a request to stop after the current step (a checkpoint, then
:class:`TrainingInterrupted`), and in a DDP run stops every rank together.
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Protocol

from tqdm import tqdm

from tnas_pipeline.interrupts import exit_code_for
from tnas_pipeline.logs import progress_bar
from tnas_pipeline.training import distributed as D


class TrainingInterrupted(KeyboardInterrupt):
    """Raised after an interrupt once the current step finished and a checkpoint was written;
    ``resume`` names the command that continues the work, ``exit_code`` is the shell's code for
    the signal that asked (130 for SIGINT, 143 for SIGTERM)."""

    def __init__(self, iteration: int, run: Path, resume: str = "train",
                 signum: int = signal.SIGINT) -> None:
        super().__init__(f"interrupted at iteration {iteration}; checkpoint saved, continue with "
                         f"`tnas-pipeline {resume} --resume -o {run}`")
        self.exit_code = exit_code_for(signum)


class Budgeted(Protocol):
    """What the loop needs of its owner (a trainer or a searcher)."""

    dist: D.DistInfo
    iteration: int
    checkpointed_at: int
    stop_requested: bool

    def budget(self) -> tuple[int | None, float | None]:
        """(iterations, seconds): exactly one is not None."""

    def spent_seconds(self) -> float: ...

    def add_seconds(self, dt: float) -> None: ...

    def checkpoint(self) -> None: ...


@contextlib.contextmanager
def deferred_interrupts(owner: Budgeted) -> Iterator[list[int]]:
    """Turn the first SIGINT/SIGTERM into a request to stop after the current step, so the
    checkpoint never holds a half-applied optimiser step; a second SIGINT stops at once. Yields
    the list of the signals received (empty: none, or not the main thread)."""
    received: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield received
        return

    def handler(signum: int, frame: object) -> None:
        if owner.stop_requested and signum == signal.SIGINT:
            raise KeyboardInterrupt
        received.append(signum)
        owner.stop_requested = True

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield received
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def fraction(owner: Budgeted) -> float:
    """How much of the owner's budget is spent, in [0, 1] (more once it is over)."""
    iters, seconds = owner.budget()
    if iters is not None:
        return owner.iteration / iters
    return owner.spent_seconds() / seconds


def run_budgeted(owner: Budgeted, step: Callable[[], float],
                 after_step: Callable[[float, tqdm], None], *, desc: str, progress: bool,
                 run: Path, resume: str) -> None:
    """Call ``step`` (returning the loss) until the owner's budget is spent, then
    ``after_step(loss, bar)`` after each; an interrupt checkpoints and raises
    :class:`TrainingInterrupted` naming ``tnas-pipeline {resume} --resume``."""
    iters, seconds = owner.budget()
    by_iters = iters is not None
    total = iters if by_iters else round(seconds)
    bar = progress_bar(total=total,
                       initial=owner.iteration if by_iters else round(owner.spent_seconds()),
                       unit="it" if by_iters else "s", enabled=progress and owner.dist.is_main,
                       desc=desc, dynamic_ncols=True, bar_format=None if by_iters else
                       "{l_bar}{bar}| {n:.0f}/{total_fmt} s [{elapsed}<{remaining}{postfix}]")
    try:
        with deferred_interrupts(owner) as received:
            while not D.any_rank(owner.dist, fraction(owner) >= 1.0):
                if D.any_rank(owner.dist, owner.stop_requested):
                    if owner.checkpointed_at != owner.iteration:
                        owner.checkpoint()
                    raise TrainingInterrupted(owner.iteration, run, resume,
                                              received[0] if received else signal.SIGINT)
                t0 = time.perf_counter()
                loss = step()
                dt = time.perf_counter() - t0
                owner.iteration += 1
                owner.add_seconds(dt)
                bar.update(1 if by_iters else min(dt, max(0.0, bar.total - bar.n)))
                after_step(loss, bar)
    finally:
        bar.close()
