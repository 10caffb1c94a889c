"""Benchmark: export the searched networks and validate the artifacts on this CPU.

For every run directory given (by default the searched runs of ``bench/search_budgets.py`` in
``bench/out/search``):

1. ``export`` to ONNX in FP32 and FP16 (parity against PyTorch on the bundled Set5);
2. ``validate`` the FP32 and FP16 ONNX with ONNX Runtime on the CPU: PSNR on Set5 and Set14 ×2
   and the difference from PyTorch, latency by the profiler's protocol (the shipped table's 1
   thread, 1280×720 output) in ``--rounds`` fresh sessions, against the LUT's prediction and
   the run's budget;
3. writes ``bench/results/export_validate.{md,json}``.

    python bench/export_validate.py                     # after bench/search_budgets.py
    python bench/export_validate.py --runs runs/s150 runs/s300

Nothing else should run on the machine meanwhile: latency is measured.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import REPO, cpu_line, markdown_table
from tnas_pipeline.deploy.exporter import ExportRequest, export_run
from tnas_pipeline.deploy.validation import validate_run
from tnas_pipeline.io_utils import write_json_atomic, write_text_atomic


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", nargs="*", type=Path, help="run directories [default: the "
                    "searched runs in bench/out/search]")
    ap.add_argument("--rounds", type=int, default=5, help="fresh sessions per latency")
    ap.add_argument("--results", type=Path, default=REPO / "bench" / "results")
    args = ap.parse_args()
    runs = args.runs or sorted((REPO / "bench" / "out" / "search").glob("search-*"),
                               key=lambda p: (float(p.name.split("-")[1][:-2]), p.name))
    runs = [r for r in runs if (r / "weights.safetensors").is_file()]
    if not runs:
        sys.exit("error: no run directories; run bench/search_budgets.py first, or pass --runs")

    records = []
    for run in runs:
        rec = {"run": str(run)}
        for precision in ("fp32", "fp16"):
            manifest = export_run(ExportRequest(run=run, precision=precision), progress=False)
            set5 = manifest["parity"]["onnxruntime"]["Set5"]["onnxruntime"]
            report = validate_run(run, run / "export" / f"model-{precision}.onnx",
                                  rounds=args.rounds if precision == "fp32" else 1,
                                  progress=False)
            rec[precision] = {"export_set5": set5, "validate": {
                k: report[k] for k in ("psnr_y", "psnr_y_pytorch", "psnr_delta_db",
                                       "max_abs_diff", "latency_ms", "predicted_ms",
                                       "prediction_error", "host_drift", "budget_ms",
                                       "budget_use", "checks", "pass")}}
            print(f"{run.name} {precision}: {report['latency_ms']['median']:.1f} ms vs LUT "
                  f"{report['predicted_ms']:.1f} ms, pass={report['pass']}", flush=True)
        records.append(rec)

    rows = []
    for rec in records:
        for precision in ("fp32", "fp16"):
            v = rec[precision]["validate"]
            lat = v["latency_ms"]
            pred = v["predicted_ms"]
            drift = v["host_drift"]
            rows.append([
                Path(rec["run"]).name, precision,
                f"{v['budget_ms']:g}" if v["budget_ms"] else "–",
                f"{pred:.1f}" if pred else "–",
                f"{lat['median']:.1f} / {lat['now_ms']:.1f}",
                f"{v['prediction_error']:+.1%}" if v["prediction_error"] is not None else "–",
                f"{drift['ratio']:.2f}" if drift else "–",
                f"{v['psnr_y']['Set5']:.2f} / {v['psnr_y']['Set14']:.2f}",
                f"{v['psnr_delta_db']['Set5']:+.4f} / {v['psnr_delta_db']['Set14']:+.4f}",
                f"{v['max_abs_diff']:.1e}" if v["max_abs_diff"] is not None else "NaN/Inf",
                "pass" if v["pass"] else "FAIL"])
    date = dt.date.today().isoformat()
    cmd = "python bench/export_validate.py" + (
        " --runs " + " ".join(str(r) for r in args.runs) if args.runs else "")
    report = "\n".join([
        f"Exported ONNX validated with ONNX Runtime on the CPU: latency as a ratio to the "
        f"table's reference network timed interleaved in {args.rounds} fresh sessions at "
        f"1280×720 output with the table's thread count, in ms at the reference's time when "
        f"the table was measured (this CPU's table), then the same ratio at the reference's "
        f"time now; the prediction error is of the ratios (drift-free); PSNR-Y on Set5 / Set14 "
        f"and its difference from the PyTorch model; largest absolute output difference "
        f"(images in [0, 1]). Host drift: the reference now over at profiling (> 1: the host "
        f"is slower now). FP16 ONNX runs in ONNX Runtime's CPU provider, which has no FP16 "
        f"convolution and inserts casts to FP32, so its latency is not an FP16 device's. "
        f"{cpu_line()}; {date}.", f"Command: `{cmd}`.", "",
        markdown_table(["run", "precision", "budget (ms)", "LUT predicted (ms)",
                        "measured (ms): at profiled speed / now", "measured vs predicted",
                        "host drift",
                        "Set5 / Set14 PSNR", "PSNR difference from PyTorch", "max abs diff",
                        "validate"], rows)])
    args.results.mkdir(parents=True, exist_ok=True)
    write_text_atomic(args.results / "export_validate.md", report)
    write_json_atomic(args.results / "export_validate.json",
                      {"date": date, "cpu": cpu_line(), "command": cmd, "records": records})
    print(report)


if __name__ == "__main__":
    main()
