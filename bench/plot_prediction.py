"""Plot: LUT-predicted against measured latency on this CPU, random and searched networks.

Reads what the benchmarks wrote (nothing is measured here):
``bench/results/lut_fidelity_cpu-1thread.json`` (30 fresh random networks, ``profile --check``)
and ``bench/results/export_validate.json`` (the searched networks, FP32, with the host-drift
adjustment), and writes ``bench/results/latency_prediction.png``.

    python bench/plot_prediction.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import REPO


def main() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    results = REPO / "bench" / "results"
    fidelity = json.loads((results / "lut_fidelity_cpu-1thread.json").read_text())["check"]
    validated = json.loads((results / "export_validate.json").read_text())["records"]
    fig, ax = plt.subplots(figsize=(6, 5.5))
    rand = fidelity["samples"]
    ax.scatter([s["predicted_ms"] for s in rand], [s["measured_ms"] for s in rand], s=18,
               color="tab:blue", label=f"random networks ({len(rand)}, profile --check)")
    pred = [r["fp32"]["validate"]["predicted_ms"] for r in validated]
    meas = [r["fp32"]["validate"]["latency_ms"]["median"] for r in validated]
    ax.scatter(pred, meas, s=40, marker="s", color="tab:red",
               label="searched networks (validate, measured)")
    adj = [(p, r["fp32"]["validate"]["host_drift"]["adjusted_ms"])
           for p, r in zip(pred, validated, strict=True) if r["fp32"]["validate"]["host_drift"]]
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
    ax.set_title("CPU latency table: predicted against measured (1280×720, ×2)", fontsize=10)
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    fig.savefig(results / "latency_prediction.png", dpi=120)
    print(results / "latency_prediction.png")


if __name__ == "__main__":
    main()
