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

TABLES = {"cpu-x2": ("×2 default space", 2), "cpu-x4": ("×4 default space", 4),
          "cpu-mixed": ("×2 mixed-path space", None), "cpu-pool": ("×2 op pool", None)}


def panel(ax, fid: dict, searched: list[dict], title: str) -> None:
    lo, hi = float("inf"), 0.0
    for name, marker, color in (("check1", "o", "tab:blue"), ("check2", "^", "tab:green")):
        check = fid.get(name)
        if not check:
            continue
        for source, fill in (("random", color), ("fit", "none")):
            rows = [s for s in check["samples"] if s["source"] == source]
            pred = [s["predicted_ms"] for s in rows]
            meas = [s["measured_ms"] for s in rows]
            if not rows:
                continue
            ax.scatter(pred, meas, s=16, marker=marker, facecolors=fill, edgecolors=color,
                       label=f"{name}: {source} ({len(rows)})")
            lo, hi = min(lo, *pred, *meas), max(hi, *pred, *meas)
    if searched:
        pred = [r["validate"]["predicted_ms"] for r in searched]
        meas = [r["validate"]["latency_ms"]["median"] for r in searched]
        ax.scatter(pred, meas, s=50, marker="s", color="tab:red",
                   label=f"searched, validated later ({len(searched)})")
        lo, hi = min(lo, *pred, *meas), max(hi, *pred, *meas)
    lo, hi = lo * 0.8, hi * 1.2
    ax.plot([lo, hi], [lo, hi], color="gray", lw=1, label="measured = predicted")
    ax.fill_between([lo, hi], [0.9 * lo, 0.9 * hi], [1.1 * lo, 1.1 * hi], color="gray",
                    alpha=0.12, label="±10 %")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(lo, hi)
    ax.set_ylim(lo, hi)
    ax.set_xlabel("predicted latency (ms)")
    ax.set_ylabel("measured latency (ms), ONNX Runtime, 1 thread")
    ax.set_title(f"{title}, 1280×720", fontsize=10)
    ax.legend(fontsize=7, loc="upper left")


def main() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    results = REPO / "bench" / "results"
    hits = results / "budget_hits.json"
    searched = json.loads(hits.read_text())["records"] if hits.is_file() else []
    tables = {t: v for t, v in TABLES.items() if (results / f"lut_fidelity_{t}.json").is_file()}
    cols = min(2, len(tables))
    rows = (len(tables) + 1) // 2
    fig, axes = plt.subplots(rows, cols, figsize=(6 * cols, 5.5 * rows), squeeze=False)
    for ax, (tag, (title, scale)) in zip(axes.flat, tables.items(), strict=False):
        fid = json.loads((results / f"lut_fidelity_{tag}.json").read_text())
        mine = [r for r in searched if scale is not None and r["scale"] == scale]
        panel(ax, fid, mine, title)
    for ax in list(axes.flat)[len(tables):]:
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(results / "latency_prediction.png", dpi=110)
    plt.close(fig)
    print(results / "latency_prediction.png")


if __name__ == "__main__":
    main()
