"""Benchmark: mixed-path search (Sparse Supernet, folded) against single-path sparsestmax.

At one budget on the CPU, with the same data and minutes:

1. ``search --relaxation sparsestmax`` on the shipped CPU table (the trilevel single-path
   search), and ``search --relaxation sparse-group-lasso`` on the shipped table of the mixed
   space (``profile --space mixed``);
2. exports both to ONNX (the mixed-path network folded into one conv per kept edge) and runs
   ``validate`` on each: PSNR on Set5 and Set14 ×2, the static ONNX's latency against the
   table's prediction of the folded network, and the budget;
3. times both again in interleaved passes (a fresh ONNX Runtime session each), so that the host's
   drift falls on both alike;
4. writes ``bench/results/mixed_path.{md,json}``, and the mixed-path search's α trajectory
   to ``bench/results/mixed_path_alpha.png``.

    python bench/mixed_path.py --budget 250 --minutes 4

The mixed table must have been measured on this CPU:
``tnas-pipeline profile --device cpu --space mixed --threads 1 -o
hardware_profiles/cpu-2core-ort-fp32-x2-1280x720-mixed.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import REPO, data_folder, machine, markdown_table
from bench.search_budgets import measure_ms, searched_and_validated
from tnas_pipeline.io_utils import write_json_atomic, write_text_atomic
from tnas_pipeline.latency.devices import cpu_mismatch
from tnas_pipeline.latency.resolve import resolve_profile
from tnas_pipeline.nas.config import SearchConfig
from tnas_pipeline.networks.reparam import REP_OPS
from tnas_pipeline.run_dir import RunDir


def branch_counts(arch: dict) -> str:
    """How many kept edges keep one, two or three branches."""
    n = [len(REP_OPS[op["op"]]) for cell in arch["cells"] for op in cell["ops"]]
    return " / ".join(str(n.count(k)) for k in (1, 2, 3))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--budget", type=float, default=250.0)
    ap.add_argument("--minutes", type=float, default=4.0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=5, help="interleaved timing passes")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--reuse", action="store_true", help="reuse finished runs in --out")
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "out" / "mixed_path")
    ap.add_argument("--results", type=Path, default=REPO / "bench" / "results")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    tables = {"sparsestmax": resolve_profile("cpu"),
              "sparse-group-lasso": resolve_profile("cpu", 2, space="mixed")}
    for table in tables.values():
        if why := cpu_mismatch(table.data.get("device", {})):
            sys.exit(f"error: {table.path}: {why}; profile this CPU first (see --help)")
    train_sets = [n for n in ("T91", "BSD200") if data_folder(n)]
    train_data = [str(data_folder(n)) for n in train_sets]
    eval_sets = [data_folder("Set5"), data_folder("Set14")]

    records = []
    for relaxation, lut in tables.items():
        run = args.out / relaxation
        cfg = SearchConfig(budget_ms=args.budget, lut=str(lut.path), relaxation=relaxation,
                           train_data=train_data, val_data=[str(eval_sets[0])],
                           minutes=args.minutes, seed=args.seed, threads=args.threads)
        rec = searched_and_validated(cfg, lut, run, args.reuse, eval_sets)
        result = rec.pop("result")
        records.append({**rec, "relaxation": relaxation,
                        "derived_ms": result["derived_predicted_ms"],
                        "fit_moves": result["fit_moves"]})
    measured = measure_ms({r["relaxation"]: RunDir(r["run"]).load_model()[1] for r in records},
                          tables["sparsestmax"], repeats=10, rounds=args.rounds)

    date = dt.date.today().isoformat()
    rows = []
    for r in records:
        s, v, m = r["summary"], r["validate"], measured[r["relaxation"]]
        kept = (branch_counts(r["arch"]) if r["relaxation"] == "sparse-group-lasso" else "–")
        moves = r["fit_moves"]
        cuts = sum(" cut " in m or m.startswith("cut") for m in moves)
        fit = (f"{r['derived_ms']:.1f} → {s['predicted_ms']:.1f} "
               f"({cuts} cut, {len(moves) - cuts} added)" if r["relaxation"] ==
               "sparse-group-lasso" else f"{r['derived_ms']:.1f} → {s['predicted_ms']:.1f}")
        rows.append([r["relaxation"], str(s["cells"]), kept, f"{s['params']:,}", fit,
                     f"{v['latency_ms']['median']:.1f}",
                     f"{m['median_ms']:.1f} ({m['min_round_ms']:.0f}–{m['max_round_ms']:.0f})",
                     f"{r['scores']['Set5']['psnr_y']:.2f}",
                     f"{r['scores']['Set14']['psnr_y']:.2f}",
                     "PASS" if v["pass"] else "FAIL"])
    cmd = f"python bench/mixed_path.py --budget {args.budget:g} --minutes {args.minutes:g}"
    report = "\n".join([
        f"Mixed-path (sparse group lasso, folded) against single-path (sparsestmax) search at "
        f"{args.budget:g} ms, x2, {args.minutes:g} min of search + fine-tuning each on "
        f"{' + '.join(train_sets)}, {args.threads} PyTorch threads; latency: ONNX Runtime CPU, "
        f"1 thread, 1280×720 output, static ONNX; {machine()}; {date}.",
        f"Command: `{cmd}`.", "",
        markdown_table(["relaxation", "cells", "edges keeping 1 / 2 / 3 branches",
                        "params (deployed, folded)", "LUT predicted: derived → fitted (ms)",
                        "validate measured (ms)",
                        f"interleaved, {args.rounds} passes (ms)", "Set5 PSNR", "Set14 PSNR",
                        "validate"], rows)])
    args.results.mkdir(parents=True, exist_ok=True)
    write_text_atomic(args.results / "mixed_path.md", report)
    # The picture of α and of the kept latency over the mixed-path search (README).
    shutil.copyfile(args.out / "sparse-group-lasso" / "search" / "trajectories.png",
                    args.results / "mixed_path_alpha.png")
    write_json_atomic(args.results / "mixed_path.json", {
        "date": date, "machine": machine(), "command": cmd, "budget_ms": args.budget,
        "minutes": args.minutes, "records": records, "measured": measured})
    print(report)


if __name__ == "__main__":
    main()
