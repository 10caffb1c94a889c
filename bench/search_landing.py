"""Benchmark: where the search itself lands, before any fit.

For every budget × seed, the supernet phase of ``search`` alone (no fit, no fine-tuning) on the
arena's data (T91 + BSD200 less the validation split), on the shipped CPU table of this machine;
then the table's model prediction of the network it derives, as a fraction of the budget. The
search should land in [0.85, 1.0] × budget in at least 80 % of runs (issue 16); the fit should
only trim. Also recorded per run: whether the last architecture weights were one-hot (the network
derived is the one the supernet trained last), λ, and the expected latency over the search.

Each run is one entry of ``bench/out/search_landing/state.json``: the bench resumes where it was
stopped, and a run's record keeps the configuration it ran with (``--tag`` separates variants).

    python bench/search_landing.py --budgets 80 200 400 --seeds 0 1 2 --search-iters 400
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import REPO, cpu_line, load_state, markdown_table, save_state
from tnas_pipeline.io_utils import write_json_atomic, write_text_atomic

OUT = REPO / "bench" / "out" / "search_landing"
RESULTS = REPO / "bench" / "results"
WINDOW = (0.85, 1.0)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--budgets", type=float, nargs="+", default=[80.0, 200.0, 400.0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--search-iters", type=int, default=400,
                    help="supernet steps per run (the arena's search share of 1,000 steps)")
    ap.add_argument("--relaxation", default="sparsestmax")
    ap.add_argument("--penalty", default=None, help="default: the search's default")
    ap.add_argument("--tag", default="default", help="name of this variant in the results")
    ap.add_argument("--threads", type=int, default=2)
    return ap.parse_args(argv)


def run_config(budget: float, seed: int, args: argparse.Namespace, lut, data):
    """The search configuration of one run (iters × search_fraction = search_iters: the supernet
    phase of a run of that length)."""
    from tnas_pipeline.nas.config import SearchConfig

    extra = {"penalty": args.penalty} if args.penalty else {}
    return SearchConfig(budget_ms=budget, lut=str(lut.path), scale=2, train_data=data["train"],
                        val_data=data["val"], iters=round(args.search_iters / 0.4),
                        search_fraction=0.4, seed=seed, relaxation=args.relaxation,
                        val_every=10**9, threads=args.threads, **extra)


def one_run(budget: float, seed: int, args: argparse.Namespace, lut, data) -> dict[str, Any]:
    import shutil

    from tnas_pipeline.nas.searcher import Searcher

    cfg = run_config(budget, seed, args, lut, data)
    run = OUT / args.tag / f"{budget:g}ms-s{seed}"
    shutil.rmtree(run, ignore_errors=True)  # a run of another configuration
    searcher = Searcher(cfg, lut, run, progress=True)
    derived = searcher.search()
    pred = searcher.predict_choice(derived)
    w = searcher.relaxed()
    one_hot = all(bool(((t > 0).sum(-1) <= 1).all()) for t in (w.depth, w.upsampler))
    one_hot &= bool(((w.ops > 0).sum(-1) <= 1).all())
    traj = [(p["iteration"], round(p["latency_ms"], 2), round(p["lam"], 3),
             round(p["radius"], 3)) for p in searcher.trajectory.points]
    arch = derived.architecture(searcher.space)
    return {"budget_ms": budget, "seed": seed, "derived_predicted_ms": pred,
            "fraction": pred / budget, "in_window": WINDOW[0] <= pred / budget <= WINDOW[1],
            "one_hot_at_end": one_hot, "lam": searcher.penalty.lam,
            "target_ms": searcher.target_ms, "radius_end": searcher.radius(),
            "cells": derived.depth, "frozen_at": searcher.frozen_at, "arch": arch.to_dict(),
            "trajectory": traj,
            "config": cfg.to_dict(), "seconds": round(searcher.seconds, 1)}


def report(state: dict[str, Any], tag: str) -> str:
    runs = [r for r in state.get(tag, {}).values()]
    rows = [[f"{r['budget_ms']:g}", str(r["seed"]), f"{r['derived_predicted_ms']:.1f}",
             f"{r['fraction']:.3f}", "yes" if r["in_window"] else "no", str(r["cells"]),
             "yes" if r["one_hot_at_end"] else "no", str(r.get("frozen_at") or "never"),
             f"{r['lam']:.2f}", f"{r['seconds']:.0f}"]
            for r in sorted(runs, key=lambda r: (r["budget_ms"], r["seed"]))]
    hit = sum(r["in_window"] for r in runs)
    fr = [r["fraction"] for r in runs]
    share = 100 * hit / max(len(runs), 1)
    lines = [f"Search landing ({tag}): {len(runs)} runs, {hit} ({share:.0f} %)"
             f" derive a network the table predicts in [{WINDOW[0]}, {WINDOW[1]}] × budget before"
             f" any fit; prediction / budget {statistics.mean(fr):.3f} ± "
             f"{statistics.pstdev(fr):.3f} (mean ± sd)." if runs else "no runs", "",
             f"Machine: {cpu_line()}.", "",
             markdown_table(["budget ms", "seed", "derived predicted ms", "× budget",
                             "in window", "cells", "one-hot at end", "frozen at step", "λ at end",
                             "search s"],
                            rows)]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    from bench.arena import arena_data
    from tnas_pipeline.latency.resolve import resolve_profile

    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    lut = resolve_profile("cpu", 2, "default")
    data = arena_data(REPO / "bench" / "out" / "arena")
    state_path = OUT / "state.json"
    state = load_state(state_path)
    runs = state.setdefault(args.tag, {})
    for budget in args.budgets:
        for seed in args.seeds:
            key = f"{args.search_iters}it/{budget:g}/{seed}"
            # A run is kept only while the search's configuration (its defaults included) is
            # the one it ran with.
            if key in runs and runs[key]["config"] == run_config(budget, seed, args, lut,
                                                                   data).to_dict():
                continue
            rec = one_run(budget, seed, args, lut, data)
            runs[key] = rec
            save_state(state_path, state)
            print(f"{key}: derived {rec['derived_predicted_ms']:.1f} ms = "
                  f"{rec['fraction']:.3f} × budget, one-hot {rec['one_hot_at_end']}, "
                  f"λ {rec['lam']:.2f}", file=sys.stderr)
    text = report(state, args.tag)
    state["date"] = dt.date.today().isoformat()
    write_json_atomic(RESULTS / f"search_landing_{args.tag}.json", state[args.tag])
    write_text_atomic(RESULTS / f"search_landing_{args.tag}.md", text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
