"""The arena's results: ``arena.json`` (the schema of issue 15), a Markdown report of mean ± std
per family and budget with the margins of the search over paired seeds, and a Pareto plot of
PSNR against measured latency.

A margin is the search's PSNR minus the other family's, seed by seed (the same seed draws the
same patches and, for the searched families, the same random draw); it is reported as mean ±
sample standard deviation over the seeds and called a win or a loss only when the mean is more
than twice the standard deviation away from zero (the project's rule: a margin smaller than 2 sd
is no margin).
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
from dataclasses import asdict
from typing import Any

from bench.arena import TIMING_SECTIONS, model_key
from bench.common import REPO, markdown_table
from tnas_pipeline.io_utils import write_json_atomic, write_text_atomic

REFERENCE_FAMILY = "nas"
SEARCHES = ("nas", "nas-plain")  # the families whose margins and landing are reported


def _mean_sd(values: list[float]) -> tuple[float, float]:
    if not values:
        return float("nan"), float("nan")
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def _pm(values: list[float], digits: int = 2) -> str:
    m, s = _mean_sd(values)
    return f"{m:.{digits}f} ± {s:.{digits}f}" if values else "–"


def collect(done: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    """The arena.json document of the runs the options select."""
    fp = done["fingerprint"]
    lut = done["lut"]
    passes = [done.get(section, {}).get(fp, {}) for section in TIMING_SECTIONS]
    sizing = done.get("sizing", {}).get(fp, {})
    budgets = []
    for b in sorted(args.budgets):
        models, missing = [], []
        for family in args.families:
            if family in sizing and sizing[family].get(f"{b:g}", "?") is None:
                missing.append(family)
                continue
            for seed in args.seeds:
                rec = done["models"].get(model_key(args.iters, b, family, seed))
                if rec is None:
                    continue
                readings = [p[rec["arch_key"]] for p in passes if rec["arch_key"] in p]
                t = _pool(readings)
                models.append({**rec, "measured_ms": t.ms if t else None,
                               "measured_rel_uncertainty": t.rel_uncertainty if t else None,
                               "measured_passes_ms": [r["ms"] for r in readings],
                               "within_budget": bool(t and t.ms <= b)})
        budgets.append({"budget_ms": b, "models": models, "does_not_fit": missing})
    from tnas_pipeline.latency.measure import NETWORK_PROTOCOL
    from tnas_pipeline.nas.config import SearchConfig

    return {
        "date": dt.date.today().isoformat(),
        "protocol": {
            "iterations": args.iters, "seeds": args.seeds, "budgets_ms": sorted(args.budgets),
            "families": args.families, "training_device": args.device, "threads": args.threads,
            "recipe": {"loss": "L1", "optimizer": "Adam", "lr": 2e-3, "lr_final": 1e-5,
                       "schedule": "cosine", "batch_size": 16, "hr_patch": 72,
                       "search_fraction": SearchConfig.search_fraction,
                       "search_batch_size": SearchConfig.batch_size,
                       "search_hr_patch": SearchConfig.patch_size},
            "train_sets": done["data"]["train_sets"],
            "validation": "a 10 % split of the training images by file-name hash "
                          "(pipeline/data/split.py); Set5 and Set14 only for reporting",
            "eval_sets": list(done["eval_sets"]),
            "latency": {"runtime": lut.data.get("runtime"), "output_size": list(lut.output_size),
                        "protocol": asdict(NETWORK_PROTOCOL),
                        "table": str(lut.path), "reference_ms_at_profiling":
                            lut.profiled_reference_ms,
                        "method": "ratio to the table's reference network, interleaved, in "
                                  "fresh sessions, after all training, in "
                                  f"{len(TIMING_SECTIONS)} passes over every model, pooled; "
                                  "ms at the table's reference time"},
        },
        "device": {"cpu": done["cpu_line"], "fingerprint": fp, "machine": done["machine"]},
        "budgets": budgets,
    }


def _pool(readings: list[dict[str, float]]):
    """The passes' readings of one network as one (the on-device check's pooling)."""
    from tnas_pipeline.nas.device_check import OnDevice, pooled

    if not readings:
        return None
    out = OnDevice(readings[0]["ms"], readings[0]["rel_uncertainty"])
    for r in readings[1:]:
        out = pooled(out, OnDevice(r["ms"], r["rel_uncertainty"]))
    return out


def _families_in(budget: dict[str, Any]) -> list[str]:
    seen: list[str] = []
    for m in budget["models"]:
        if m["family"] not in seen:
            seen.append(m["family"])
    return seen


def _summary_rows(budget: dict[str, Any], eval_sets: list[str]) -> list[list[str]]:
    rows = []
    for family in _families_in(budget):
        ms = [m for m in budget["models"] if m["family"] == family]
        names = sorted({m["name"] for m in ms})
        lat = [m["measured_ms"] for m in ms if m["measured_ms"] is not None]
        rows.append([family, names[0] if len(names) == 1 else f"{len(names)} networks",
                     f"{min(lat):.1f}–{max(lat):.1f}" if lat else "–",
                     f"{statistics.fmean(m['params'] for m in ms) / 1e3:.1f}",
                     f"{ms[0]['iterations']:,}",
                     *[_pm([m["psnr_y"][s] for m in ms]) for s in eval_sets], str(len(ms))])
    for family in budget["does_not_fit"]:
        rows.append([family, "does not fit: every member measures over the budget", "–", "–",
                     "–", *["–" for _ in eval_sets], "0"])
    return rows


def margins(budget: dict[str, Any], eval_sets: list[str],
            reference: str = REFERENCE_FAMILY) -> list[dict[str, Any]]:
    """The search's (``reference``'s) PSNR minus every other family's, over the seeds both
    have."""
    by = {(m["family"], m["seed"]): m for m in budget["models"]}
    out = []
    for family in _families_in(budget):
        if family == reference:
            continue
        seeds = sorted(s for f, s in by if f == family and (reference, s) in by)
        if not seeds:
            continue
        row: dict[str, Any] = {"versus": family, "seeds": seeds}
        for s in eval_sets:
            d = [by[(reference, k)]["psnr_y"][s] - by[(family, k)]["psnr_y"][s]
                 for k in seeds]
            m, sd = _mean_sd(d)
            verdict = ("search better" if m > 2 * sd and m > 0 else
                       "search worse" if m < -2 * sd and m < 0 else "no margin (< 2 sd)")
            if len(seeds) < 2:
                verdict = "one seed: no verdict"
            row[s] = {"mean": round(m, 3), "sd": round(sd, 3), "verdict": verdict}
        out.append(row)
    return out


def _plot(doc: dict[str, Any], path, eval_set: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5.5))
    families: list[str] = []
    for b in doc["budgets"]:
        for f in _families_in(b):
            if f not in families:
                families.append(f)
    colours = plt.get_cmap("tab10")
    for i, family in enumerate(families):
        pts, curve = [], []
        for b in doc["budgets"]:
            ms = [m for m in b["models"] if m["family"] == family and m["measured_ms"]]
            pts += [(m["measured_ms"], m["psnr_y"][eval_set]) for m in ms]
            if ms:
                mean, sd = _mean_sd([m["psnr_y"][eval_set] for m in ms])
                curve.append((statistics.fmean(m["measured_ms"] for m in ms), mean, sd))
        ax.scatter(*zip(*pts, strict=True), s=18, alpha=0.6, color=colours(i),
                   marker="*" if family == REFERENCE_FAMILY else "o")
        curve.sort()
        x, y, err = zip(*curve, strict=True)
        ax.errorbar(x, y, yerr=err, color=colours(i), label=family, marker="D", markersize=4,
                    capsize=3, linewidth=2.5 if family == REFERENCE_FAMILY else 1.2)
    for b in doc["budgets"]:
        ax.axvline(b["budget_ms"], color="grey", linestyle="--", linewidth=0.8)
    ax.set_xlabel("measured latency, ms (ONNX Runtime, 1 thread, 1280×720 output, this CPU)")
    ax.set_ylabel(f"{eval_set} ×2 PSNR-Y, dB")
    ax.set_title(f"Arena: every model (dots), each family's mean ± std per budget (lines); "
                 f"{doc['protocol']['iterations']:,} steps each", fontsize=10)
    ax.legend(fontsize=8, ncol=2)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


LANDING = (0.85, 1.0)  # where the derived network should be, × budget, before the fit


def landing(doc: dict[str, Any]) -> dict[str, Any]:
    """Where the search's derived networks land before the fit (issue 16: in [0.85, 1.0] ×
    budget in at least 80 % of runs, and the fit only trims)."""
    runs = [m for b in doc["budgets"] for m in b["models"]
            if m["family"] in SEARCHES and m.get("derived_predicted_ms") is not None]
    rows = [{"family": m["family"], "budget_ms": m["budget_ms"], "seed": m["seed"],
             "fraction": m["derived_predicted_ms"] / m["budget_ms"],
             "fit_moves": len(m.get("fit_moves") or []),
             "frozen_at": m.get("architecture_frozen_at")} for m in runs]
    hit = sum(LANDING[0] <= r["fraction"] <= LANDING[1] for r in rows)
    return {"runs": rows, "in_window": hit, "total": len(rows)}


def landing_lines(doc: dict[str, Any]) -> list[str]:
    land = doc["landing"]
    if not land["total"]:
        return []
    rows = [[r["family"], f"{r['budget_ms']:g}", str(r["seed"]), f"{r['fraction']:.3f}",
             "yes" if LANDING[0] <= r["fraction"] <= LANDING[1] else "no", str(r["fit_moves"]),
             str(r["frozen_at"] or "never")] for r in land["runs"]]
    return [f"Before the fit, the search's derived network is predicted in [{LANDING[0]}, "
            f"{LANDING[1]}] × budget in {land['in_window']} of {land['total']} runs "
            f"({100 * land['in_window'] / land['total']:.0f} %):\n",
            markdown_table(["family", "budget ms", "seed", "derived / budget", "in window",
                            "fit moves",
                            "architecture frozen at step"], rows)]


def write_report(done: dict[str, Any], args: argparse.Namespace, machine: str,
                 cpu_line: str) -> None:
    done = {**done, "machine": machine, "cpu_line": cpu_line}
    doc = collect(done, args)
    eval_sets = doc["protocol"]["eval_sets"]
    for b in doc["budgets"]:
        b["margins"] = margins(b, eval_sets)
        present = _families_in(b)
        b["margins_by_search"] = {f: margins(b, eval_sets, f) for f in SEARCHES if f in present}
    doc["landing"] = landing(doc)
    name = "arena" + (f"_{args.tag}" if args.tag else "")
    args.results.mkdir(parents=True, exist_ok=True)
    write_json_atomic(args.results / f"{name}.json", doc)
    plot = args.results / f"{name}_pareto.png"
    _plot(doc, plot, "Set14" if "Set14" in eval_sets else eval_sets[0])

    p = doc["protocol"]
    over = [m for b in doc["budgets"] for m in b["models"] if not m["within_budget"]]
    lines = [
        f"Arena ×2: {p['iterations']:,} training steps per model (the search: supernet + "
        f"fine-tuning steps), seeds {', '.join(map(str, p['seeds']))}, on "
        f"{' + '.join(p['train_sets'])} less a 10 % validation split; training on "
        f"{p['training_device']} ({p['threads']} threads); {doc['date']}.",
        f"Latency: every network timed after all training on {cpu_line}, ONNX Runtime 1 thread, "
        "fp32, 1280×720 output, as a ratio to the table's reference network (drift-proof), in "
        f"{len(TIMING_SECTIONS)} passes over all models, pooled.",
        f"Command: `python bench/arena.py --budgets {' '.join(f'{b:g}' for b in p['budgets_ms'])}"
        f" --seeds {' '.join(map(str, p['seeds']))} --iters {p['iterations']}"
        + (f" --device {p['training_device']}" if p["training_device"] != "cpu" else "")
        + (f" --tag {args.tag}" if args.tag else "") + "`.",
        "",
    ]
    if over:
        lines.append("**Over budget when timed at the end:** " + ", ".join(
            f"{m['name']} (seed {m['seed']}) {m['measured_ms']:.1f} ms ± "
            f"{m['measured_rel_uncertainty']:.1%} > {m['budget_ms']:g} (passes: "
            + " and ".join(f"{x:.1f}" for x in m["measured_passes_ms"]) + ")"
            for m in over) + ".\n")
    else:
        n = sum(len(b["models"]) for b in doc["budgets"])
        lines.append(f"Every model ({n}) measured at or under its budget.\n")
    for b in doc["budgets"]:
        lines.append(f"**Budget {b['budget_ms']:g} ms**: PSNR-Y (dB), mean ± std over seeds\n")
        lines.append(markdown_table(
            ["family", "network", "measured ms", "params (K)", "steps",
             *[f"{s} PSNR" for s in eval_sets], "seeds"], _summary_rows(b, eval_sets)))
        for search, rows_of in b["margins_by_search"].items():
            if not rows_of:
                continue
            rows = [[f"{search} − {r['versus']}",
                     *[f"{r[s]['mean']:+.2f} ± {r[s]['sd']:.2f} ({r[s]['verdict']})"
                       for s in eval_sets]] for r in rows_of]
            lines.append(f"Margins of {search} at {b['budget_ms']:g} ms, paired by seed "
                         "(dB, mean ± std):\n")
            lines.append(markdown_table(["", *eval_sets], rows))
    lines += landing_lines(doc)
    rel = plot.relative_to(REPO) if plot.is_relative_to(REPO) else plot
    lines.append(f"![PSNR against measured latency]({rel})\n")
    write_text_atomic(args.results / f"{name}.md", "\n".join(lines))
    print("\n".join(lines))
