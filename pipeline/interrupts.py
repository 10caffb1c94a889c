"""SIGTERM handled like Ctrl-C, so a terminated command cleans up and checkpoints the same way.

Python turns SIGINT into :class:`KeyboardInterrupt`, which unwinds the stack (checkpoints are
written, a half-made run directory is removed, the run lock is released); SIGTERM, by default,
kills the process on the spot. While a command runs, SIGTERM raises :class:`Terminated` instead, a
:class:`KeyboardInterrupt` that carries the conventional exit code 143 (128 + 15) for the CLI to
exit with. The training loop defers both signals to the end of the current step itself
(:mod:`tnas_pipeline.training.budgeted_loop`).
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator


def exit_code_for(signum: int) -> int:
    """The shell's exit code of a process ended by signal ``signum``: 130 for SIGINT, 143 for
    SIGTERM."""
    return 128 + int(signum)


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived; raised like Ctrl-C so the same clean-up runs."""

    exit_code = exit_code_for(signal.SIGTERM)

    def __init__(self, message: str = "terminated (SIGTERM)") -> None:
        super().__init__(message)


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Within the block, SIGTERM raises :class:`Terminated` (main thread only: elsewhere Python
    cannot install handlers, and the block changes nothing)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: object) -> None:
        raise Terminated()

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)
