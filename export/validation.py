"""``tnas-pipeline validate``: does the deployed artifact keep the promises of its run?

For one exported artifact (ONNX or a TensorRT engine) of a run directory:

* **Quality**: PSNR/SSIM (Y) on the benchmark sets (bundled Set5 and Set14 unless ``--data``)
  and the difference from the run's PyTorch model on the same tiles
  (:func:`export.image_parity.image_parity`), within :mod:`export.tolerances`.
* **Latency** on this machine by the profiler's protocol for whole networks (the LUT's recorded
  warm-up and repeats, its thread count, the LUT's output resolution), in ``rounds`` fresh
  sessions to damp the drift of shared hosts: median and p90, against the LUT's prediction
  and the run's budget.
* **Host drift** (ONNX Runtime): one of the table's calibration networks is timed in the same
  sessions, so a miss can be put down to the table or to the host (:mod:`export.host_drift`).
* **Verdict**: ``pass`` when the outputs are finite and close to PyTorch's and the median is
  within the budget (a run without a budget is judged on quality). The prediction error is
  reported, and flagged beyond 10 %, but it judges the table, not the artifact.

The report goes to ``RUN/validation/<artifact>.{json,md}``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from export.artifacts import check_identity, read_engine_manifest, run_identity
from export.host_drift import drift_record, drift_reference
from export.image_parity import image_parity
from export.onnx_export import read_metadata
from export.runners import OnnxrtRunner, TorchRunner
from export.runners.base import Runner
from export.tolerances import parity_checks
from pipeline.data.defaults import default_eval_folders
from pipeline.errors import UserError
from pipeline.io_utils import read_json_file, write_json_atomic, write_text_atomic
from pipeline.latency.lut import LatencyTable
from pipeline.latency.stats import TimingStats
from pipeline.networks.architecture import Architecture
from pipeline.networks.builder import build_network
from pipeline.networks.complexity import lr_size
from pipeline.provenance import provenance
from pipeline.training.run_dir import RunDir

PREDICTION_TOLERANCE = 0.10
DEFAULT_OUTPUT_SIZE = (1280, 720)


@dataclass
class Artifact:
    """An exported file, the files to validate images and time latency with, and its facts."""

    path: Path
    kind: str             # "onnx" or "engine"
    precision: str
    runtime: str          # "onnxruntime" or "tensorrt"
    images: Path          # the dynamic variant (any image size)
    latency: Path | None  # the variant to time: the artifact, or a static engine sibling
    manifest: dict[str, Any]


def _export_manifest(folder: Path, precision: str) -> dict[str, Any]:
    path = folder / f"export-{precision}.json"
    if not path.is_file():
        return {}
    return read_json_file(path, "missing", "corrupt JSON ({exc}); re-export the run")


def default_artifact(run: RunDir, device: str) -> Path:
    """The artifact ``validate`` takes without ``--artifact``: for the CPU the FP32 ONNX (then
    FP16); for a GPU the dynamic engine (FP16, then FP32), else the ONNX."""
    folder = run.path / "export"
    names = ["model-fp32.onnx", "model-fp16.onnx"]
    if device != "cpu":
        names = ["model-fp16-dynamic.engine", "model-fp32-dynamic.engine", *names]
    for name in names:
        if (folder / name).is_file():
            return folder / name
    raise UserError(f"{folder} has no exported model; run `tnas-pipeline export --run "
                    f"{run.path}` first, or pass --artifact FILE")


def _sibling(folder: Path, manifest: dict[str, Any], kind: str, variant: str) -> Path | None:
    for a in manifest.get("artifacts", []):
        if a.get("kind") == kind and a.get("variant") == variant and (folder / a["file"]).is_file():
            return folder / a["file"]
    return None


def open_artifact(path: Path, run: RunDir, trt_here: Callable[[], dict[str, str]] | None = None
                  ) -> Artifact:
    """Check that ``path`` is an artifact of ``run`` (and, for an engine, of this machine)."""
    import onnx

    if not path.is_file():
        raise UserError(f"{path}: no such artifact; export one with `tnas-pipeline export --run "
                        f"{run.path}`")
    suffix = path.suffix.lower()
    if suffix == ".onnx":
        try:
            meta = read_metadata(onnx.load(str(path), load_external_data=False))
        except Exception as exc:  # protobuf's DecodeError and friends
            raise UserError(f"{path}: not a readable ONNX model ({type(exc).__name__}); "
                            "re-export it") from None
        check_identity(meta, run, path)
        precision = meta.get("precision", "fp32")
        exported = _export_manifest(path.parent, precision)
        images, latency = path, path
        if meta.get("tnas.variant", "dynamic") != "dynamic":
            images = _sibling(path.parent, exported, "onnx", "dynamic") or path
        else:
            # Deployment at a fixed resolution runs the static file, the shape the table
            # predicts; ONNX Runtime plans a static graph better (a dynamic one measured a few
            # percent slower here).
            latency = _sibling(path.parent, exported, "onnx", "static") or path
        return Artifact(path, "onnx", precision, "onnxruntime", images, latency,
                        {**meta, "export": exported})
    if suffix in (".engine", ".plan", ".trt"):
        manifest = read_engine_manifest(path)
        check_identity(manifest, run, path)
        from export.artifacts import check_engine_compatible
        from export.engine_export import trt_context_here

        here = trt_here() if trt_here else trt_context_here().here()
        check_engine_compatible(manifest, here, path)
        precision = manifest.get("precision", "fp32")
        exported = _export_manifest(path.parent, precision)
        dynamic = manifest.get("variant") == "dynamic"
        images = path if dynamic else _sibling(path.parent, exported, "engine", "dynamic")
        latency = path if not dynamic else _sibling(path.parent, exported, "engine", "static")
        if images is None:
            raise UserError(f"{path} is a fixed-shape engine and its dynamic sibling is missing; "
                            "re-export with `tnas-pipeline export --format trt`")
        return Artifact(path, "engine", precision, "tensorrt", images, latency,
                        {**manifest, "export": exported})
    raise UserError(f"{path}: unknown artifact type {suffix!r}; pass an .onnx or .engine file")


@dataclass
class LatencyReference:
    """The table that predicts this artifact's latency here, with the run's budget."""

    table: LatencyTable | None
    predicted_ms: float | None
    budget_ms: float | None
    notes: list[str]


def latency_reference(run: RunDir, arch: Architecture, runtime: str, device: str
                      ) -> LatencyReference:
    """The run's own table when it was measured with this runtime, else the shipped one for
    ``device``; the prediction for ``arch``; the run's budget (``None`` outside a search)."""
    from pipeline.latency.devices import cpu_mismatch
    from pipeline.latency.shipped import resolve_profile

    notes: list[str] = []
    search = run.path / "search.json"
    summary = run.read_json(search) if search.is_file() else {}
    budget = summary.get("budget_ms")
    table = None
    own = run.path / "search" / "lut.json"
    if own.is_file():
        candidate = LatencyTable.load(own)
        if candidate.data.get("runtime", {}).get("runtime") == runtime:
            table = candidate
        else:
            notes.append(f"the run's table is for {candidate.describe()}, not {runtime} here")
    if table is None:
        try:
            candidate = resolve_profile(device, arch.scale)
        except UserError as exc:
            notes.append(f"no latency table for --device {device}: {exc}")
        else:
            if candidate.data.get("runtime", {}).get("runtime") == runtime:
                table = candidate
    predicted = None
    if table is not None:
        if table.is_estimate:
            notes.append(table.estimate_notice() or "the table is a roofline estimate")
        if device == "cpu" and (why := cpu_mismatch(table.data.get("device", {}))):
            notes.append(why)
        try:
            predicted = table.predict_ms(arch)
        except (UserError, KeyError, ValueError) as exc:
            notes.append(f"no LUT prediction: {exc}")
    return LatencyReference(table, predicted, budget, notes)


def _measure(art: Artifact, device: str, input_shape: tuple[int, ...], threads: int | None,
             warmup: int, repeats: int, rounds: int, min_seconds: float,
             reference: torch.nn.Module | None = None) -> dict[str, Any]:
    """Median and p90 over ``rounds`` fresh sessions (median of the round medians). With a
    ``reference`` network (ONNX Runtime only), it is timed in each round right after the
    artifact, so both see the host in the same state."""
    from pipeline.latency.backends.base import MeasureProtocol

    protocol = MeasureProtocol(warmup=warmup, repeats=repeats, min_seconds=min_seconds)
    rounds_stats: list[TimingStats] = []
    reference_medians: list[float] = []
    for _ in range(rounds):
        if art.kind == "onnx":
            from pipeline.latency.backends.onnxruntime_backend import OnnxRuntimeBackend

            backend = OnnxRuntimeBackend("cpu" if device == "cpu" else "cuda", "fp32", threads)
            rounds_stats.append(backend.measure_onnx(art.latency.read_bytes(), input_shape,
                                                     protocol))
            if reference is not None:
                reference_medians.append(
                    backend.measure(reference, input_shape, protocol).median_ms)
        else:
            from export.trt.runner import TrtRunner

            with TrtRunner(art.latency.read_bytes(), name="tensorrt") as runner:
                rounds_stats.append(TimingStats.from_samples(
                    runner.time_ms(warmup, repeats, min_seconds)))
    medians = sorted(s.median_ms for s in rounds_stats)
    return {"median": float(np.median(medians)),
            "p90": float(np.median([s.p90_ms for s in rounds_stats])),
            "round_medians": medians, "rounds": rounds, "warmup": warmup, "repeats": repeats,
            "input_shape": list(input_shape), "threads": threads, "file": art.latency.name,
            "reference_medians": reference_medians}


def _images_runner(art: Artifact, device: str) -> Runner:
    if art.kind == "onnx":
        providers = ["CPUExecutionProvider"] if device == "cpu" else ["CUDAExecutionProvider"]
        return OnnxrtRunner(art.images, providers=providers, name="artifact")
    from export.trt.runner import TrtRunner

    return TrtRunner(art.images.read_bytes(), name="artifact")


def validate_run(run_path: str | Path, artifact: str | Path | None = None,
                 data: list[Path] | None = None, device: str = "cpu", torch_device: str = "cpu",
                 threads: int | None = None, rounds: int = 3, drift_check: bool = True,
                 argv: list[str] | None = None,
                 progress: bool = True, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Validate an artifact of ``run_path``; returns the report it wrote (module docstring)."""
    if device not in ("cpu", "cuda"):
        raise UserError(f"--device {device!r}: validate on cpu or cuda (a Jetson is cuda)")
    if rounds < 1:
        raise UserError("--rounds must be at least 1")
    run = RunDir(run_path)
    run_identity(run)  # arch.json and weights.safetensors, or the missing files named
    arch, model = run.load_model()
    art = open_artifact(Path(artifact) if artifact else default_artifact(run, device), run)
    folders = [Path(d) for d in data] if data else default_eval_folders()
    ref = latency_reference(run, arch, art.runtime, device)
    rt = (ref.table.data.get("runtime", {}) if ref.table else {})
    if threads is None and art.runtime == "onnxruntime" and device == "cpu":
        threads = rt.get("threads")
    output_size = tuple(ref.table.output_size) if ref.table else DEFAULT_OUTPUT_SIZE
    lw, lh = lr_size(output_size, arch.scale)
    net_protocol = ((ref.table.data.get("protocol") or {}).get("networks") if ref.table else None
                    ) or {"warmup": 3, "repeats": 10, "min_seconds": 0.0}

    log(f"validating {art.path.name} ({art.runtime}, {art.precision}) of {run.path} on "
        f"{', '.join(f.name for f in folders)}")
    reference = TorchRunner(model, torch_device, "fp32", name="pytorch")
    runner = _images_runner(art, device)
    with reference, runner:
        parity = image_parity([reference, runner], "pytorch", folders, arch.scale,
                              progress=progress)
    checks = parity_checks(parity["sets"], "artifact", art.runtime, art.precision)

    latency, drift = None, None
    if art.latency is None:
        ref.notes.append("no fixed-shape engine to time; re-export with --format trt")
    else:
        shape = (1, arch.colors, lh, lw)
        if art.kind == "onnx":
            import onnx

            static = onnx.load(str(art.latency), load_external_data=False)
            dims = [d.dim_value for d in static.graph.input[0].type.tensor_type.shape.dim]
            if all(d > 0 for d in dims):
                shape = tuple(dims)  # a static ONNX is timed at its own shape
        else:  # the fixed-shape engine runs only at its profile's shape
            shape = tuple(read_engine_manifest(art.latency)["input_shapes"]["input"]["opt"])
        if (shape[2], shape[3]) != (lh, lw):
            ref.predicted_ms = None  # the table predicts another resolution
        anchor = None
        if drift_check and art.kind == "onnx" and ref.table is not None and ref.predicted_ms:
            anchor = drift_reference(ref.table, ref.predicted_ms)
        log(f"latency: {rounds} sessions × {net_protocol['repeats']} runs at input "
            f"{shape[3]}x{shape[2]}" + (f", {threads} thread(s)" if threads else "")
            + (f", with the table's calib-{anchor.index} network for host drift" if anchor
               else ""))
        latency = _measure(art, device, shape, threads, int(net_protocol["warmup"]),
                           int(net_protocol["repeats"]), rounds,
                           float(net_protocol.get("min_seconds", 0.0)),
                           build_network(anchor.arch) if anchor else None)
        if anchor:
            drift = drift_record(anchor, latency.pop("reference_medians"))
            drift["adjusted_ms"] = latency["median"] / drift["ratio"]
        latency.pop("reference_medians", None)
    if latency and ref.budget_ms is not None:
        checks.append({"name": "within_budget", "ok": latency["median"] <= ref.budget_ms,
                       "value": latency["median"], "limit": ref.budget_ms,
                       "detail": f"median {latency['median']:.1f} ms against the budget "
                                 f"{ref.budget_ms:g} ms"})
    error = None
    if latency and ref.predicted_ms:
        error = latency["median"] / ref.predicted_ms - 1.0
        checks.append({"name": "prediction", "ok": abs(error) <= PREDICTION_TOLERANCE,
                       "value": error, "limit": PREDICTION_TOLERANCE, "advisory": True,
                       "detail": f"measured {latency['median']:.1f} ms vs LUT "
                                 f"{ref.predicted_ms:.1f} ms ({error:+.1%}); judges the table"})
    if drift and ref.predicted_ms:
        drift["adjusted_error"] = drift["adjusted_ms"] / ref.predicted_ms - 1.0
        checks.append({
            "name": "prediction_drift_adjusted",
            "ok": abs(drift["adjusted_error"]) <= PREDICTION_TOLERANCE,
            "value": drift["adjusted_error"], "limit": PREDICTION_TOLERANCE, "advisory": True,
            "detail": f"this host takes {drift['ratio']:.2f}x the time it took at profiling "
                      f"({drift['reference']}: {drift['then_ms']:.1f} ms then, "
                      f"{drift['now_ms']:.1f} now); adjusted {drift['adjusted_ms']:.1f} ms vs "
                      f"LUT {ref.predicted_ms:.1f} ms ({drift['adjusted_error']:+.1%})"})
    passed = all(c["ok"] for c in checks if not c.get("advisory"))

    sets = parity["sets"]
    diffs = [s["artifact"]["max_abs_diff"] for s in sets.values()]
    report = {
        "run": str(run.path), "artifact": str(art.path), "runtime": art.runtime,
        "device": device, "precision": art.precision, "arch": arch.name, "scale": arch.scale,
        "psnr_y": {n: s["artifact"]["psnr_y"] for n, s in sets.items()},
        "ssim_y": {n: s["artifact"]["ssim_y"] for n, s in sets.items()},
        "psnr_y_pytorch": {n: s["pytorch"]["psnr_y"] for n, s in sets.items()},
        "psnr_delta_db": {n: s["artifact"]["psnr_delta_db"] for n, s in sets.items()},
        "max_abs_diff": None if any(d is None for d in diffs) else max(diffs),
        "latency_ms": latency, "predicted_ms": ref.predicted_ms, "prediction_error": error,
        "host_drift": drift, "budget_ms": ref.budget_ms,
        "lut": {"path": str(ref.table.path) if ref.table else None,
                "description": ref.table.describe() if ref.table else None},
        "notes": ref.notes, "checks": checks, "pass": passed,
        "provenance": provenance(argv),
    }
    out = run.path / "validation"
    write_json_atomic(out / f"{art.path.name}.json", report)
    write_text_atomic(out / f"{art.path.name}.md", markdown_report(report))
    report["report"] = str(out / f"{art.path.name}.md")
    return report


def markdown_report(r: dict[str, Any]) -> str:
    """The report as a person reads it."""
    lines = [f"# Validation of `{Path(r['artifact']).name}`: {'PASS' if r['pass'] else 'FAIL'}",
             "", f"Run `{r['run']}` ({r['arch']}, x{r['scale']}), {r['runtime']} "
             f"{r['precision']} on {r['device']}, {r['provenance']['date']}, "
             f"{r['provenance']['host']['cpu']}.", "",
             "| set | PSNR-Y artifact | PSNR-Y PyTorch | difference (dB) | SSIM-Y |",
             "|---|---|---|---|---|"]
    for name in r["psnr_y"]:
        lines.append(f"| {name} | {r['psnr_y'][name]:.3f} | {r['psnr_y_pytorch'][name]:.3f} | "
                     f"{r['psnr_delta_db'][name]:+.4f} | {r['ssim_y'][name]:.4f} |")
    mad = r["max_abs_diff"]
    lines += ["", f"Largest output difference from PyTorch: "
              f"{'inf (NaN/Inf)' if mad is None else f'{mad:.2e}'}.", ""]
    lat = r["latency_ms"]
    if lat:
        shape = lat["input_shape"]
        lines.append(f"Latency of `{lat.get('file', '?')}` at input {shape[3]}x{shape[2]}: "
                     f"median {lat['median']:.2f} ms, "
                     f"p90 {lat['p90']:.2f} ms ({lat['rounds']} sessions × {lat['repeats']} "
                     f"runs; session medians {', '.join(f'{m:.1f}' for m in lat['round_medians'])}"
                     f")." + (f" LUT prediction {r['predicted_ms']:.2f} ms "
                              f"({r['prediction_error']:+.1%})." if r["predicted_ms"] else "")
                     + (f" Budget {r['budget_ms']:g} ms." if r["budget_ms"] else ""))
    if r.get("host_drift"):
        d = r["host_drift"]
        lines += ["", f"Host drift: the table's {d['reference']} network took {d['then_ms']:.1f} "
                  f"ms at profiling and {d['now_ms']:.1f} ms in the same sessions as the "
                  f"artifact ({d['ratio']:.2f}x); the artifact on the host as profiled: "
                  f"{d['adjusted_ms']:.1f} ms."]
    lines += ["", "| check | result | detail |", "|---|---|---|"]
    for c in r["checks"]:
        verdict = ("ok" if c["ok"] else "FAIL") + (" (advisory)" if c.get("advisory") else "")
        lines.append(f"| {c['name']} | {verdict} | {c['detail']} |")
    if r["notes"]:
        lines += ["", "Notes:", *[f"- {n}" for n in r["notes"]]]
    return "\n".join(lines) + "\n"
