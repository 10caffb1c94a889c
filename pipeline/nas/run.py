"""A whole search run: supernet search → derive → fit → inherit → fine-tune, resumable.

The run directory is a training run directory (``arch.json``, ``weights.safetensors``,
``metrics.json``, ``config.json``, ``command.json``; so ``train``, ``evaluate``, ``upscale`` and
``export`` accept it) plus::

    RUN/search.json             budget, LUT prediction, fit, LUT hash and provenance, PSNR
    RUN/search/config.json      the search configuration (what --resume continues)
    RUN/search/lut.json         a copy of the latency table the search used (what --resume uses)
    RUN/search/lut-source.json  the path and SHA-256 of the table the run was started with
    RUN/search/checkpoint.pt    supernet, architecture logits, optimisers, samplers, λ
    RUN/search/trajectories.json / .png   architecture weights of all three levels over time
    RUN/search/result.json      derived and fitted architecture (the search phase is done)
    RUN/search/inherited.safetensors      the weights fine-tuning starts from
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from safetensors.torch import load_file, save_file

from tnas_pipeline.data.patches import PatchSampler
from tnas_pipeline.errors import UserError
from tnas_pipeline.io_utils import atomic_path, file_sha256, write_json_atomic
from tnas_pipeline.latency.devices import cpu_mismatch
from tnas_pipeline.latency.lut import LatencyTable
from tnas_pipeline.nas.config import SearchConfig
from tnas_pipeline.nas.evolution import evolve, round_config
from tnas_pipeline.nas.fit_and_check import fit_and_check
from tnas_pipeline.nas.methods import SEARCH_METHODS
from tnas_pipeline.nas.searcher import SearchDir, Searcher
from tnas_pipeline.networks.architecture import Architecture
from tnas_pipeline.run_dir import RunDir
from tnas_pipeline.run_lock import RunClaim, check_unclaimed, claim_run, remove_search_files
from tnas_pipeline.training import distributed as D
from tnas_pipeline.training.config import TrainConfig
from tnas_pipeline.training.trainer import train


def lut_source(lut: LatencyTable) -> dict[str, Any]:
    """Where the table a run starts with comes from, and the SHA-256 of its bytes then."""
    return {"path": str(lut.path) if lut.path else None,
            "sha256": file_sha256(lut.path) if lut.path else None}


def saved_lut_source(out: Path, cfg: SearchConfig) -> dict[str, Any]:
    """The run's :func:`lut_source`, as saved when it started; for a run older than that
    record, the path it was started with and the hash of the copy it searched with (the table
    at the start path may have moved or changed since)."""
    sd = SearchDir(out)
    source = sd.path / "lut-source.json"
    if source.is_file():
        return RunDir(out).read_json(source)
    return {"path": cfg.lut, "sha256": file_sha256(sd.lut_copy)}


def lut_record(lut: LatencyTable, source: dict[str, Any] | None = None) -> dict[str, Any]:
    """What a run keeps about its LUT: where, hash (``source``'s: the table as the run started
    with it; else hashed now), what it describes, and its provenance."""
    d = lut.data
    source = source or lut_source(lut)
    return {"path": source["path"], "sha256": source["sha256"],
            "description": lut.describe(), "method": d.get("method"),
            "device": d.get("device"), "runtime": d.get("runtime"), "date": d.get("date"),
            "precision": lut.precision, "output_size": list(lut.output_size),
            "search_space": d["search_space"]["hash"],
            "cpu_mismatch": cpu_mismatch(d.get("device", {})),
            "reference_ms": lut.profiled_reference_ms, "model_sigma": lut.sigma,
            "model_networks": (lut.model or {}).get("networks", 0)}


def _finetune_config(cfg: SearchConfig, arch_file: Path) -> TrainConfig:
    return TrainConfig(
        arch_source=str(arch_file), scale=cfg.scale, train_data=cfg.train_data,
        val_data=cfg.val_data, iters=cfg.finetune_iters, minutes=cfg.finetune_minutes,
        batch_size=cfg.finetune_batch_size, patch_size=cfg.finetune_patch_size, lr=cfg.lr,
        val_every=500, seed=cfg.seed, device=cfg.device, threads=cfg.threads)


def _search_phase(cfg: SearchConfig, lut: LatencyTable, out: Path, resume: bool,
                  progress: bool, claim: RunClaim,
                  resume_command: str = "search") -> dict[str, Any]:
    sd = SearchDir(out)
    evolution = None
    if cfg.evolve_rounds > 1:
        if D.init_distributed(cfg.device).enabled:
            raise UserError("--evolve-rounds runs in one process; start it without torchrun")
        if not SEARCH_METHODS.get(cfg.relaxation).evolvable:
            raise UserError(f"--evolve-rounds evolves the single-path space; drop --relaxation "
                            f"{cfg.relaxation} or --evolve-rounds")
        # The first round's searcher checks data, LUT and space before ``out`` is touched.
        Searcher(round_config(cfg, list(lut.space.ops[: cfg.evolve_active]), 0), lut, out,
                 progress=False)
        _prepare(cfg, lut, out, resume, claim)
        searcher, derived, evolution = evolve(cfg, lut, out, progress=progress, resume=resume)
        main = True
    else:
        # Data, LUT and space are checked by the constructor, before ``out`` is touched.
        cls = SEARCH_METHODS.get(cfg.relaxation).searcher
        searcher = cls(cfg, lut, out, progress=progress, resume_command=resume_command)
        main = searcher.dist.is_main
        if main:
            _prepare(cfg, lut, out, resume, claim)
        D.barrier(searcher.dist)
        if resume and sd.checkpoint.exists():
            searcher.restore()
        derived = searcher.search()
    space = searcher.space
    name = f"searched-{cfg.budget_ms:g}ms"
    lo, hi = cfg.fit_window(lut.sigma)
    fit, device_check = fit_and_check(
        searcher.fit, derived, cfg.budget_ms, (lo, hi), lut,
        lambda f: f.choice.architecture(space, name=name), cfg.check_on_device,
        skip_reason="one process measures, not several" if searcher.dist.enabled else None)
    arch = fit.choice.architecture(space, name=name)
    result = {
        "derived": derived.architecture(space, name=name).to_dict(),
        "derived_predicted_ms": searcher.predict_choice(derived),
        "fitted": arch.to_dict(), "predicted_ms": fit.predicted_ms,
        "in_window": fit.in_window, "fit_moves": fit.moves, "fit_reason": fit.reason,
        "device_check": device_check,
        "window_ms": [0.9 * cfg.budget_ms, cfg.budget_ms],
        "prediction_window_ms": [lo * cfg.budget_ms, hi * cfg.budget_ms],
        "model_sigma": lut.sigma,
        "search_iterations": (sum(r["iterations"] for r in evolution) if evolution
                              else searcher.iteration),
        "search_seconds": round(sum(r["seconds"] for r in evolution) if evolution
                                else searcher.seconds, 2),
        "search_history": searcher.history,
        # The iteration from which the supernet trained exactly the derived network (None: the
        # search never froze the architecture, and the fit may have moved it).
        "architecture_frozen_at": getattr(searcher, "frozen_at", None),
        "evolution": evolution,
    }
    if main:
        state = searcher.inherit(fit.choice, arch)
        with atomic_path(sd.path / "inherited.safetensors") as tmp:
            save_file({k: v.contiguous() for k, v in state.items()}, str(tmp))
        searcher.trajectory.plot(sd.plot, cfg.budget_ms,
                                 title=f"{name}: {cfg.relaxation}, {lut.describe()}")
        write_json_atomic(sd.result, result)  # last: marks the search phase as done
    D.barrier(searcher.dist)
    return result


def _prepare(cfg: SearchConfig, lut: LatencyTable, out: Path, resume: bool,
             claim: RunClaim) -> None:
    """A new run starts without the files of an earlier one (other files stay), with its config
    and table; every invocation records its command."""
    sd, run = SearchDir(out), RunDir(out)
    if not resume:
        run.clear()
        remove_search_files(out)
        (out / "search.json").unlink(missing_ok=True)
    claim.record()
    if not resume:
        sd.path.mkdir(parents=True, exist_ok=True)
        write_json_atomic(sd.config, cfg.to_dict())
        write_json_atomic(sd.lut_copy, lut.data)
        write_json_atomic(sd.path / "lut-source.json", lut_source(lut))


def check_output(out: str | Path, resume: bool, overwrite: bool,
                 command: str = "search") -> None:
    """Refuse a directory another process is writing, to resume what is not a search run of
    ``command`` (``search``, or ``run`` for the main job), or to start over a run unasked."""
    out = Path(out)
    sd, run = SearchDir(out), RunDir(out)
    check_unclaimed(out)
    if resume:
        run.require_resumable(command, sd.config)
    elif not overwrite and (sd.path.exists() or run.weights.exists() or run.checkpoint.exists()):
        raise UserError(f"{out} already holds a run; pass --resume to continue it, --overwrite "
                        "to start it afresh, or choose another -o directory")


def resume_config(out: str | Path, command: str = "search"
                  ) -> tuple[SearchConfig, LatencyTable]:
    """The configuration and latency table (the run's copy: the table it was started with may
    have moved or changed since) of the interrupted search run ``out``."""
    check_output(out, resume=True, overwrite=False, command=command)
    sd = SearchDir(out)
    cfg = SearchConfig.from_dict(RunDir(out).read_json(sd.config))
    lut = LatencyTable.load(sd.lut_copy)
    lut.path = Path(cfg.lut)  # reported as the table the run was started with; never read
    return cfg, lut


def run_search(cfg: SearchConfig, lut: LatencyTable, out: str | Path, resume: bool = False,
               overwrite: bool = False, progress: bool = True,
               argv: list[str] | None = None, resume_command: str = "search") -> dict[str, Any]:
    """Search, fit, inherit and fine-tune into run directory ``out``; return the summary. An
    interrupt tells the user to continue with ``tnas-pipeline {resume_command} --resume``."""
    out = Path(out)
    SEARCH_METHODS.get(cfg.relaxation)  # an unknown method is a one-line error, before any write
    sd, run = SearchDir(out), RunDir(out)
    with claim_run(out, resume_command, resume=resume, argv=argv) as claim:
        check_output(out, resume, overwrite, command=resume_command)
        # Fine-tuning's patches must fit the images too: find out now, not after the search.
        PatchSampler([Path(p) for p in cfg.train_data], cfg.scale, cfg.finetune_patch_size, 0)
        if resume:
            claim.record()
        if resume and sd.result.is_file():
            result = run.read_json(sd.result)
        else:
            result = _search_phase(cfg, lut, out, resume, progress, claim, resume_command)
        arch = Architecture.from_dict(result["fitted"], source=str(sd.result))
        finetune_resume = resume and run.checkpoint.is_file() and run.config.is_file()
        if resume and run.weights.is_file() and (out / "search.json").is_file():
            metrics = run.read_json(run.metrics)
        else:
            state = load_file(str(sd.path / "inherited.safetensors"))
            metrics = train(arch, _finetune_config(cfg, sd.result), out, resume=finetune_resume,
                            overwrite=not finetune_resume, progress=progress, argv=argv,
                            init_state=state, resume_command=resume_command)
        if not metrics:  # a non-main process under torchrun
            return {}
        summary = _summary(cfg, lut, out, arch, result, metrics)
        write_json_atomic(out / "search.json", summary)
    return summary


def _summary(cfg: SearchConfig, lut: LatencyTable, out: Path, arch: Architecture,
             result: dict[str, Any], metrics: dict[str, Any]) -> dict[str, Any]:
    """``search.json``: the run's search and fine-tuning in one record."""
    val = metrics["val"]
    return {
        "run": str(out), "arch": arch.name, "budget_ms": cfg.budget_ms,
        "predicted_ms": result["predicted_ms"], "in_window": result["in_window"],
        "psnr_y": next(iter(val.values()))["psnr_y"], "val": val,
        "relaxation": cfg.relaxation, "penalty": cfg.penalty,
        "cells": len(arch.cells), "params": metrics["params"], "mult_adds": metrics["mult_adds"],
        "search_seconds": result["search_seconds"],
        "search_iterations": result["search_iterations"],
        "finetune_seconds": metrics["train_seconds"], "finetune_iterations": metrics["iterations"],
        "derived_predicted_ms": result["derived_predicted_ms"], "fit_moves": result["fit_moves"],
        "architecture_frozen_at": result.get("architecture_frozen_at"),
        "fit_reason": result["fit_reason"], "device_check": result.get("device_check"),
        "lut": lut_record(lut, saved_lut_source(out, cfg)),
    }
