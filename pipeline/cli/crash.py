"""What the CLI says about an exception that is not a :class:`UserError`.

Two kinds reach the top-level handler (:class:`tnas_pipeline.cli.common.PipelineGroup`):

* the machine's refusals, which the user can fix: a full disk, a folder without write
  permission, a read-only file system, a path through a file. :func:`environment_error` turns
  them into the CLI's one line (exit 2); files are written atomically, so a refused write
  leaves the previous version, or nothing, behind;
* bugs. :func:`write_crash_log` writes the traceback, the command, the versions and the
  platform to a crash log under the platform's user log directory (``platformdirs``;
  ``TNAS_PIPELINE_LOG_DIR`` overrides it) and the CLI prints one line with its path (exit 1).
  ``TNAS_PIPELINE_DEBUG=1`` re-raises instead, for a developer who wants the traceback on the
  terminal or a debugger.
"""

from __future__ import annotations

import datetime as dt
import errno
import os
import platform
import sys
import tempfile
import traceback
from pathlib import Path

DEBUG_ENV = "TNAS_PIPELINE_DEBUG"
LOG_DIR_ENV = "TNAS_PIPELINE_LOG_DIR"

# errno → (what happened, how to fix it)
_ENVIRONMENT = {
    errno.ENOSPC: ("no space left on the device", "free some space and run it again"),
    errno.EDQUOT: ("disk quota exceeded", "free some space and run it again"),
    errno.EACCES: ("permission denied", "choose a folder you can write to (-o)"),
    errno.EPERM: ("operation not permitted", "choose a folder you can write to (-o)"),
    errno.EROFS: ("read-only file system", "choose a folder you can write to (-o)"),
    errno.ENOTDIR: ("a part of the path is a file, not a folder", "choose another path"),
    errno.EISDIR: ("is a folder, not a file", "choose another path"),
    errno.ENAMETOOLONG: ("file name too long", "choose a shorter path"),
}


def debug_enabled() -> bool:
    """Whether ``TNAS_PIPELINE_DEBUG`` asks for raw tracebacks."""
    return os.environ.get(DEBUG_ENV, "").strip().lower() not in ("", "0", "false", "no")


def environment_error(exc: BaseException) -> str | None:
    """The one line for an ``OSError`` the user can fix (module docstring), else ``None``."""
    if not isinstance(exc, OSError) or exc.errno not in _ENVIRONMENT:
        return None
    what, fix = _ENVIRONMENT[exc.errno]
    where = exc.filename or "a file"
    return f"cannot write {where}: {what}; {fix}"


def crash_dir() -> Path:
    """Where crash logs go: ``TNAS_PIPELINE_LOG_DIR``, else the user log directory."""
    env = os.environ.get(LOG_DIR_ENV)
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_log_dir("tnas-pipeline"))


def _report(exc: BaseException, argv: list[str]) -> str:
    from tnas_pipeline import __version__
    from tnas_pipeline.provenance import library_versions

    try:
        versions = library_versions()
    except Exception as err:  # a broken installation must not hide the original crash
        versions = {"error": repr(err)}
    lines = [
        f"tnas-pipeline {__version__} crash report",
        f"date: {dt.datetime.now(dt.timezone.utc).isoformat(timespec='seconds')}",
        f"command: {' '.join(argv)}",
        f"cwd: {os.getcwd()}",
        f"platform: {platform.platform()}",
        *(f"{name}: {version}" for name, version in versions.items()),
        "",
        *traceback.format_exception(type(exc), exc, exc.__traceback__),
    ]
    return "\n".join(line.rstrip("\n") for line in lines) + "\n"


def write_crash_log(exc: BaseException, argv: list[str] | None = None) -> Path | None:
    """Write the crash report of ``exc``; return its path, or ``None`` when no folder (the log
    directory, then the temporary one) takes it."""
    text = _report(exc, list(sys.argv if argv is None else argv))
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    for folder in (crash_dir(), Path(tempfile.gettempdir())):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"tnas-pipeline-crash-{stamp}-{os.getpid()}.log"
            path.write_text(text)
            return path
        except OSError:
            continue
    return None


def crash_line(exc: BaseException, log: Path | None) -> str:
    """The one line for a bug: what it was, where its report is, and the way to see more."""
    first = (str(exc).strip().splitlines() or [""])[0]
    what = f"{type(exc).__name__}: {first}" if first else type(exc).__name__
    if isinstance(exc, MemoryError):
        what = ("out of memory; try smaller sizes: --batch-size, --patch-size, --output-size "
                "or --tile")
    if len(what) > 160:
        what = what[:157] + "..."
    where = (f"the traceback is in {log}; please report it with that file" if log else
             f"no crash log could be written; rerun with {DEBUG_ENV}=1 for the traceback")
    return f"internal error ({what}); {where}"
