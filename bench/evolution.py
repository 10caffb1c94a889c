"""Benchmark: search-space evolution over a pool twice the supernet's size, against one round
on the fixed space, with the same total minutes.

On the shipped CPU table of the op pool (``profile --space pool``: the default space's 4 ops
and 4 more), at one budget:

1. ``fixed``: one round on the default space's 4 ops (``--ops``), the ordinary search;
2. ``evolution (weight)`` and ``evolution (ABS)``: ``--evolve-rounds R`` over the 8 ops,
   4 active, 2 replaced per round, ranked by cell-level weight or by ABS angle;

each with the same minutes of search and fine-tuning on the same data. Then, as the other
benchmarks: export, ``validate`` (PSNR on Set5 and Set14, latency against the prediction and
the budget), interleaved timing passes. Writes ``bench/results/evolution.{md,json}`` with every
round's subset, ranking and Pareto front.

    python bench/evolution.py --budget 250 --minutes 4 --rounds 3
"""

from __future__ import annotations

import argparse
import datetime as dt
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
from tnas_pipeline.run_dir import RunDir
from tnas_pipeline.search_space import DEFAULT_SPACE


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--budget", type=float, default=250.0)
    ap.add_argument("--minutes", type=float, default=4.0)
    ap.add_argument("--rounds", type=int, default=3, help="evolution rounds")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--passes", type=int, default=5, help="interleaved timing passes")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--reuse", action="store_true", help="reuse finished runs in --out")
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "out" / "evolution")
    ap.add_argument("--results", type=Path, default=REPO / "bench" / "results")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    lut = resolve_profile("cpu", 2, space="pool")
    if why := cpu_mismatch(lut.data.get("device", {})):
        sys.exit(f"error: {lut.path}: {why}; tnas-pipeline profile --device cpu --space pool "
                 "--threads 1 first")
    train_data = [str(data_folder(n)) for n in ("T91", "BSD200") if data_folder(n)]
    eval_sets = [data_folder("Set5"), data_folder("Set14")]
    variants = {
        "fixed space, one round": {"ops": list(DEFAULT_SPACE.ops)},
        "evolution, weight": {"evolve_rounds": args.rounds, "evolve_criterion": "weight"},
        "evolution, ABS": {"evolve_rounds": args.rounds, "evolve_criterion": "abs"},
    }
    records = []
    for label, extra in variants.items():
        run = args.out / label.replace(", ", "-").replace(" ", "_")
        cfg = SearchConfig(budget_ms=args.budget, lut=str(lut.path), train_data=train_data,
                           val_data=[str(eval_sets[0])], minutes=args.minutes,
                           seed=args.seed, threads=args.threads, **extra)
        rec = searched_and_validated(cfg, lut, run, args.reuse, eval_sets)
        result = rec.pop("result")
        records.append({**rec, "label": label, "evolution": result.get("evolution")})
    measured = measure_ms({r["label"]: RunDir(r["run"]).load_model()[1] for r in records}, lut,
                          repeats=10, rounds=args.passes)

    date = dt.date.today().isoformat()
    rows, round_rows = [], []
    for r in records:
        s, v, m = r["summary"], r["validate"], measured[r["label"]]
        rows.append([r["label"], str(s["cells"]), f"{s['params']:,}", f"{s['predicted_ms']:.1f}",
                     f"{m['median_ms']:.1f} ({m['min_round_ms']:.0f}–{m['max_round_ms']:.0f})",
                     f"{r['scores']['Set5']['psnr_y']:.2f}",
                     f"{r['scores']['Set14']['psnr_y']:.2f}", "PASS" if v["pass"] else "FAIL"])
        for rnd in r["evolution"] or []:
            front = ", ".join(f"{p['predicted_ms']:.0f} ms {p['psnr_y']:.2f}"
                              for p in rnd["pareto_front"])
            round_rows.append([r["label"], str(rnd["round"] + 1), ", ".join(rnd["active"]),
                               ", ".join(rnd.get("dropped", [])) or "–", front])
    cmd = (f"python bench/evolution.py --budget {args.budget:g} --minutes {args.minutes:g} "
           f"--rounds {args.rounds}")
    report = "\n".join([
        f"Search-space evolution over the 8-op pool against one round on the default 4 ops, "
        f"{args.budget:g} ms, x2, {args.minutes:g} min of search + fine-tuning each; latency: "
        f"ONNX Runtime CPU, 1 thread, 1280×720 output; {machine()}; {date}.",
        f"Command: `{cmd}`.", "",
        markdown_table(["search", "cells", "params", "LUT predicted (ms)",
                        f"measured, {args.passes} passes (ms)", "Set5 PSNR", "Set14 PSNR",
                        "validate"], rows),
        "Rounds: the ops each searched, those it dropped, and its Pareto front (sampled "
        "sub-networks with the shared weights: predicted latency, Set5 PSNR).", "",
        markdown_table(["search", "round", "active ops", "dropped", "Pareto front"],
                       round_rows)])
    args.results.mkdir(parents=True, exist_ok=True)
    write_text_atomic(args.results / "evolution.md", report)
    write_json_atomic(args.results / "evolution.json", {
        "date": date, "machine": machine(), "command": cmd, "budget_ms": args.budget,
        "minutes": args.minutes, "records": records, "measured": measured})
    print(report)


if __name__ == "__main__":
    main()
