"""Benchmark: searched networks at several latency budgets against the baselines, side by side.

On a CPU latency table measured here (ONNX Runtime, 1 intra-op thread, 1280×720 output; the
shipped ×2 one by default, ``--lut cpu-x4`` for the shipped ×4 one), at the table's scale:

1. measures every registered baseline's latency with the profile's runtime and protocol;
2. trains, for the same ``--minutes`` on the same data (T91 + BSD200, 2 PyTorch threads), every
   baseline that fits at least one budget, and runs ``search`` (search + fit + fine-tune, the
   same minutes in total) at every budget;
3. the ablation: ``--relaxation softmax`` (DARTS) at ``--ablation-budget``, against the
   sparsestmax run at that budget (``--ablation-budget 0``: none);
4. scores Set5 and Set14 (PSNR/SSIM on Y), measures every network's ONNX Runtime latency at
   the end (no training running meanwhile) and compares it with the LUT's prediction;
5. writes ``bench/results/search_budgets{,_x4}.{md,json}`` and ``search_pareto{,_x4}.png``,
   with the wall time of every training and search.

    python bench/search_budgets.py --budgets 100 250 500 1000 --minutes 4
    python bench/search_budgets.py --lut cpu-x4 --budgets 30 60 --ablation-budget 0 --minutes 4

The latency table must have been measured on this machine's CPU (the script refuses otherwise):
``python bench/lut_fidelity.py --threads 1 --ship`` profiles it and checks it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import REPO, cpu_line, data_folder, machine, markdown_table
from tnas_pipeline.evaluation import evaluate_folders
from tnas_pipeline.inference import load_upscaler
from tnas_pipeline.io_utils import write_json_atomic, write_text_atomic
from tnas_pipeline.latency.backends.base import get_backend
from tnas_pipeline.latency.devices import cpu_mismatch
from tnas_pipeline.latency.resolve import resolve_profile
from tnas_pipeline.nas.config import SearchConfig
from tnas_pipeline.nas.run import run_search
from tnas_pipeline.networks import BASELINES, baseline_architecture, build_network
from tnas_pipeline.networks.complexity import lr_size
from tnas_pipeline.run_dir import RunDir
from tnas_pipeline.training.config import TrainConfig
from tnas_pipeline.training.trainer import train


def measure_ms(models: dict[str, torch.nn.Module], lut, repeats: int,
               rounds: int) -> dict[str, dict[str, float]]:
    """Latency with the table's runtime and threads, as the product measures it: each model a
    ratio to the table's reference network, timed interleaved in ``rounds`` fresh sessions
    (:func:`tnas_pipeline.latency.measure.measure_module`), converted with the reference's time when
    the table was measured (this CPU's table: the host's drift since cancels). Per model: that
    median, and the spread of its session ratios in ms. ``repeats`` caps the pairs per
    session."""
    from dataclasses import replace

    from tnas_pipeline.latency.measure import NETWORK_PROTOCOL, Reference, measure_module

    backend = get_backend("ort", threads=lut.data["runtime"].get("threads"))
    w, h = lr_size(lut.output_size, lut.data["scale"])
    reference = Reference(backend, lut.reference_arch, lut.output_size)
    protocol = replace(NETWORK_PROTOCOL, runs=rounds, max_pairs=max(repeats, 6))
    out = {}
    for name, model in models.items():
        stats = measure_module(backend, model.eval(), (1, 3, h, w), reference, protocol)
        ms = lut.profiled_reference_ms
        out[name] = {"median_ms": stats.ratio * ms, "ratio": stats.ratio,
                     "min_round_ms": min(r.ratio for r in stats.runs) * ms,
                     "max_round_ms": max(r.ratio for r in stats.runs) * ms,
                     "rounds": len(stats.runs)}
    return out


def scores(run: Path, eval_sets: list[Path]) -> dict[str, dict[str, float]]:
    result = evaluate_folders(load_upscaler(run), eval_sets)
    return {name: {k: s[k] for k in ("psnr_y", "ssim_y")} for name, s in result["sets"].items()}


def searched_and_validated(cfg: SearchConfig, lut, run: Path, reuse: bool,
                           eval_sets: list[Path]) -> dict:
    """Search into ``run`` (unless ``reuse`` and it finished), export it, ``validate`` it and
    score it on ``eval_sets``: the record the side-by-side benches tabulate."""
    from tnas_pipeline.deploy.exporter import ExportRequest, export_run
    from tnas_pipeline.deploy.validation import validate_run

    wall = None
    if not (reuse and (run / "search.json").is_file()):
        t0 = time.monotonic()
        run_search(cfg, lut, run, overwrite=True, argv=sys.argv)
        wall = time.monotonic() - t0
    export_run(ExportRequest(run=run), argv=sys.argv, progress=False)
    report = validate_run(run, argv=sys.argv, progress=False)
    return {"run": str(run), "lut": str(lut.path), "wall_seconds": wall,
            "summary": json.loads((run / "search.json").read_text()),
            "result": json.loads((run / "search" / "result.json").read_text()),
            "arch": json.loads((run / "arch.json").read_text()),
            "validate": report, "scores": scores(run, eval_sets)}


def pareto(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Points not beaten by any other (lower latency and higher PSNR), by latency."""
    front, best = [], -1.0
    for lat, psnr in sorted(points):
        if psnr > best:
            front.append((lat, psnr))
            best = psnr
    return front


def plot(records: list[dict], bicubic: dict, budgets: list[float], scale: int,
         path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5), constrained_layout=True)
    for ax, name in zip(axes, ("Set5", "Set14"), strict=True):
        pts = []
        for r in records:
            lat, psnr = r["measured"]["median_ms"], r["scores"][name]["psnr_y"]
            pts.append((lat, psnr))
            marker = "o" if r["kind"] == "searched" else "s"
            ax.scatter(lat, psnr, marker=marker, zorder=3,
                       color="tab:blue" if r["kind"] == "searched" else "tab:gray")
            ax.annotate(r["label"], (lat, psnr), fontsize=7, xytext=(4, 3),
                        textcoords="offset points")
        front = pareto(pts)
        ax.plot([p[0] for p in front], [p[1] for p in front], "--", color="tab:blue", lw=1,
                label="Pareto front")
        ax.axhline(bicubic[name], color="tab:red", lw=0.8, label="bicubic")
        for b in budgets:
            ax.axvline(b, color="k", lw=0.5, ls=":")
        ax.set_xlabel("measured latency, ONNX Runtime CPU 1 thread, 1280×720 (ms)")
        ax.set_ylabel(f"{name} ×{scale} PSNR-Y (dB)")
        ax.legend(fontsize=8)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--lut", default="cpu",
                    help="latency table: cpu, cpu-x4 (shipped) or a FILE [default: cpu, x2]")
    ap.add_argument("--budgets", type=float, nargs="+", default=[100.0, 250.0, 500.0, 1000.0])
    ap.add_argument("--ablation-budget", type=float, default=250.0, help="0: no ablation")
    ap.add_argument("--minutes", type=float, default=6.0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=10, help="timed runs per session")
    ap.add_argument("--rounds", type=int, default=5,
                    help="passes over all models, a fresh session each")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--reuse", action="store_true",
                    help="reuse finished runs in --out instead of training them again")
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "out" / "search")
    ap.add_argument("--results", type=Path, default=REPO / "bench" / "results")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    lut = (resolve_profile("cpu", int(args.lut[5:]) if args.lut.startswith("cpu-x") else 2,
                           bring_up="profile")
           if args.lut == "cpu" or args.lut.startswith("cpu-x") else resolve_profile(args.lut))
    scale = int(lut.data["scale"])
    suffix = "" if scale == 2 else f"_x{scale}"
    mismatch = cpu_mismatch(lut.data.get("device", {}))
    if mismatch:
        sys.exit(f"error: {mismatch} (python bench/lut_fidelity.py --threads 1 --ship does it "
                 "and checks the table), or pass --lut FILE measured here")
    train_sets = [n for n in ("T91", "BSD200") if data_folder(n)]
    if "BSD200" not in train_sets:
        print("note: ../shared/data/BSD200 not found; training on T91 only", file=sys.stderr)
    train_data = [str(data_folder(n)) for n in train_sets]
    eval_sets = [data_folder("Set5"), data_folder("Set14")]
    budgets = sorted(args.budgets)

    # 1. Baseline latencies decide which baselines are trained.
    base_lat = measure_ms({name: build_network(baseline_architecture(name, scale))
                           for name in BASELINES.names()}, lut, args.repeats, rounds=1)
    for name, m in base_lat.items():
        print(f"{name}: {m['median_ms']:.1f} ms", flush=True)
    fitting = [n for n in BASELINES.names() if base_lat[n]["median_ms"] <= max(budgets)]

    # 2. Training: baselines, then a search per budget, then the ablation.
    runs = []
    for name in fitting:
        run = args.out / f"baseline-{name}{suffix}"
        wall = None  # the wall time of the whole `train`, when it ran here
        if not (args.reuse and RunDir(run).weights.is_file()):
            shutil.rmtree(run, ignore_errors=True)
            cfg = TrainConfig(arch_source=name, scale=scale, train_data=train_data,
                              val_data=[str(eval_sets[0])], minutes=args.minutes, val_every=1000,
                              seed=args.seed, threads=args.threads)
            t0 = time.monotonic()
            train(baseline_architecture(name, scale), cfg, run, argv=sys.argv)
            wall = time.monotonic() - t0
        runs.append({"kind": "baseline", "label": name, "run": run, "relaxation": None,
                     "budget_ms": None, "wall_seconds": wall})
    jobs = [(b, "sparsestmax") for b in budgets]
    if args.ablation_budget > 0:
        jobs.append((args.ablation_budget, "softmax"))
    for budget, relaxation in jobs:
        run = args.out / f"search-{budget:g}ms-{relaxation}{suffix}"
        wall = None  # the wall time of the whole search (search, fit, fine-tune, scoring)
        if not (args.reuse and (run / "search.json").is_file()):
            cfg = SearchConfig(budget_ms=budget, lut=str(lut.path), scale=scale,
                               relaxation=relaxation, train_data=train_data,
                               val_data=[str(eval_sets[0])], minutes=args.minutes,
                               seed=args.seed, threads=args.threads)
            t0 = time.monotonic()
            run_search(cfg, lut, run, overwrite=True, argv=sys.argv)
            wall = time.monotonic() - t0
        runs.append({"kind": "searched", "label": f"{budget:g} ms {relaxation}", "run": run,
                     "relaxation": relaxation, "budget_ms": budget, "wall_seconds": wall})

    # 3. Scores, then latencies (nothing else running).
    records = []
    for r in runs:
        rec = {k: (str(v) if isinstance(v, Path) else v) for k, v in r.items()}
        rec["scores"] = scores(r["run"], eval_sets)
        metrics = RunDir(r["run"]).read_json(RunDir(r["run"]).metrics)
        rec["params"], rec["mult_adds"] = metrics["params"], metrics["mult_adds"]
        rec["train_seconds"], rec["iterations"] = metrics["train_seconds"], metrics["iterations"]
        if r["kind"] == "searched":
            s = RunDir(r["run"]).read_json(r["run"] / "search.json")
            rec.update(predicted_ms=s["predicted_ms"], cells=s["cells"],
                       search_seconds=s["search_seconds"], finetune_seconds=s["finetune_seconds"],
                       search_iterations=s["search_iterations"],
                       finetune_iterations=s["finetune_iterations"],
                       derived_predicted_ms=s["derived_predicted_ms"])
        records.append(rec)
    models = {rec["label"]: RunDir(rec["run"]).load_model()[1] for rec in records}
    measured = measure_ms(models, lut, args.repeats, args.rounds)
    for rec in records:
        rec["measured"] = measured[rec["label"]]
        print(f"{rec['label']}: {rec['measured']['median_ms']:.1f} ms", flush=True)
    bicubic_res = evaluate_folders(load_upscaler(None, bicubic=True, scale=scale), eval_sets)
    bicubic = {n: s["psnr_y"] for n, s in bicubic_res["sets"].items()}

    # 4. Report.
    date = dt.date.today().isoformat()
    rows = []
    for rec in records:
        m = rec["measured"]["median_ms"]
        s5, s14 = rec["scores"]["Set5"], rec["scores"]["Set14"]
        pred = rec.get("predicted_ms")
        ratio = f"{m / rec['budget_ms']:.2f}" if rec["budget_ms"] else "–"
        spread = f"{rec['measured']['min_round_ms']:.0f}–{rec['measured']['max_round_ms']:.0f}"
        rows.append([rec["label"], f"{rec['params']:,}", f"{rec['mult_adds'] / 1e9:.2f}",
                     f"{pred:.1f}" if pred else "–", f"{m:.1f} ({spread})", ratio,
                     f"{s5['psnr_y']:.2f} / {s5['ssim_y']:.4f}",
                     f"{s14['psnr_y']:.2f} / {s14['ssim_y']:.4f}"])
    margins = []
    for budget in budgets:
        searched = next(r for r in records if r["budget_ms"] == budget
                        and r["relaxation"] == "sparsestmax")
        inside = [r for r in records if r["kind"] == "baseline"
                  and r["measured"]["median_ms"] <= budget]
        meas = searched["measured"]["median_ms"]
        line = {"budget_ms": budget, "measured_ms": meas, "ratio": meas / budget,
                "in_085_100": 0.85 * budget <= meas <= budget, "baselines": {}}
        for b in inside:
            line["baselines"][b["label"]] = {
                n: searched["scores"][n]["psnr_y"] - b["scores"][n]["psnr_y"]
                for n in ("Set5", "Set14")}
        margins.append(line)
    margin_rows = []
    for m in margins:
        versus = "; ".join(f"vs {b}: {d['Set5']:+.2f} / {d['Set14']:+.2f} dB"
                           for b, d in m["baselines"].items()) or "no baseline fits"
        margin_rows.append([f"{m['budget_ms']:g}", f"{m['measured_ms']:.1f}",
                            f"{m['ratio']:.2f}", "yes" if m["in_085_100"] else "NO", versus])
    abl = [r for r in records if args.ablation_budget > 0
           and r["budget_ms"] == args.ablation_budget and r["kind"] == "searched"]
    abl_rows = [[r["relaxation"], f"{r['predicted_ms']:.1f}", f"{r['derived_predicted_ms']:.1f}",
                 f"{r['measured']['median_ms']:.1f}",
                 f"{(r['measured']['median_ms'] / args.ablation_budget - 1) * 100:+.1f} %",
                 f"{r['scores']['Set5']['psnr_y']:.2f}", f"{r['scores']['Set14']['psnr_y']:.2f}"]
                for r in abl]
    wall_rows = []
    for r in records:
        steps = (f"{r['search_iterations']:,} + {r['finetune_iterations']:,}"
                 if r["kind"] == "searched" else f"{r['iterations']:,}")
        phases = (f"{r['search_seconds']:.0f} + {r['finetune_seconds']:.0f}"
                  if r["kind"] == "searched" else f"{r['train_seconds']:.0f}")
        whole = f"{r['wall_seconds']:.0f}" if r["wall_seconds"] is not None else "– (reused)"
        wall_rows.append([r["label"], steps, phases, whole])
    cmd = ("python bench/search_budgets.py"
           + (f" --lut {args.lut}" if args.lut != "cpu" else "")
           + f" --budgets {' '.join(f'{b:g}' for b in budgets)} "
           f"--ablation-budget {args.ablation_budget:g} --minutes {args.minutes:g}"
           + (" --reuse" if args.reuse else ""))
    report = "\n".join([
        f"Searched networks against baselines, x{scale}, {args.minutes:g} min of training each "
        f"(search + fine-tune for searched networks) on {' + '.join(train_sets)}, "
        f"{args.threads} PyTorch threads; latency: ONNX Runtime CPU, "
        f"{lut.data['runtime'].get('threads')} thread, 1280×720 output, each model a ratio to the "
        f"table's reference network timed interleaved in {args.rounds} fresh sessions of up to "
        f"{args.repeats} pairs, in ms at the reference's time when the table was measured "
        f"(spread of the sessions in brackets); {cpu_line()}; {date}.",
        f"Command: `{cmd}`. Bicubic: Set5 {bicubic['Set5']:.2f}, Set14 {bicubic['Set14']:.2f}.",
        "", markdown_table(["model", "params", "Mult-Adds (G)", "LUT predicted (ms)",
                            "measured (ms)", "measured / budget", "Set5 PSNR / SSIM",
                            "Set14 PSNR / SSIM"], rows),
        "Per budget (searched, sparsestmax): measured latency and PSNR margin (Set5 / Set14) over "
        "every baseline whose measured latency fits the budget.", "",
        markdown_table(["budget (ms)", "measured (ms)", "measured / budget", "in [0.85, 1.0]",
                        "margins"], margin_rows),
        *([f"Ablation at {args.ablation_budget:g} ms: relaxation, LUT prediction after the fit "
           "and of the network as derived (before the fit), measured latency, distance from the "
           "budget, PSNR.", "",
           markdown_table(["relaxation", "predicted after fit (ms)", "predicted as derived (ms)",
                           "measured (ms)", "measured vs budget", "Set5", "Set14"], abl_rows)]
          if abl_rows else []),
        "Wall time: training steps (searched: supernet search + fine-tuning), the seconds of "
        "those steps (the `--minutes` budget), and the whole command (data loading, the "
        "derivation and latency fit, validation and checkpoints included).", "",
        markdown_table(["model", "steps", "step time (s)", "whole command (s)"], wall_rows),
    ])
    args.results.mkdir(parents=True, exist_ok=True)
    write_text_atomic(args.results / f"search_budgets{suffix}.md", report)
    write_json_atomic(args.results / f"search_budgets{suffix}.json", {
        "date": date, "machine": machine(), "command": cmd, "minutes": args.minutes,
        "scale": scale, "threads": args.threads, "train_sets": train_sets,
        "lut": str(lut.path), "bicubic": bicubic, "records": records, "margins": margins})
    plot(records, bicubic, budgets, scale, args.results / f"search_pareto{suffix}.png")
    print(report)


if __name__ == "__main__":
    main()
