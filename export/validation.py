"""``tnas-pipeline validate``: does the deployed artifact keep the promises of its run?

For one exported artifact (ONNX or a TensorRT engine) of a run directory:

* **Quality**: PSNR/SSIM (Y) on the benchmark sets (bundled Set5 and Set14 unless ``--data``)
  and the difference from the run's PyTorch model on the same tiles
  (:func:`tnas_pipeline.deploy.image_parity.image_parity`), within
:mod:`tnas_pipeline.deploy.tolerances`. * **Latency** on this machine (ONNX Runtime): the
  artifact's static file timed as a ratio to the latency table's reference network, interleaved in
  the same process (:mod:`tnas_pipeline.latency.interleaved`), in ``rounds`` fresh sessions. The
  ratio becomes milliseconds with the reference's time: when the table was measured on this CPU
  (same fingerprint), its time at profiling, so the host's drift since then cancels, with the
  reading now and the drift beside it; on any other CPU, or with no table, the reference's time now.
  A different CPU is never drift. A TensorRT engine is timed with CUDA events.
* **Verdict**: ``pass`` when the outputs are finite and close to PyTorch's and the latency is
  within the budget (a run without a budget is judged on quality). The budget use (latency /
  budget) is reported, with a warning under 85 %: the network leaves budget unused (``run``,
  whose promise is to fill the budget, fails it). The prediction error is reported, and flagged
  beyond 10 %, but it judges the table, not the artifact.

The report goes to ``RUN/validation/<artifact>.{json,md}``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tnas_pipeline.data.defaults import default_eval_folders
from tnas_pipeline.deploy.artifacts import read_engine_manifest
from tnas_pipeline.deploy.image_parity import image_parity
from tnas_pipeline.deploy.onnx_export import read_metadata
from tnas_pipeline.deploy.tolerances import parity_checks
from tnas_pipeline.errors import UserError
from tnas_pipeline.io_utils import read_json_file, write_json_atomic, write_text_atomic
from tnas_pipeline.latency.lut import LatencyTable
from tnas_pipeline.networks.architecture import Architecture
from tnas_pipeline.networks.complexity import lr_size
from tnas_pipeline.provenance import provenance
from tnas_pipeline.run_dir import RunDir, check_identity, run_identity
from tnas_pipeline.run_lock import claim_run
from tnas_pipeline.runtime.runners import OnnxrtRunner, TorchRunner
from tnas_pipeline.runtime.runners.base import Runner

logger = logging.getLogger(__name__)

PREDICTION_TOLERANCE = 0.10
BUDGET_USE_FLOOR = 0.85  # under this share of the budget, the network leaves budget unused
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
        from tnas_pipeline.deploy.artifacts import check_engine_compatible
        from tnas_pipeline.deploy.engine_export import trt_context_here

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
    from tnas_pipeline.latency.devices import cpu_mismatch
    from tnas_pipeline.latency.resolve import resolve_profile

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


def _reference_arch(table: LatencyTable | None, arch: Architecture) -> Architecture:
    """The table's reference network, or that of the default space at the artifact's scale."""
    if table is not None and table.reference_arch is not None \
            and table.reference_arch.scale == arch.scale:
        return table.reference_arch
    from tnas_pipeline.latency.profiler import reference_architecture
    from tnas_pipeline.search_space import DEFAULT_SPACE

    return reference_architecture(DEFAULT_SPACE.with_scale(arch.scale))


def _measure_onnx(art: Artifact, device: str, shape: tuple[int, ...], threads: int | None,
                  rounds: int, reference_arch: Architecture) -> dict[str, Any]:
    """The artifact's ratio to the reference network over ``rounds`` fresh sessions."""
    from dataclasses import replace

    from tnas_pipeline.latency.backends.onnxruntime_backend import OnnxRuntimeBackend
    from tnas_pipeline.latency.measure import NETWORK_PROTOCOL, Reference, measure_ratio

    backend = OnnxRuntimeBackend("cpu" if device == "cpu" else "cuda", "fp32", threads)
    ref_shape = (1, reference_arch.colors, shape[2], shape[3])
    reference = Reference(backend, reference_arch, shape=ref_shape)
    protocol = replace(NETWORK_PROTOCOL, runs=rounds)
    stats = measure_ratio(backend, art.latency.read_bytes(), shape, reference, protocol)
    return {"ratio": stats.ratio, "ratio_sd": stats.sd, "ci": stats.ci,
            "reference": reference_arch.name, "reference_ms_now": stats.reference_ms,
            "now_ms": stats.ms, "artifact_ms": stats.target_ms,
            "round_ratios": [r.ratio for r in stats.runs],
            "pairs": [r.pairs for r in stats.runs], "rounds": rounds,
            "input_shape": list(shape), "threads": threads, "file": art.latency.name,
            "protocol": protocol.to_dict()}


def _latency_basis(latency: dict[str, Any], ref: LatencyReference, device: str,
                   same_resolution: bool) -> dict[str, Any] | None:
    """Set ``latency["median"]``, the figure the verdict reads, and say on what basis: at the
    table's profiled reference time when the table is this CPU's (the host's drift since then
    cancels; returned as the drift record), else the reference's time now."""
    from tnas_pipeline.latency.devices import cpu_mismatch

    table = ref.table
    same_cpu = (table is not None and same_resolution and device == "cpu"
                and not table.is_estimate and table.profiled_reference_ms is not None
                and cpu_mismatch(table.data.get("device", {})) is None)
    if not same_cpu:
        latency.update(median=latency["now_ms"], basis="measured now")
        return None
    then = float(table.profiled_reference_ms)
    latency.update(median=latency["ratio"] * then,
                   basis="at this CPU's profiled speed, the host's drift since cancelled")
    return {"reference": latency["reference"], "then_ms": then,
            "now_ms": latency["reference_ms_now"], "ratio": latency["reference_ms_now"] / then}


def _measure_engine(art: Artifact, rounds: int, shape: tuple[int, ...]) -> dict[str, Any]:
    """Median GPU time over ``rounds`` fresh engine contexts (CUDA events, trtexec-like)."""
    from tnas_pipeline.runtime.trt.runner import TrtRunner

    medians = []
    for _ in range(rounds):
        with TrtRunner(art.latency.read_bytes(), name="tensorrt") as runner:
            medians.append(float(np.median(runner.time_ms(10, 30, 1.0))))
    return {"now_ms": float(np.median(medians)), "round_medians": sorted(medians),
            "rounds": rounds, "input_shape": list(shape), "file": art.latency.name}


def _images_runner(art: Artifact, device: str) -> Runner:
    if art.kind == "onnx":
        providers = ["CPUExecutionProvider"] if device == "cpu" else ["CUDAExecutionProvider"]
        return OnnxrtRunner(art.images, providers=providers, name="artifact")
    from tnas_pipeline.runtime.trt.runner import TrtRunner

    return TrtRunner(art.images.read_bytes(), name="artifact")


def validate_run(run_path: str | Path, artifact: str | Path | None = None,
                 data: list[Path] | None = None, device: str = "cpu", torch_device: str = "cpu",
                 threads: int | None = None, rounds: int = 3, argv: list[str] | None = None,
                 progress: bool = True) -> dict[str, Any]:
    """Validate an artifact of ``run_path``; returns the report it wrote (module docstring)."""
    if device not in ("cpu", "cuda"):
        raise UserError(f"--device {device!r}: validate on cpu or cuda (a Jetson is cuda)")
    if rounds < 1:
        raise UserError("--rounds must be at least 1")
    run = RunDir(run_path)
    run_identity(run)  # arch.json and weights.safetensors, or the missing files named

    # One writer at a time: validate writes into the run directory, and a train or search
    # writing it too would leave an artifact of weights that are not the run's.
    with claim_run(run.path, "validate", resume=True):
        arch, model = run.load_model()
        art = open_artifact(Path(artifact) if artifact else default_artifact(run, device), run)
        folders = [Path(d) for d in data] if data else default_eval_folders()
        ref = latency_reference(run, arch, art.runtime, device)
        rt = (ref.table.data.get("runtime", {}) if ref.table else {})
        if threads is None and art.runtime == "onnxruntime" and device == "cpu":
            threads = rt.get("threads")
        output_size = tuple(ref.table.output_size) if ref.table else DEFAULT_OUTPUT_SIZE
        lw, lh = lr_size(output_size, arch.scale)

        logger.info(f"validating {art.path.name} ({art.runtime}, {art.precision}) of {run.path} on "
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
            same_resolution = (shape[2], shape[3]) == (lh, lw)
            if not same_resolution:
                ref.predicted_ms = None  # the table predicts another resolution
            if art.kind == "onnx":
                reference_arch = _reference_arch(ref.table if same_resolution else None, arch)
                logger.info(f"latency: {rounds} sessions at input {shape[3]}x{shape[2]}"
                    + (f", {threads} thread(s)" if threads else "")
                    + f", as a ratio to the reference network {reference_arch.name} timed "
                      "interleaved")
                latency = _measure_onnx(art, device, shape, threads, rounds, reference_arch)
                drift = _latency_basis(latency, ref, device, same_resolution)
            else:
                latency = _measure_engine(art, rounds, shape)
                latency.update(median=latency["now_ms"], basis="measured now (CUDA events)")
        if latency and ref.budget_ms is not None:
            use = latency["median"] / ref.budget_ms
            latency["budget_use"] = use
            checks.append({"name": "within_budget", "ok": latency["median"] <= ref.budget_ms,
                           "value": latency["median"], "limit": ref.budget_ms,
                           "detail": f"{latency['median']:.1f} ms ({latency['basis']}) against the "
                                     f"budget {ref.budget_ms:g} ms"})
            checks.append({"name": "budget_use", "ok": use >= BUDGET_USE_FLOOR, "value": use,
                           "limit": BUDGET_USE_FLOOR, "advisory": True,
                           "detail": f"uses {use:.0%} of the budget" + (
                               "" if use >= BUDGET_USE_FLOOR else
                               f"; under {BUDGET_USE_FLOOR:.0%} the network leaves budget unused")})
            if use < BUDGET_USE_FLOOR:
                logger.warning(f"the network uses {use:.0%} of its {ref.budget_ms:g} ms budget and "
                    "leaves the rest unused; search again at this budget on this device")
        error = None
        if latency and ref.predicted_ms and "ratio" in latency and ref.table is not None:
            predicted_ratio = ref.table.predict_ratio(arch).value
            error = latency["ratio"] / predicted_ratio - 1.0
            # The prediction in ms on the same basis as the latency it is compared with.
            ref.predicted_ms = predicted_ratio * latency["median"] / latency["ratio"]
            checks.append({"name": "prediction", "ok": abs(error) <= PREDICTION_TOLERANCE,
                           "value": error, "limit": PREDICTION_TOLERANCE, "advisory": True,
                           "detail": f"measured {latency['ratio']:.3f} reference networks vs LUT "
                                     f"{predicted_ratio:.3f} ({error:+.1%}); judges the table"})
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
            "budget_use": latency.get("budget_use") if latency else None,
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
        line = (f"Latency of `{lat.get('file', '?')}` at input {shape[3]}x{shape[2]}: "
                f"**{lat['median']:.2f} ms** ({lat['basis']})")
        if "ratio" in lat:
            line += (f": {lat['ratio']:.4f} × the table's reference network "
                     f"(median of {lat['rounds']} sessions of interleaved pairs, "
                     f"{', '.join(f'{x:.4f}' for x in lat['round_ratios'])}); the reference "
                     f"took {lat['reference_ms_now']:.2f} ms now, so "
                     f"{lat['now_ms']:.2f} ms as measured now")
        else:
            line += f" (session medians {', '.join(f'{m:.2f}' for m in lat['round_medians'])})"
        line += "."
        if r["predicted_ms"]:
            line += f" LUT prediction {r['predicted_ms']:.2f} ms ({r['prediction_error']:+.1%})."
        if r["budget_ms"]:
            line += f" Budget {r['budget_ms']:g} ms, {lat['median'] / r['budget_ms']:.0%} used."
        lines.append(line)
    if r.get("host_drift"):
        d = r["host_drift"]
        lines += ["", f"Host drift (same CPU as the table): the reference network took "
                  f"{d['then_ms']:.2f} ms at profiling and {d['now_ms']:.2f} ms in the same "
                  f"sessions as the artifact ({d['ratio']:.2f}x)."]
    lines += ["", "| check | result | detail |", "|---|---|---|"]
    for c in r["checks"]:
        verdict = ("ok" if c["ok"] else "FAIL") + (" (advisory)" if c.get("advisory") else "")
        lines.append(f"| {c['name']} | {verdict} | {c['detail']} |")
    if r["notes"]:
        lines += ["", "Notes:", *[f"- {n}" for n in r["notes"]]]
    return "\n".join(lines) + "\n"
