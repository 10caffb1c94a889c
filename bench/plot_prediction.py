"""Plot: LUT-predicted against measured latency on this CPU, random and searched networks.

Reads what the benchmarks wrote (nothing is measured here):
``bench/results/lut_fidelity_cpu-1thread.json`` and ``lut_fidelity_cpu-x4.json`` (30 fresh
random networks each, ``profile --check``) and ``bench/results/export_validate.json`` (the
searched networks, FP32, with the host-drift adjustment), and writes
``bench/results/latency_prediction.png``: one panel per scale.

    python bench/plot_prediction.py
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import REPO


def run_scale(run: str) -> int:
    """The scale of a search benchmark run, from its name (``…_x4``; ×2 has no suffix)."""
    m = re.search(r"_x(\d)$", run)
    return int(m.group(1)) if m else 2


def panel(ax, fidelity: dict, validated: list[dict], scale: int) -> None:
    """One scale: the table's fresh random networks and the searched networks, both measured."""
    rand = fidelity["samples"]
    ax.scatter([s["predicted_ms"] for s in rand], [s["measured_ms"] for s in rand], s=18,
               color="tab:blue", label=f"random networks ({len(rand)}, profile --check)")
    runs = [r["fp32"]["validate"] for r in validated if run_scale(r["run"]) == scale]
    pred = [v["predicted_ms"] for v in runs]
    meas = [v["latency_ms"]["median"] for v in runs]
    ax.scatter(pred, meas, s=40, marker="s", color="tab:red",
               label="searched networks (validate, measured)")
    adj = [(p, v["host_drift"]["adjusted_ms"]) for p, v in zip(pred, runs, strict=True)
           if v["host_drift"]]
    if adj:
        ax.scatter(*zip(*adj, strict=True), s=40, marker="x", color="tab:orange",
                   label="searched, adjusted for host drift")
    hi = max([*meas, *(s["measured_ms"] for s in rand)]) * 1.05
    ax.plot([0, hi], [0, hi], color="gray", lw=1, label="measured = predicted")
    ax.fill_between([0, hi], [0, 0.9 * hi], [0, 1.1 * hi], color="gray", alpha=0.12,
                    label="±10 %")
    ax.set_xlim(0, hi)
    ax.set_ylim(0, hi)
    ax.set_xlabel("LUT predicted latency (ms)")
    ax.set_ylabel("measured latency (ms), ONNX Runtime, 1 thread")
    ax.set_title(f"×{scale} table: predicted against measured (1280×720)", fontsize=10)
    ax.legend(fontsize=8, loc="upper left")


def main() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    results = REPO / "bench" / "results"
    validated = json.loads((results / "export_validate.json").read_text())["records"]
    tables = {2: "lut_fidelity_cpu-1thread.json", 4: "lut_fidelity_cpu-x4.json"}
    tables = {k: v for k, v in tables.items() if (results / v).is_file()}
    fig, axes = plt.subplots(1, len(tables), figsize=(6 * len(tables), 5.5), squeeze=False)
    for ax, (scale, name) in zip(axes[0], tables.items(), strict=True):
        panel(ax, json.loads((results / name).read_text())["check"], validated, scale)
    fig.tight_layout()
    fig.savefig(results / "latency_prediction.png", dpi=110)
    print(results / "latency_prediction.png")


if __name__ == "__main__":
    main()
