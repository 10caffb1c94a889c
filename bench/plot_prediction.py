"""Plot: predicted against measured latency on this CPU, fresh and searched networks.

Reads what the benchmarks wrote (nothing is measured here): ``bench/results/lut_fidelity_TAG.json``
of each table (both checks of ``profile --check``: fresh random networks and fit outputs,
predicted and measured as ratios to the reference network, shown in ms at the reference's time
during the check) and ``bench/results/budget_hits.json`` (the searched networks, validated
later), and writes ``bench/results/latency_prediction.png``: one panel per table.

    python bench/plot_prediction.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import REPO
from tnas_pipeline.plots import prediction_panel

TABLES = {"cpu-x2": ("×2 default space", 2), "cpu-x4": ("×4 default space", 4),
          "cpu-mixed": ("×2 mixed-path space", None), "cpu-pool": ("×2 op pool", None)}


def series(fid: dict, searched: list[dict]) -> list[tuple[str, list[float], list[float]]]:
    """(label, predicted, measured) of both checks of a table, by source, and the searched
    networks validated later."""
    out = []
    for name in ("check1", "check2"):
        for source in ("random", "fit"):
            rows = [s for s in (fid.get(name) or {}).get("samples", []) if s["source"] == source]
            if rows:
                out.append((f"{name}: {source}", [s["predicted_ms"] for s in rows],
                            [s["measured_ms"] for s in rows]))
    if searched:
        out.append(("searched, validated later",
                    [r["validate"]["predicted_ms"] for r in searched],
                    [r["validate"]["latency_ms"]["median"] for r in searched]))
    return out


def main() -> None:
    from matplotlib.figure import Figure

    results = REPO / "bench" / "results"
    hits = results / "budget_hits.json"
    searched = json.loads(hits.read_text())["records"] if hits.is_file() else []
    tables = {t: v for t, v in TABLES.items() if (results / f"lut_fidelity_{t}.json").is_file()}
    cols = min(2, len(tables))
    rows = (len(tables) + 1) // 2
    fig = Figure(figsize=(6 * cols, 5.5 * rows), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False)
    for ax, (tag, (title, scale)) in zip(axes.flat, tables.items(), strict=False):
        fid = json.loads((results / f"lut_fidelity_{tag}.json").read_text())
        mine = [r for r in searched if scale is not None and r["scale"] == scale]
        prediction_panel(ax, series(fid, mine), f"{title}, 1280×720")
    for ax in list(axes.flat)[len(tables):]:
        ax.axis("off")
    fig.savefig(results / "latency_prediction.png", dpi=110)
    print(results / "latency_prediction.png")


if __name__ == "__main__":
    main()
