"""``tnas-pipeline report``: what a set of runs achieved, as plots and one table.

Reads, and never measures:

* run directories (``train``, ``search`` or ``run``): the latest ``validate`` report of each
  (``RUN/validation/*.json``: measured latency, PSNR-Y per set, budget) and the training history
  (``metrics.json``). A run never validated has no measured latency: it is listed, not plotted;
* an arena results file (``bench/results/arena.json``), whose every model was timed on one CPU.

Writes into ``out``: ``pareto-<SET>.png`` (PSNR against measured latency, every run and arena
model, with the Pareto front), ``training.png`` (loss and validation PSNR against iteration),
``report.md`` and ``report.json``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tnas_pipeline.errors import UserError
from tnas_pipeline.io_utils import read_json_file, write_json_atomic, write_text_atomic
from tnas_pipeline.plots import Point, pareto_plot, training_curves


def _read(path: Path) -> Any:
    return read_json_file(path, "missing", "corrupt JSON ({exc})")


def run_record(path: Path) -> dict[str, Any] | None:
    """What ``report`` knows of one run directory, or None when ``path`` is not one."""
    metrics_path = path / "metrics.json"
    if not (path / "arch.json").is_file() or not metrics_path.is_file():
        return None
    metrics = _read(metrics_path)
    record: dict[str, Any] = {"run": str(path), "arch": metrics.get("arch", path.name),
                              "params": metrics.get("params"),
                              "iterations": metrics.get("iterations"),
                              "history": metrics.get("history", []), "validated": None}
    reports = sorted((path / "validation").glob("*.json"), key=lambda p: p.stat().st_mtime)
    if reports:
        rep = _read(reports[-1])
        lat = rep.get("latency_ms") or {}
        record["validated"] = {"artifact": rep.get("artifact"), "pass": rep.get("pass"),
                               "latency_ms": lat.get("median"), "budget_ms": rep.get("budget_ms"),
                               "psnr_y": rep.get("psnr_y", {})}
    return record


def read_arena(path: Path) -> dict[str, Any]:
    """An arena results file, or a one-line error."""
    doc = _read(path)
    if not isinstance(doc, dict) or "budgets" not in doc:
        raise UserError(f"{path}: not an arena results file (bench/results/arena.json)")
    return doc


def arena_points(doc: dict[str, Any], eval_set: str) -> tuple[list[Point], list[float], str]:
    """Every measured model of an arena results file, its budgets, and its CPU."""
    points = [Point(f"arena: {m['family']}", m["name"], m["measured_ms"], m["psnr_y"][eval_set])
              for b in doc["budgets"] for m in b["models"]
              if m.get("measured_ms") and eval_set in (m.get("psnr_y") or {})]
    budgets = [float(b["budget_ms"]) for b in doc["budgets"]]
    device = doc.get("device") or {}
    cpu = " ".join(str(device[k]) for k in ("machine", "fingerprint") if device.get(k))
    return points, budgets, cpu


def build_report(paths: list[str | Path], out: str | Path, arena: str | Path | None = None,
                 eval_sets: tuple[str, ...] = ("Set5", "Set14")) -> dict[str, Any]:
    """Collect ``paths`` (run directories, or folders of them) and ``arena``; write the plots
    and tables into ``out`` (module docstring); return what was written."""
    runs: list[dict[str, Any]] = []
    for raw in paths:
        p = Path(raw)
        if not p.is_dir():
            raise UserError(f"{p}: no such run directory")
        found = [r for r in (run_record(p),) if r] or [
            r for child in sorted(p.iterdir()) if child.is_dir() and (r := run_record(child))]
        if not found:
            raise UserError(f"{p}: neither a run directory nor a folder of them (no arch.json "
                            "and metrics.json); pass runs made by train, search or run")
        runs.extend(found)
    if not runs and arena is None:
        raise UserError("nothing to report: pass run directories or --arena FILE")
    arena_doc = read_arena(Path(arena)) if arena is not None else None
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, Any] = {"out": str(out), "runs": len(runs), "plots": []}
    for eval_set in eval_sets:
        points = [Point("validated runs", Path(r["run"]).name, v["latency_ms"],
                        v["psnr_y"][eval_set])
                  for r in runs if (v := r["validated"]) and v["latency_ms"]
                  and eval_set in v["psnr_y"]]
        budgets = sorted({v["budget_ms"] for r in runs if (v := r["validated"])
                          and v.get("budget_ms")})
        title = f"PSNR-Y on {eval_set} against measured latency"
        if arena_doc is not None:
            a_points, a_budgets, cpu = arena_points(arena_doc, eval_set)
            points += a_points
            budgets = sorted({*budgets, *a_budgets})
            title += f"\narena on {cpu}" if cpu else ""
        if points:
            written["plots"].append(str(pareto_plot(points, out / f"pareto-{eval_set}.png",
                                                    title, budgets)))
    histories = {Path(r["run"]).name: r["history"] for r in runs if r["history"]}
    if histories:
        written["plots"].append(str(training_curves(histories, out / "training.png")))
    rows = ["| run | architecture | params | iterations | measured ms | budget ms | "
            + " | ".join(f"{s} PSNR-Y" for s in eval_sets) + " |",
            "|---|---|---|---|---|---|" + "---|" * len(eval_sets)]
    for r in runs:
        v = r["validated"] or {}
        psnr = v.get("psnr_y", {})
        rows.append(f"| {r['run']} | {r['arch']} | {r['params'] or '–'} | "
                    f"{r['iterations'] or '–'} | "
                    + (f"{v['latency_ms']:.1f}" if v.get("latency_ms") else "not validated")
                    + f" | {v.get('budget_ms') or '–'} | "
                    + " | ".join(f"{psnr[s]:.2f}" if s in psnr else "–" for s in eval_sets)
                    + " |")
    text = "\n".join(["# Report", "", *rows, "", *[f"![{Path(p).stem}]({Path(p).name})"
                                                   for p in written["plots"]]]) + "\n"
    write_text_atomic(out / "report.md", text)
    write_json_atomic(out / "report.json", {**written, "records": [
        {k: v for k, v in r.items() if k != "history"} for r in runs]})
    written["report"] = str(out / "report.md")
    return written
