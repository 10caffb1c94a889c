"""One writer per run directory, and nothing half-written left behind by a failed command.

``train``, ``search`` and ``run`` claim their run directory (:func:`claim_run`) before they look
at what it holds, and keep the claim until they end:

* the claim is an advisory ``fcntl.flock`` on ``RUN/.lock``, into which the holder writes its
  PID and command. A second writer is refused with that PID (a :class:`UserError`: exit 2),
  having written nothing. The kernel drops a flock when its process dies, however it dies, so
  the lock of a killed run never blocks the next one: the PID text is only informative;
* claims nest within a process: ``run`` claims its directory, and the search and fine-tuning it
  calls join that claim. Under ``torchrun`` only rank 0 claims (the other ranks write nothing);
* the claim removes the stale temp files of atomic writes (:func:`io_utils.temp_pattern`) of the
  run's own files, which a writer killed with SIGKILL leaves;
* the claim writes ``command.json`` (:meth:`RunClaim.record`, when the command starts writing);
* when the command fails (an error, a crash, Ctrl-C, SIGTERM) and the directory holds nothing
  ``--resume`` could continue, the claim removes what the command wrote: the directory, if the
  command created it, else the run's own files (a resumed run is never touched).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tnas_pipeline.errors import UserError
from tnas_pipeline.io_utils import temp_pattern, write_json_atomic
from tnas_pipeline.run_dir import RunDir

LOCK_NAME = ".lock"

#: The files the commands write at the top of a run directory (RunDir's, search's, run's).
RUN_FILES = (*RunDir.FILES, "search.json", "run.json", "latency-profile.json")
#: The files the search writes in ``RUN/search/`` (and in an evolution round's
#: ``RUN/search/rounds/N/search/``).
SEARCH_FILES = ("config.json", "lut.json", "lut-source.json", "checkpoint.pt",
                "trajectories.json", "trajectories.png", "result.json", "inherited.safetensors",
                "evolution.json", "init_state.pt")


@dataclass
class RunClaim:
    """This process's hold on one run directory (see the module docstring)."""

    path: Path
    command: str
    resume: bool
    argv: list[str] | None
    created: list[Path] = field(default_factory=list)  # directories made here, deepest first
    fd: int | None = None  # the locked file; None on a torchrun rank other than 0
    writing: bool = False  # record() was called: the command has started to write the run
    _record: dict | None = None

    def record(self) -> None:
        """Write ``command.json`` (again, if the run's files were cleared since: the record is
        made once per claim) and mark the run as being written."""
        if self.fd is None:
            return
        self.writing = True
        run = RunDir(self.path)
        if self._record is None:
            self._record = run.invocation_record(self.command, self.resume, self.argv)
        write_json_atomic(run.command, self._record)


_HELD: dict[Path, RunClaim] = {}  # this process's claims, by resolved path


def _key(path: Path) -> Path:
    return path.resolve()


def _holder_text(fd: int) -> str:
    os.lseek(fd, 0, os.SEEK_SET)
    text = os.read(fd, 512).decode(errors="replace").strip()
    pid, _, command = text.partition(" ")
    return f"PID {pid}, `tnas-pipeline {command}`" if pid.isdigit() else "PID unknown"


def _in_use(path: Path, holder: str) -> UserError:
    return UserError(f"{path} is in use by another tnas-pipeline process ({holder}); wait for it "
                     "to finish, or choose another -o directory")


def check_unclaimed(path: str | Path) -> None:
    """Raise the "in use" :class:`UserError` if another process holds ``path``'s lock (a probe
    that writes nothing, for checks made before a command claims its directory)."""
    path = Path(path)
    lock = path / LOCK_NAME
    if not _is_main_rank() or _key(path) in _HELD or not lock.is_file():
        return  # under torchrun, rank 0 holds the lock for all ranks
    try:
        fd = os.open(lock, os.O_RDONLY)
    except OSError:
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        raise _in_use(path, _holder_text(fd)) from None
    finally:
        os.close(fd)


def _make_dirs(path: Path) -> list[Path]:
    """Create ``path`` and missing parents; return those made here, deepest first."""
    missing = [p for p in (path, *path.parents) if not p.exists()]
    made = []
    for p in reversed(missing):
        try:
            p.mkdir()
        except FileExistsError:  # made by someone else meanwhile
            continue
        except OSError as exc:
            for q in reversed(made):
                q.rmdir()
            raise UserError(f"cannot create the run directory {path} ({exc.strerror}); "
                            "choose another -o directory") from None
        made.append(p)
    if not path.is_dir():
        raise UserError(f"{path} is a file, not a run directory; choose another -o directory")
    return made[::-1]


def _lock(path: Path, command: str) -> int:
    """The locked lock file's descriptor; its text names this process."""
    lock = path / LOCK_NAME
    while True:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder_text(fd)
            os.close(fd)
            raise _in_use(path, holder) from None
        try:  # the holder before us may have unlinked the file we locked: lock the new one
            if os.path.samestat(os.fstat(fd), os.stat(lock)):
                break
        except FileNotFoundError:
            pass
        os.close(fd)
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()} {command}\n".encode())
    return fd


def _unlock(claim: RunClaim) -> None:
    if claim.fd is None:
        return
    lock = claim.path / LOCK_NAME
    try:
        if os.path.samestat(os.fstat(claim.fd), os.stat(lock)):
            lock.unlink()  # while still locked, so no one locks the file on its way out
    except FileNotFoundError:
        pass
    finally:
        os.close(claim.fd)


def _rounds(path: Path) -> list[Path]:
    """The folders of an evolution's rounds, ``RUN/search/rounds/N``."""
    return sorted(r for r in (path / "search").glob("rounds/*") if r.name.isdigit())


def _folders(path: Path) -> list[tuple[Path, tuple[str, ...]]]:
    """Each folder of a run directory and the names the commands write there."""
    return [(path, RUN_FILES), (path / "search", SEARCH_FILES),
            *((r / "search", SEARCH_FILES) for r in _rounds(path))]


def clear_stale_temps(path: Path) -> list[Path]:
    """Remove temp files that atomic writes of the run's own files left (a writer killed with
    SIGKILL); return them."""
    removed = []
    for folder, names in _folders(path):
        if not folder.is_dir():
            continue
        patterns = [temp_pattern(n) for n in names]
        for f in folder.iterdir():
            if f.is_file() and any(p.fullmatch(f.name) for p in patterns):
                f.unlink(missing_ok=True)
                removed.append(f)
    return removed


def remove_search_files(path: Path) -> None:
    """Delete what the search writes under ``RUN/search/`` (an evolution's rounds included),
    and folders left empty; anything else there stays."""
    def rmdir_if_empty(folder: Path) -> None:
        if folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()

    sd = path / "search"
    for r in _rounds(path):
        for n in SEARCH_FILES:
            (r / "search" / n).unlink(missing_ok=True)
        rmdir_if_empty(r / "search")
        rmdir_if_empty(r)
    rmdir_if_empty(sd / "rounds")
    for n in SEARCH_FILES:
        (sd / n).unlink(missing_ok=True)
    rmdir_if_empty(sd)


def _clean_up_failed(claim: RunClaim) -> None:
    """After a failure: keep anything resumable, else remove what this command made (a
    directory it created; the files of a new run it started in one that was there)."""
    if RunDir(claim.path).resumable():
        return
    if claim.created:
        shutil.rmtree(claim.path, ignore_errors=True)
        for parent in claim.created[1:]:
            with contextlib.suppress(OSError):
                parent.rmdir()  # only if empty
    elif not claim.writing or claim.resume:
        return
    elif claim.command == "train":
        RunDir(claim.path).clear()
    else:
        for name in RUN_FILES:
            (claim.path / name).unlink(missing_ok=True)
        remove_search_files(claim.path)


def _is_main_rank() -> bool:
    return int(os.environ.get("RANK", "0")) == 0


@contextlib.contextmanager
def claim_run(path: str | Path, command: str, resume: bool = False,
              argv: list[str] | None = None) -> Iterator[RunClaim]:
    """Hold ``path`` for ``command`` (``train``, ``search`` or ``run``) for the block; within a
    claim of this process, join it (see the module docstring)."""
    path = Path(path)
    held = _HELD.get(_key(path)) if path.exists() else None
    if held is not None:
        yield held
        return
    if not _is_main_rank():
        yield RunClaim(path, command, resume, argv)
        return
    created = _make_dirs(path)
    try:
        fd = _lock(path, command)
    except BaseException:
        for p in created:  # only what this call made, and only if still empty
            with contextlib.suppress(OSError):
                p.rmdir()
        raise
    claim = RunClaim(path, command, resume, argv, created=created, fd=fd)
    key = _key(path)
    _HELD[key] = claim
    try:
        clear_stale_temps(path)
        yield claim
    except BaseException:
        _clean_up_failed(claim)
        raise
    finally:
        _HELD.pop(key, None)
        _unlock(claim)
