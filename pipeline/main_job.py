"""The product's main job, end to end: latency table → search → export → validate.

``tnas-pipeline run`` chains the library calls of ``profile`` (only with ``--profile``),
``search``, ``export`` and ``validate`` into one run directory, so a user gets from nothing to a
validated, deployable model with one command:

1. the latency table: the shipped one for ``--device`` (default ``cpu``), or with ``--profile``
   a fresh table of this CPU measured into ``RUN/latency-profile.json`` (about 7 minutes on
   2 cores; resumable);
2. the hardware-aware search under ``--latency-budget`` for ``--minutes`` (search plus
   fine-tuning) on the bundled T91 unless ``--data``; when the table is this CPU's, the fitted
   network is timed here and refitted until it measures inside the budget's window
   (:mod:`pipeline.search.device_check`);
3. ONNX export (FP32), with parity against PyTorch on Set5;
4. validation on this machine: PSNR on Set5 and Set14, latency against the table and the budget.

Each step's own command documents it; this module only orders them. ``--resume`` continues an
interrupted run: a search is resumed from its checkpoint, a finished search is not redone, and
the quick export and validation are redone.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.errors import UserError
from pipeline.io_utils import write_json_atomic

PROFILE_NAME = "latency-profile.json"
RESULT_NAME = "run.json"  # the summary `run` prints, kept for scripts and the benchmark


@dataclass(frozen=True)
class MainJob:
    """The options of ``tnas-pipeline run``; see the CLI for their meaning."""

    out: Path
    budget_ms: float | None = 250.0
    device: str = "cpu"
    profile: bool = False
    minutes: float | None = 10.0
    iters: int | None = None
    data: list[str] = field(default_factory=list)
    val_data: list[str] = field(default_factory=list)
    seed: int = 0
    threads: int | None = None
    device_check: bool = True


def _table(job: MainJob, progress: bool, log: Callable[[str], None]):
    from pipeline.latency.backends.base import get_backend
    from pipeline.latency.lut import LatencyTable
    from pipeline.latency.profiler import profile
    from pipeline.latency.shipped import resolve_profile
    from pipeline.search_space import DEFAULT_SPACE

    if not job.profile:
        return resolve_profile(job.device)
    if job.device != "cpu":
        raise UserError("--profile measures this machine's CPU; run `tnas-pipeline profile` on "
                        "the target device and pass its table with --device FILE.json")
    path = job.out / PROFILE_NAME
    shipped = resolve_profile("cpu")
    if path.is_file() and LatencyTable.load(path).calibration:
        log(f"using the table measured before: {path}")
        return LatencyTable.load(path)
    log(f"profiling this CPU into {path} (about 7 minutes on 2 cores; an interrupted profile "
        "continues)")
    job.out.mkdir(parents=True, exist_ok=True)
    threads = shipped.data["runtime"].get("threads")
    backend = get_backend("ort", device="cpu", precision="fp32", threads=threads)
    return profile(backend, "cpu", DEFAULT_SPACE.with_scale(int(shipped.data["scale"])),
                   tuple(shipped.output_size), path, resume=path.is_file(), progress=progress)


def run_main_job(job: MainJob, resume: bool = False, overwrite: bool = False,
                 progress: bool = True, argv: list[str] | None = None,
                 log: Callable[[str], None] = print) -> dict[str, Any]:
    """Run the four steps into ``job.out``; return a summary of where everything is."""
    from export.exporter import ExportRequest, export_run
    from export.validation import validate_run
    from pipeline.data.defaults import default_train_folders, default_val_folders
    from pipeline.latency.devices import cpu_mismatch
    from pipeline.search.budget import check_reachable
    from pipeline.search.config import SearchConfig
    from pipeline.search.run import check_output, resume_config, run_search

    t0 = time.monotonic()
    out = Path(job.out)
    resuming = resume and (out / "search" / "config.json").is_file()
    if resuming:
        cfg, lut = resume_config(out)
    else:
        if job.budget_ms is None:
            raise UserError("give --latency-budget, e.g. --latency-budget 250ms")
        check_output(out, resume=False, overwrite=overwrite)
        if overwrite:
            (out / PROFILE_NAME).unlink(missing_ok=True)
        lut = _table(job, progress, log)
        check_reachable(job.budget_ms, lut)
        cfg = SearchConfig(
            budget_ms=job.budget_ms, lut=str(lut.path), scale=int(lut.data["scale"]),
            train_data=job.data or [str(p) for p in default_train_folders()],
            val_data=job.val_data or [str(p) for p in default_val_folders()],
            minutes=None if job.iters else job.minutes, iters=job.iters, seed=job.seed,
            threads=job.threads, check_on_device=job.device_check)
    if notice := lut.estimate_notice():
        log(notice)
    if mismatch := cpu_mismatch(lut.data.get("device", {})):
        log(f"warning: {mismatch}; pass --profile to measure this CPU")
    if cfg.minutes:
        log(f"tnas-pipeline run: about {cfg.minutes + 2:.0f} minutes from here (search and "
            f"fine-tuning {cfg.minutes:g} min, export and validation about 2)")
    length = f"{cfg.iters} iterations" if cfg.iters else f"{cfg.minutes:g} min"
    log(f"[1/3] search under {cfg.budget_ms:g} ms on {lut.describe()}, {length} of search and "
        "fine-tuning")
    phases = {"table": time.monotonic() - t0}
    summary = run_search(cfg, lut, out, resume=resuming, overwrite=overwrite and not resuming,
                         progress=progress, argv=argv)
    phases["search"] = time.monotonic() - t0 - sum(phases.values())
    log("[2/3] export to ONNX")
    manifest = export_run(ExportRequest(run=out), argv=argv, progress=progress, log=log)
    phases["export"] = time.monotonic() - t0 - sum(phases.values())
    log("[3/3] validate on this machine")
    report = validate_run(out, argv=argv, progress=progress, log=log)
    phases["validate"] = time.monotonic() - t0 - sum(phases.values())
    result = {
        "run": str(out), "arch": summary["arch"], "budget_ms": cfg.budget_ms,
        "predicted_ms": summary["predicted_ms"], "latency_ms": report["latency_ms"],
        "psnr_y": report["psnr_y"], "psnr_delta_db": report["psnr_delta_db"],
        "max_abs_diff": report["max_abs_diff"], "pass": report["pass"],
        "lut": str(lut.path),
        "onnx": [str(out / "export" / a["file"]) for a in manifest["artifacts"]],
        "validation_report": report["report"],
        "trajectories": str(out / "search" / "trajectories.png"),
        "wall_seconds": time.monotonic() - t0,
        # Seconds per step in this invocation (a resumed run counts only what it redid).
        "phase_seconds": {k: round(v, 1) for k, v in phases.items()},
    }
    write_json_atomic(out / RESULT_NAME, result)
    return result
