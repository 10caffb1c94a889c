"""The product's main job, end to end: latency table → search → export → validate.

``tnas-pipeline run`` chains the library calls of ``profile`` (only with ``--profile``),
``search``, ``export`` and ``validate`` into one run directory, so a user gets from nothing to a
validated, deployable model with one command:

1. the latency table of this CPU (``--device cpu``, the default): the shipped one when it was
   measured on a CPU with this one's fingerprint, else this CPU's cached table, else one
   brought up here first (:mod:`tnas_pipeline.latency.bringup`, a few minutes, cached); with
   ``--profile``, a full profile of this CPU into ``RUN/latency-profile.json``. Without
   ``--latency-budget`` the budget is 250 ms, unless that is outside what this CPU's networks
   can take or at its edge: then the middle of the reachable range (on a log scale), and the
   job says why;
2. the hardware-aware search under the budget for ``--minutes`` (search plus fine-tuning) on
   the bundled T91 unless ``--data``; the fitted network is timed here and refitted until its
   measurement, with its confidence interval, lies in [0.9, 1.0] × budget
   (:mod:`tnas_pipeline.nas.device_check`);
3. ONNX export (FP32), with parity against PyTorch on Set5;
4. validation on this machine: PSNR on Set5 and Set14, latency against the table and the
   budget. The job passes when validation passes **and** the network uses at least 85 % of the
   budget: its promise is to fill the budget, not only to respect it.

Each step's own command documents it; this module only orders them. ``--resume`` continues an
interrupted run: a search is resumed from its checkpoint, a finished search is not redone, and
the quick export and validation are redone.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tnas_pipeline.errors import UserError
from tnas_pipeline.io_utils import write_json_atomic

logger = logging.getLogger(__name__)

if TYPE_CHECKING:
    from tnas_pipeline.run_lock import RunClaim

PROFILE_NAME = "latency-profile.json"
RESULT_NAME = "run.json"  # the summary `run` prints, kept for scripts and the benchmark
DEFAULT_BUDGET_MS = 250.0
# The default budget is kept only well inside the reachable range: at least twice the fastest
# network (below, the fit has few networks to choose from) and at most 60 % of the slowest
# (above, only the deepest, widest networks fill it).
COMFORT = (2.0, 0.6)


@dataclass(frozen=True)
class MainJob:
    """The options of ``tnas-pipeline run``; see the CLI for their meaning. ``budget_ms``
    ``None`` means the default budget (module docstring)."""

    out: Path
    budget_ms: float | None = None
    device: str = "cpu"
    profile: bool = False
    minutes: float | None = 8.0
    iters: int | None = None
    data: list[str] = field(default_factory=list)
    val_data: list[str] = field(default_factory=list)
    seed: int = 0
    threads: int | None = None
    device_check: bool = True
    bring_up: str = "profile"


def default_budget(lut) -> float:
    """250 ms, or the middle of the reachable range when 250 ms is outside it or at its edge."""
    lo, hi = lut.reachable_range()
    if COMFORT[0] * lo <= DEFAULT_BUDGET_MS <= COMFORT[1] * hi:
        return DEFAULT_BUDGET_MS
    mid = math.sqrt(lo * hi)
    step = 10 ** math.floor(math.log10(mid)) / 2  # round to a plain figure: 45, 350, 0.6 …
    budget = max(step, round(mid / step) * step)
    logger.info(f"the default budget of {DEFAULT_BUDGET_MS:g} ms is "
        f"{'outside' if not lo <= DEFAULT_BUDGET_MS <= hi else 'at the edge of'} what this "
        f"device's networks take ({lo:.1f}–{hi:.0f} ms on {lut.describe()}); searching at "
        f"{budget:g} ms, the middle of that range on a log scale, instead. Pass "
        "--latency-budget to choose")
    return budget


def _table(job: MainJob, progress: bool):
    from tnas_pipeline.latency.backends.base import get_backend
    from tnas_pipeline.latency.lut import LatencyTable
    from tnas_pipeline.latency.profiler import profile
    from tnas_pipeline.latency.shipped import shipped_table
    from tnas_pipeline.nas.budget import table_for_budget

    if not job.profile:
        return table_for_budget(job.device, None, "default", job.budget_ms,
                                job.bring_up if job.device == "cpu" else None,
                                progress=progress)
    if job.device != "cpu":
        raise UserError("--profile measures this machine's CPU; run `tnas-pipeline profile` on "
                        "the target device and pass its table with --device FILE.json")
    path = job.out / PROFILE_NAME
    shipped = shipped_table("cpu")
    if path.is_file():
        done = LatencyTable.load(path)
        if done.model is not None:
            logger.info(f"using the table measured before: {path}")
            return done
    logger.info(f"profiling this CPU into {path} (a few minutes on 2 cores; an interrupted profile "
        "continues)")
    job.out.mkdir(parents=True, exist_ok=True)
    backend = get_backend("ort", device="cpu", precision="fp32", threads=shipped.threads)
    return profile(backend, "cpu", shipped.space, tuple(shipped.output_size), path,
                   resume=path.is_file(), progress=progress)


def run_main_job(job: MainJob, resume: bool = False, overwrite: bool = False,
                 progress: bool = True, argv: list[str] | None = None) -> dict[str, Any]:
    """Run the four steps into ``job.out``; return a summary of where everything is. The run
    directory is claimed for the whole job (:mod:`tnas_pipeline.run_lock`); ``resume`` continues
    only a run that ``run`` made."""
    from tnas_pipeline.run_dir import RunDir
    from tnas_pipeline.run_lock import claim_run

    t0 = time.monotonic()
    out = Path(job.out)
    if resume:  # checked before the claim, which would create a mistyped -o
        RunDir(out).require_resumable("run", out / "search" / "config.json", out / PROFILE_NAME)
    with claim_run(out, "run", resume=resume, argv=argv) as claim:
        return _steps(job, claim, t0, resume, overwrite, progress, argv)


def _steps(job: MainJob, claim: RunClaim, t0: float, resume: bool, overwrite: bool, progress: bool,
           argv: list[str] | None) -> dict[str, Any]:
    """The job's steps, in the claimed run directory."""
    from tnas_pipeline.data.defaults import default_train_folders, default_val_folders
    from tnas_pipeline.deploy.exporter import ExportRequest, export_run
    from tnas_pipeline.deploy.validation import validate_run
    from tnas_pipeline.latency.devices import cpu_mismatch
    from tnas_pipeline.nas.budget import check_reachable
    from tnas_pipeline.nas.config import SearchConfig
    from tnas_pipeline.nas.run import check_output, resume_config, run_search

    out = Path(job.out)
    resuming = resume and (out / "search" / "config.json").is_file()
    if resuming:
        cfg, lut = resume_config(out, command="run")
    else:
        check_output(out, resume=False, overwrite=overwrite, command="run")
        if overwrite:
            (out / PROFILE_NAME).unlink(missing_ok=True)
            (out / RESULT_NAME).unlink(missing_ok=True)
        if job.profile:
            claim.record()  # the profile is the first thing written into the run
        lut = _table(job, progress)
        budget_ms = job.budget_ms if job.budget_ms is not None else default_budget(lut)
        check_reachable(budget_ms, lut)
        cfg = SearchConfig(
            budget_ms=budget_ms, lut=str(lut.path), scale=int(lut.data["scale"]),
            train_data=job.data or [str(p) for p in default_train_folders()],
            val_data=job.val_data or [str(p) for p in default_val_folders()],
            minutes=None if job.iters else job.minutes, iters=job.iters, seed=job.seed,
            threads=job.threads, check_on_device=job.device_check)
    if notice := lut.estimate_notice():
        logger.info(notice)
    if mismatch := cpu_mismatch(lut.data.get("device", {})):
        logger.warning(f"{mismatch}")
    if cfg.minutes:
        logger.info(f"tnas-pipeline run: about {cfg.minutes + 2:.0f} minutes from here (search and "
            f"fine-tuning {cfg.minutes:g} min, export and validation about 2)")
    length = f"{cfg.iters} iterations" if cfg.iters else f"{cfg.minutes:g} min"
    logger.info(f"[1/3] search under {cfg.budget_ms:g} ms on {lut.describe()}, {length} of search "
                "and "
        "fine-tuning")
    phases = {"table": time.monotonic() - t0}
    summary = run_search(cfg, lut, out, resume=resuming, overwrite=overwrite and not resuming,
                         progress=progress, argv=argv, resume_command="run")
    phases["search"] = time.monotonic() - t0 - sum(phases.values())
    logger.info("[2/3] export to ONNX")
    manifest = export_run(ExportRequest(run=out), argv=argv, progress=progress)
    phases["export"] = time.monotonic() - t0 - sum(phases.values())
    logger.info("[3/3] validate on this machine")
    report = validate_run(out, argv=argv, progress=progress)
    phases["validate"] = time.monotonic() - t0 - sum(phases.values())
    passed, verdict = main_job_verdict(report)
    result = {
        "run": str(out), "arch": summary["arch"], "budget_ms": cfg.budget_ms,
        "predicted_ms": summary["predicted_ms"], "latency_ms": report["latency_ms"],
        "psnr_y": report["psnr_y"], "psnr_delta_db": report["psnr_delta_db"],
        "max_abs_diff": report["max_abs_diff"], "budget_use": report["budget_use"],
        "validate_pass": report["pass"], "pass": passed, "verdict": verdict,
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


def main_job_verdict(report: dict[str, Any]) -> tuple[bool, str]:
    """PASS only when validation passes and the network fills the budget (≥ 85 % used)."""
    from tnas_pipeline.deploy.validation import BUDGET_USE_FLOOR

    if not report["pass"]:
        failed = [c["name"] for c in report["checks"] if not c["ok"] and not c.get("advisory")]
        return False, f"validation failed ({', '.join(failed)})"
    use = report.get("budget_use")
    if use is not None and use < BUDGET_USE_FLOOR:
        return False, (f"the network uses {use:.0%} of the budget and leaves the rest unused "
                       f"(the job promises at least {BUDGET_USE_FLOOR:.0%})")
    return True, "validated" + (f", {use:.0%} of the budget used" if use is not None else "")
