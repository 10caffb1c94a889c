"""Benchmark: the README's main command, timed, as a user on a fresh clone runs it.

Runs ``tnas-pipeline run`` with its defaults (250 ms on the shipped CPU table, 10 minutes of
search and fine-tuning on the bundled T91, ONNX export, validation on this CPU) into
``bench/out/main``, and writes the wall time and the validated result to
``bench/results/main_job.{md,json}``. The issue's limit is 15 minutes on 2 CPU cores.

    python bench/main_job.py
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import REPO, machine, markdown_table
from pipeline.io_utils import write_json_atomic, write_text_atomic


def main() -> None:
    out = REPO / "bench" / "out" / "main"
    cmd = [str(Path(sys.executable).parent / "tnas-pipeline"), "run", "-o", str(out),
           "--overwrite", "--json", "--no-progress"]
    t0 = time.monotonic()
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    wall = time.monotonic() - t0
    if proc.returncode not in (0, 1):  # 1 is a validation FAIL, still a result
        sys.exit(f"error: tnas-pipeline run failed:\n{proc.stderr}")
    s = json.loads(proc.stdout)
    lat = s["latency_ms"]
    drift = json.loads((out / "validation" / "model-fp32.onnx.json").read_text())["host_drift"]
    date = dt.date.today().isoformat()
    rows = [["wall time (whole command)", f"{wall / 60:.1f} min (limit 15)"],
            ["searched network", f"{s['arch']}"],
            ["budget / LUT predicted", f"{s['budget_ms']:g} ms / {s['predicted_ms']:.1f} ms"],
            ["measured (ONNX Runtime, 1 thread)", f"{lat['median']:.1f} ms median, "
                                                  f"{lat['p90']:.1f} ms p90"],
            ["host drift (table's reference network)",
             f"{drift['ratio']:.2f}x → {drift['adjusted_ms']:.1f} ms on the host as profiled"
             if drift else "–"],
            ["Set5 / Set14 x2 PSNR-Y", " / ".join(f"{v:.2f}" for v in s["psnr_y"].values())],
            ["ONNX vs PyTorch", f"max abs diff {s['max_abs_diff']:.1e}"],
            ["validate", "PASS" if s["pass"] else "FAIL"]]
    report = "\n".join([
        f"The README's main command (`tnas-pipeline run`, defaults) on {machine()}; {date}.",
        "Command: `python bench/main_job.py`.", "",
        markdown_table(["", "result"], rows)])
    (REPO / "bench" / "results").mkdir(parents=True, exist_ok=True)
    write_text_atomic(REPO / "bench" / "results" / "main_job.md", report)
    write_json_atomic(REPO / "bench" / "results" / "main_job.json",
                      {"date": date, "machine": machine(), "wall_seconds": wall, "summary": s})
    print(report)


if __name__ == "__main__":
    main()
