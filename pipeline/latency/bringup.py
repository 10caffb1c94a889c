"""This CPU's latency table: the shipped one if it was measured here, else one measured here.

A table measured on another CPU does not predict this one (the shipped ×2 table sized a network
for a CPU 2.5× slower than the one it ran on), and a different CPU is not host drift. So for
``--device cpu``:

1. the shipped table of the scale and space, when its CPU fingerprint and CPU count are this
   machine's;
2. else this CPU's table in the user's cache directory (``platformdirs``; the environment
   variable ``TNAS_PIPELINE_CACHE_DIR`` overrides it), one per CPU fingerprint, scale, space,
   resolution and thread count; a cached file that is corrupt, unfinished in another way, or of
   another space or runtime version is measured again, never trusted;
3. else, where the caller asks for it, a **bring-up** now, with one line that names both CPUs:
   ``profile`` (every block measured here, the default, a few minutes on 2 cores) or
   ``transfer`` (the shipped table adapted by a minute of measurements,
   :mod:`tnas_pipeline.latency.transfer`). An interrupted profile resumes from the cache.

Which bring-up is the default was decided on the figures in the README (bring-up section).
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Iterator
from pathlib import Path

from tnas_pipeline.errors import UserError
from tnas_pipeline.latency.devices import describe_cpu, fingerprint_id, same_cpu
from tnas_pipeline.latency.interleaved import RatioProtocol
from tnas_pipeline.latency.lut import LatencyTable
from tnas_pipeline.latency.shipped import shipped_table

logger = logging.getLogger(__name__)

CACHE_ENV = "TNAS_PIPELINE_CACHE_DIR"
METHODS = ("profile", "transfer")
DEFAULT_METHOD = "profile"
# The bring-up profile: every entry from 3 runs as a full profile, but shorter runs, and ten
# whole networks for the model's overall level (the full profile's 200 make the shipped
# tables' residual models). 160–186 s on 2 cores here (README), so the main job stays within 15 min.
BRINGUP_PROTOCOL = RatioProtocol(warmup=2, min_pairs=6, max_pairs=12, target_ci=0.01,
                                 max_seconds=5.0, runs=3)
BRINGUP_NETWORKS = 10


def cache_dir() -> Path:
    """The user's cache directory of this tool."""
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_cache_dir("tnas-pipeline"))


def cached_path(source: LatencyTable, space_name: str) -> Path:
    """Where this CPU's counterpart of ``source`` is cached."""
    w, h = source.output_size
    tag = "" if space_name == "default" else f"-{space_name}"
    name = (f"cpu-ort-{source.precision}-x{source.data['scale']}-{w}x{h}{tag}-"
            f"{source.threads}t.json")
    return cache_dir() / "tables" / fingerprint_id() / name


def _usable(path: Path, source: LatencyTable) -> LatencyTable:
    """The cached table at ``path`` if it can stand for ``source`` on this CPU; else raise a
    :class:`UserError` that says why."""
    table = LatencyTable.load(path)
    table.require_compatible(source.space)
    mine, theirs = table.data.get("runtime", {}), source.data.get("runtime", {})
    for key in ("runtime", "threads"):
        if mine.get(key) != theirs.get(key):
            raise UserError(f"its {key} is {mine.get(key)!r}, not {theirs.get(key)!r}")
    import onnxruntime

    if mine.get("version") != onnxruntime.__version__:
        raise UserError(f"it was measured with onnxruntime {mine.get('version')}, this is "
                        f"{onnxruntime.__version__}")
    if tuple(table.output_size) != tuple(source.output_size) or not same_cpu(
            table.data.get("device", {})):
        raise UserError("it is of another resolution or CPU")
    if not table.data["entries"] or table.profiled_reference_ms is None or table.model is None:
        raise UserError("it is unfinished")
    return table


def table_for_this_cpu(scale: int, space: str = "default", bring_up: str | None = None,
                       progress: bool = True
                       ) -> LatencyTable:
    """This CPU's table of ``scale`` and ``space`` (module docstring). Without ``bring_up`` a
    foreign shipped table comes back as it is, and the caller reports it."""
    shipped = shipped_table("cpu", scale, space)
    if same_cpu(shipped.data.get("device", {})):
        return shipped
    path = cached_path(shipped, space)
    if not path.is_file() and bring_up is None:
        return shipped
    # One process measures; another that needs the same table (a second job, the other rank
    # under torchrun) waits for it, then finds it in the cache.
    with _exclusive(path.with_name(path.name + ".lock")):
        return _cached_or_brought_up(shipped, space, path, bring_up, progress)


@contextlib.contextmanager
def _exclusive(lock: Path) -> Iterator[None]:
    lock.parent.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock, as before
        yield
        return
    with open(lock, "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _cached_or_brought_up(shipped: LatencyTable, space: str, path: Path, bring_up: str | None,
                          progress: bool) -> LatencyTable:
    if path.is_file():
        try:
            return _usable(path, shipped)
        except UserError as exc:
            logger.info(f"the cached table of this CPU, {path}, is not usable ({exc}); measuring "
                "this CPU again")
            path.unlink(missing_ok=True)
    if bring_up is None:
        return shipped
    if bring_up not in METHODS:
        raise UserError(f"unknown bring-up {bring_up!r}; use {' or '.join(METHODS)}")
    what = ("profiling every block here (a few minutes; an interrupted profile resumes)"
            if bring_up == "profile" else "adapting it to this CPU from a minute of "
            "measurements")
    logger.info(f"no latency table of this CPU ({describe_cpu()}) yet; the shipped one was "
                "measured "
        f"on {describe_cpu(shipped.data.get('device', {}))}, so it is not used as it is: "
        f"{what}; the result is cached in {path.parent}")
    return bring_up_table(shipped, bring_up, path, progress)


def bring_up_table(source: LatencyTable, method: str, path: Path,
                   progress: bool = True) -> LatencyTable:
    """Measure this CPU's counterpart of ``source`` by ``method`` into ``path``."""
    from tnas_pipeline.latency.backends import get_backend
    from tnas_pipeline.latency.profiler import profile
    from tnas_pipeline.latency.transfer import transfer

    backend = get_backend("ort", device="cpu", precision=source.precision,
                          threads=source.threads)
    partial = path.with_name(path.stem + ".partial.json")
    t0 = time.monotonic()
    if method == "transfer":
        partial.unlink(missing_ok=True)  # a minute's work: redo rather than resume
        table = transfer(source, backend, partial, progress=None)
    else:
        resume = partial.is_file()
        if resume:
            try:
                LatencyTable.load(partial)
                logger.info(f"continuing the interrupted bring-up in {partial}")
            except UserError:
                partial.unlink()
                resume = False
        table = profile(backend, "cpu", source.space, source.output_size, partial,
                        resume=resume, protocol=BRINGUP_PROTOCOL, networks=BRINGUP_NETWORKS,
                        progress=progress)
    table.data["bring_up"] = {
        "method": method, "seconds": round(time.monotonic() - t0, 1),
        "source": {"path": str(source.path), "device": source.data.get("device")}}
    table.save(partial)
    os.replace(partial, path)
    table.path = path
    logger.info(f"this CPU's table is ready ({method}, {table.data['bring_up']['seconds']:.0f} s): "
        f"{path}")
    return table
