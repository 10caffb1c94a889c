"""The plots a user looks at: PSNR against measured latency, predicted against measured latency,
training curves.

Each draws on a :class:`matplotlib.figure.Figure` of its own and saves it atomically; nothing
goes through pyplot, so a notebook's backend and figures are left alone. ``report`` and
``profile --check --plot`` call these, and so do the benchmark scripts.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tnas_pipeline.io_utils import atomic_path


@dataclass(frozen=True)
class Point:
    """One network on a PSNR-against-latency plot."""

    group: str            # what it is drawn as: "validated runs", "arena: nas", …
    label: str            # its name
    latency_ms: float     # measured
    psnr: float           # PSNR-Y on the plotted set (dB)


def _save(fig: Any, path: str | Path, dpi: int = 120) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi, format="png")
    return path


def pareto_front(points: Iterable[Point]) -> list[Point]:
    """The points no other point beats on both latency (lower) and PSNR (higher), by latency."""
    front: list[Point] = []
    for p in sorted(points, key=lambda p: (p.latency_ms, -p.psnr)):
        if not front or p.psnr > front[-1].psnr:
            front.append(p)
    return front


def pareto_plot(points: Sequence[Point], path: str | Path, title: str,
                budgets: Sequence[float] = (), annotate: bool = True) -> Path:
    """PSNR against measured latency, one marker colour per group, the Pareto front of all
    points as a line, and each budget as a dashed vertical line."""
    from matplotlib import colormaps
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 5.5), layout="constrained")
    ax = fig.subplots()
    groups = sorted({p.group for p in points})
    markers, colors = "os^Dv<>Pp*hX", colormaps["tab20"]
    for i, g in enumerate(groups):
        mine = [p for p in points if p.group == g]
        ax.scatter([p.latency_ms for p in mine], [p.psnr for p in mine], s=28,
                   marker=markers[i % len(markers)], color=colors(i % 20),
                   label=f"{g} ({len(mine)})", alpha=0.85)
    front = pareto_front(points)
    if len(front) > 1:
        ax.step([p.latency_ms for p in front], [p.psnr for p in front], where="post",
                color="black", lw=0.8, alpha=0.6, label="Pareto front")
    if annotate:
        for p in front:
            ax.annotate(p.label, (p.latency_ms, p.psnr), fontsize=6, xytext=(3, 3),
                        textcoords="offset points")
    for b in budgets:
        ax.axvline(b, color="gray", ls="--", lw=0.8)
    ax.set_xscale("log")
    ax.set_xlabel("measured latency (ms)")
    ax.set_ylabel("PSNR-Y (dB)")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7, loc="lower right")
    return _save(fig, path)


def prediction_panel(ax: Any, series: Sequence[tuple[str, Sequence[float], Sequence[float]]],
                     title: str) -> None:
    """Predicted (x) against measured (y) latency for each ``(label, predicted, measured)``,
    with the identity line and the ±10 % band, on log axes."""
    values = [v for _, pred, meas in series for v in (*pred, *meas)]
    lo, hi = (min(values) * 0.8, max(values) * 1.2) if values else (1.0, 10.0)
    for label, pred, meas in series:
        ax.scatter(pred, meas, s=16, label=f"{label} ({len(pred)})", alpha=0.8)
    ax.plot([lo, hi], [lo, hi], color="gray", lw=1, label="measured = predicted")
    ax.fill_between([lo, hi], [0.9 * lo, 0.9 * hi], [1.1 * lo, 1.1 * hi], color="gray",
                    alpha=0.12, label="±10 %")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(lo, hi)
    ax.set_ylim(lo, hi)
    ax.set_xlabel("predicted latency (ms)")
    ax.set_ylabel("measured latency (ms)")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7, loc="upper left")


def check_plot(result: dict[str, Any], path: str | Path, title: str) -> Path:
    """The plot of ``profile --check``: every checked network, predicted against measured, by
    where it came from (fresh random networks, networks the fit picked)."""
    from matplotlib.figure import Figure

    samples = result["samples"]
    series = []
    for source in sorted({s["source"] for s in samples}):
        rows = [s for s in samples if s["source"] == source]
        series.append((source, [s["predicted_ms"] for s in rows],
                       [s["measured_ms"] for s in rows]))
    fig = Figure(figsize=(6, 5.5), layout="constrained")
    prediction_panel(fig.subplots(), series,
                     f"{title}\nwithin ±10 %: {result['within_10pct']:.0%}, "
                     f"MAPE {result['mape']:.1%}")
    return _save(fig, path)


def training_curves(histories: dict[str, list[dict[str, Any]]], path: str | Path) -> Path:
    """Training loss and validation PSNR against iteration, one line per run."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(11, 4.5), layout="constrained")
    loss_ax, psnr_ax = fig.subplots(1, 2)
    for name, history in histories.items():
        rows = [h for h in history if "iteration" in h]
        if not rows:
            continue
        it = [h["iteration"] for h in rows]
        loss_ax.plot(it, [h.get("loss") for h in rows], lw=1, label=name)
        val = [next(iter(h["val"].values()))["psnr_y"] if h.get("val") else None for h in rows]
        psnr_ax.plot(it, val, lw=1, marker=".", label=name)
    loss_ax.set_yscale("log")
    loss_ax.set_title("training loss (L1)", fontsize=10)
    psnr_ax.set_title("validation PSNR-Y (dB)", fontsize=10)
    for ax in (loss_ax, psnr_ax):
        ax.set_xlabel("iteration")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=6)
    return _save(fig, path)
