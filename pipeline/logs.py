"""How the library talks: the ``tnas_pipeline`` logger tree, and progress bars only on a terminal.

The library never prints. Modules log through ``logging.getLogger(__name__)`` (children of
``tnas_pipeline``, which has a :class:`logging.NullHandler`, the standard library's advice for
libraries), so an application decides where messages go. The CLI attaches one stderr handler
(:func:`configure_cli_logging`, with ``-v`` / ``-q``). A progress bar draws only when asked for
*and* stderr is a terminal: in a log file or a CI job, carriage-return frames are noise.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterable
from typing import Any, TypeVar

from tqdm import tqdm

LOGGER = logging.getLogger("tnas_pipeline")
LOGGER.addHandler(logging.NullHandler())

T = TypeVar("T")


def stderr_is_terminal() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):  # replaced or closed stderr
        return False


def progress_bar(iterable: Iterable[T] | None = None, *, enabled: bool = True,
                 **kwargs: Any) -> tqdm:
    """A tqdm bar that draws only when ``enabled`` and stderr is a terminal."""
    return tqdm(iterable, disable=not (enabled and stderr_is_terminal()), **kwargs)


class _CliFormatter(logging.Formatter):
    """The message as it is for information; ``warning:`` / ``error:`` in front otherwise,
    unless the message says so already."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        if record.levelno >= logging.WARNING:
            prefix = "warning: " if record.levelno < logging.ERROR else "error: "
            if not message.startswith(prefix):
                message = prefix + message
        if record.levelno <= logging.DEBUG:
            message = f"[{record.name}] {message}"
        return message


def configure_cli_logging(verbosity: int = 0) -> None:
    """One stderr handler for the ``tnas_pipeline`` tree: ``verbosity`` 0 shows information,
    1 or more debug messages too, -1 or less warnings and errors only. Calling it again replaces
    the handler (tests invoke the CLI many times in one process). Under ``torchrun`` only rank 0
    logs information."""
    level = logging.DEBUG if verbosity > 0 else logging.INFO if verbosity == 0 else \
        logging.WARNING
    if int(os.environ.get("RANK", "0") or 0) > 0:
        level = max(level, logging.WARNING)  # under torchrun, rank 0 speaks for all
    for handler in [h for h in LOGGER.handlers if getattr(h, "_tnas_cli", False)]:
        LOGGER.removeHandler(handler)
    handler = logging.StreamHandler()  # sys.stderr as it is now (click's runner swaps it)
    handler.setFormatter(_CliFormatter())
    handler._tnas_cli = True  # type: ignore[attr-defined]
    LOGGER.addHandler(handler)
    LOGGER.setLevel(level)
