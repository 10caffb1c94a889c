"""The Python API: what the CLI does, as functions that return typed results.

::

    import tnas_pipeline as tnas

    result = tnas.search("200ms", iters=600, output="runs/s200")
    print(result.arch.name, result.predicted_ms, result.psnr_y)
    exported = tnas.export(result.run)
    report = tnas.validate(result.run)
    print(report.passed, report.latency_ms)

Every function writes what its command writes (a run directory, a table), raises
:class:`tnas_pipeline.UserError` with a one-line message for bad input, and logs through the
``tnas_pipeline`` logger (nothing is printed). Progress bars are drawn only on a terminal, and
not at all with ``progress=False``.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from torch import nn

from tnas_pipeline.errors import UserError
from tnas_pipeline.latency.lut import LatencyTable
from tnas_pipeline.networks.architecture import Architecture


def _budget(latency_budget: float | str) -> float:
    from tnas_pipeline.nas.budget import parse_latency_budget

    if isinstance(latency_budget, str):
        return parse_latency_budget(latency_budget)
    return parse_latency_budget(f"{float(latency_budget)!r}ms")


@dataclass(frozen=True)
class SearchResult:
    """A searched, fitted and fine-tuned network in its run directory."""

    run: Path
    arch: Architecture
    budget_ms: float
    predicted_ms: float           # the latency table's prediction for ``arch``
    psnr_y: float                 # on the validation split, after fine-tuning
    params: int
    summary: dict[str, Any] = field(repr=False)   # everything `search --json` prints


@dataclass(frozen=True)
class ExportResult:
    """The files ``export`` wrote and their parity against PyTorch."""

    out_dir: Path
    artifacts: list[Path]
    parity_ok: bool
    manifest: dict[str, Any] = field(repr=False)


@dataclass(frozen=True)
class ValidationResult:
    """What ``validate`` found: quality, latency on this machine, the verdict."""

    passed: bool
    latency_ms: float | None      # the median measured here (None when not timed)
    budget_use: float | None      # latency / budget
    psnr_y: dict[str, float]      # per benchmark set
    report: Path
    data: dict[str, Any] = field(repr=False)


@dataclass(frozen=True)
class RunResult:
    """The main job: search, export and validate, with the job's verdict."""

    passed: bool
    verdict: str
    run: Path
    arch: str
    latency_ms: float | None
    budget_ms: float
    psnr_y: dict[str, float]
    onnx: list[Path]
    summary: dict[str, Any] = field(repr=False)


@dataclass(frozen=True)
class Run:
    """A run directory read back: its architecture, its trained network, its records."""

    path: Path
    arch: Architecture
    model: nn.Module = field(repr=False)
    metrics: dict[str, Any] = field(repr=False)


def profile(device: str = "cpu", *, space: str = "default", scale: int = 2,
            output: str | Path | None = None, resume: bool = False,
            progress: bool = True, **options: Any) -> LatencyTable:
    """Measure ``device`` into a latency table, as ``tnas-pipeline profile`` does.

    ``options`` are those of :func:`tnas_pipeline.profiling.profile_device` (``runtime``,
    ``output_size``, ``precision``, ``networks``, ``runs``, …). Without ``output`` the table goes
    to the user's data directory."""
    from tnas_pipeline.profiling import profile_device

    return profile_device(device, space=space, scale=scale, output=output, resume=resume,
                          progress=progress, **options)


def search(latency_budget: float | str, *, device: str = "cpu", output: str | Path | None = None,
           space: str | None = None, relaxation: str = "sparsestmax",
           data: list[str | Path] | tuple = (), val_data: list[str | Path] | tuple = (),
           iters: int | None = None, minutes: float | None = None, resume: bool = False,
           overwrite: bool = False, bring_up: str = "profile", torch_device: str = "cpu",
           progress: bool = True, **options: Any) -> SearchResult:
    """Search a network under ``latency_budget`` (ms, or a string such as ``"30ms"``) on
    ``device`` (``cpu``, ``jetson`` or a table file), fit it, fine-tune it.

    Without ``data`` the bundled T91 images train it; ``torch_device`` is where PyTorch trains
    (``cpu`` or ``cuda``), not the target. ``options`` are further
    :class:`tnas_pipeline.nas.config.SearchConfig` fields (``seed``, ``search_fraction``, …).
    """
    from tnas_pipeline.nas.plan import plan_search
    from tnas_pipeline.nas.run import resume_config, run_search
    from tnas_pipeline.run_dir import default_run_dir

    budget_ms = _budget(latency_budget)
    if resume:
        if output is None:
            raise UserError("resume needs output=, the folder of the search to continue")
        cfg, lut = resume_config(output)
    else:
        if iters is None and minutes is None:
            minutes = 6.0
        cfg, lut = plan_search(budget_ms, target=device, space=space, relaxation=relaxation,
                               data=data, val_data=val_data,
                               bring_up=bring_up if device == "cpu" else None,
                               progress=progress, iters=iters, minutes=minutes,
                               device=torch_device, **options)
    out = Path(output) if output else default_run_dir(f"search-{budget_ms:g}ms")
    summary = run_search(cfg, lut, out, resume=resume, overwrite=overwrite,
                         progress=progress, argv=sys.argv)
    arch = Architecture.load(out / "arch.json")
    return SearchResult(run=out, arch=arch, budget_ms=summary["budget_ms"],
                        predicted_ms=summary["predicted_ms"], psnr_y=summary["psnr_y"],
                        params=summary["params"], summary=summary)


def export(run: str | Path, *, precision: str = "fp32", fmt: str = "onnx",
           output_size: tuple[int, int] | None = None, out_dir: str | Path | None = None,
           progress: bool = True) -> ExportResult:
    """Export a run's network to ONNX (and with ``fmt="trt"`` a TensorRT engine), checked
    against PyTorch before anything is written."""
    from tnas_pipeline.deploy.exporter import ExportRequest, export_run

    req = ExportRequest(run=Path(run), fmt=fmt, precision=precision, output_size=output_size,
                        out_dir=Path(out_dir) if out_dir else None)
    manifest = export_run(req, argv=sys.argv, progress=progress)
    folder = Path(out_dir) if out_dir else Path(run) / "export"
    return ExportResult(out_dir=folder, artifacts=[folder / a["file"] for a in
                                                   manifest["artifacts"]],
                        parity_ok=all(c["ok"] for c in manifest["parity"]["checks"]),
                        manifest=manifest)


def validate(run: str | Path, *, artifact: str | Path | None = None,
             data: list[str | Path] | tuple = (), device: str = "cpu", rounds: int = 3,
             progress: bool = True) -> ValidationResult:
    """Check an exported artifact: PSNR on benchmark images, latency here against the table's
    prediction and the run's budget."""
    from tnas_pipeline.deploy.validation import validate_run

    report = validate_run(run, artifact, [Path(d) for d in data], device=device, rounds=rounds,
                          argv=sys.argv, progress=progress)
    lat = report.get("latency_ms") or {}
    return ValidationResult(passed=bool(report["pass"]), latency_ms=lat.get("median"),
                            budget_use=report.get("budget_use"), psnr_y=report["psnr_y"],
                            report=Path(report["report"]), data=report)


def run(latency_budget: float | str | None = None, *, output: str | Path = "runs/main",
        device: str = "cpu", minutes: float | None = 8.0, iters: int | None = None,
        resume: bool = False, overwrite: bool = False, progress: bool = True,
        **options: Any) -> RunResult:
    """The main job: this device's table, a search under the budget, ONNX export, validation.

    ``options`` are further :class:`tnas_pipeline.main_job.MainJob` fields (``seed``,
    ``data``, ``device_check``, …)."""
    from tnas_pipeline.main_job import MainJob, run_main_job

    job = MainJob(out=Path(output), device=device, minutes=None if iters else minutes,
                  iters=iters,
                  budget_ms=_budget(latency_budget) if latency_budget is not None else None,
                  **options)
    s = run_main_job(job, resume=resume, overwrite=overwrite, progress=progress,
                     argv=sys.argv)
    lat = s.get("latency_ms") or {}
    return RunResult(passed=bool(s["pass"]), verdict=s["verdict"], run=Path(s["run"]),
                     arch=s["arch"], latency_ms=lat.get("median"), budget_ms=s["budget_ms"],
                     psnr_y=s["psnr_y"], onnx=[Path(p) for p in s["onnx"]], summary=s)


def load_run(path: str | Path) -> Run:
    """Read a run directory: its architecture, its network with trained weights (CPU, eval
    mode) and its metrics."""
    from tnas_pipeline.run_dir import RunDir

    rd = RunDir(path)
    arch, model = rd.load_model()
    metrics = rd.read_json(rd.metrics) if rd.metrics.is_file() else {}
    return Run(path=Path(path), arch=arch, model=model, metrics=metrics)
