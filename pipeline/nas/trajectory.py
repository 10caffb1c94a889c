"""The architecture weights of all three levels over the search, and a picture of them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tnas_pipeline.io_utils import atomic_path
from tnas_pipeline.nas.supernet import RelaxedWeights
from tnas_pipeline.search_space import SearchSpace


class Trajectory:
    """Points of (iteration, radius, λ, loss, expected costs, relaxed weights)."""

    def __init__(self, space: SearchSpace) -> None:
        self.space = space
        self.points: list[dict[str, Any]] = []

    def add(self, iteration: int, radius: float, lam: float, loss: float,
            expected: dict[str, float], w: RelaxedWeights) -> None:
        self.points.append({
            "iteration": iteration, "radius": radius, "lam": lam, "loss": loss, **expected,
            "depth": w.depth.tolist(), "path": w.path.tolist(),
            "upsampler": w.upsampler.tolist(), "ops": w.ops.tolist(),
            "widths": w.widths.tolist(), "trunk": w.trunk.tolist(),
        })

    def state(self) -> list[dict[str, Any]]:
        return self.points

    def load(self, points: list[dict[str, Any]]) -> None:
        self.points = list(points)

    def to_json(self, budget_ms: float) -> dict[str, Any]:
        s = self.space
        return {"budget_ms": budget_ms, "levels": {
            "network": {"depth": list(range(1, s.max_cells + 1)),
                        "upsampler_kernels": list(s.upsampler_kernels)},
            "cell": {"ops": list(s.ops), "edges_per_cell": s.edges_per_cell},
            "kernel": {"widths": list(s.widths), "trunk": list(s.trunk_choices)}},
            "points": self.points}

    def plot(self, path: str | Path, budget_ms: float, title: str = "") -> None:
        """Four panels: network level (depth), cell level (op weights of every edge), kernel
        level (expected inner width of every edge), and expected latency against the budget."""
        # A Figure of its own, not pyplot: no global backend switch in a user's notebook, and no
        # figure left in pyplot's registry.
        from matplotlib import rcParams
        from matplotlib.figure import Figure

        s, pts = self.space, self.points
        if not pts:
            return
        it = [p["iteration"] for p in pts]
        fig = Figure(figsize=(12, 8), layout="constrained")
        ax = fig.subplots(2, 2)
        a = ax[0][0]
        for d in range(s.max_cells):
            a.plot(it, [p["depth"][d] for p in pts], label=f"{d + 1} cells")
        a.set_title("network level: p(depth)")
        a.legend(fontsize=7, ncol=2)
        a = ax[0][1]
        colors = rcParams["axes.prop_cycle"].by_key()["color"]
        for o, op in enumerate(s.ops):
            for n in range(s.max_cells):
                for e in range(s.edges_per_cell):
                    a.plot(it, [p["ops"][n][e][o] for p in pts], color=colors[o % len(colors)],
                           alpha=0.5, lw=0.8, label=op if n == e == 0 else None)
        a.set_title("cell level: op weights of every edge")
        a.legend(fontsize=7)
        a = ax[1][0]
        if s.trunk_widths:  # the kernel level of the plain space: the trunk width
            for t, width in enumerate(s.trunk_choices):
                a.plot(it, [p["trunk"][t] for p in pts], label=f"trunk {width}")
            a.set_title("kernel level: trunk width weights")
            a.legend(fontsize=7)
        for n in range(s.max_cells if s.widths else 0):
            for e in range(s.edges_per_cell):
                vals = []
                for p in pts:
                    alphas, betas = p["ops"][n][e], p["widths"][n][e]
                    vals.append(sum(alphas[o] * sum(b * w for b, w in zip(betas[o], s.widths,
                                                                            strict=True))
                                    for o in range(len(s.ops))))
                a.plot(it, vals, lw=0.8, label=f"c{n}e{e}" if e == 0 and n < 3 else None)
        if s.widths:
            a.set_title("kernel level: expected inner width of every edge")
        a = ax[1][1]
        a.plot(it, [p["latency_ms"] for p in pts], label="expected latency (LUT)")
        a.axhline(budget_ms, color="k", ls="--", label="budget")
        a.set_ylabel("ms")
        a2 = a.twinx()
        a2.plot(it, [p["lam"] for p in pts], color="tab:red", lw=0.8, label="λ")
        a2.plot(it, [p["radius"] for p in pts], color="tab:green", lw=0.8, label="radius r")
        a.set_title("efficiency term")
        a.legend(loc="upper left", fontsize=7)
        a2.legend(loc="upper right", fontsize=7)
        for row in ax:
            for a in row:
                a.set_xlabel("iteration")
        fig.suptitle(title)
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=110, format="png")
