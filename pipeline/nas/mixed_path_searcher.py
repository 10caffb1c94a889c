"""The search loop of mixed-path search: :class:`Searcher` with Sparse Supernet's pieces.

The loop, the schedule, the data, validation and checkpoints are the single-path search's
(:mod:`tnas_pipeline.nas.searcher`); what differs is listed in
:mod:`tnas_pipeline.nas.mixed_path_search`: the supernet (batch norms without affine parameters,
so ``α`` is each branch's only scale), the free weights ``α`` with their accelerated proximal
step, the latency charged as the folded edge costs (the edge group at a folded 1×1, the 3×3
leaf at the difference to a folded 3×3), the weight step at the proximal point, the derivation
from exact zeros, the fit that cuts branches and the weight inheritance.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
import torch.nn.functional as F

from tnas_pipeline.errors import UserError
from tnas_pipeline.io_utils import atomic_path
from tnas_pipeline.latency.lut import LatencyTable
from tnas_pipeline.nas.latency_term import BudgetPenalty
from tnas_pipeline.nas.mixed_path_search import (
    MixedArch,
    MixedChoice,
    MixedCosts,
    MixedSupernet,
    fit_mixed,
    inherit_mixed_state,
    kept_choice,
    last_kept,
)
from tnas_pipeline.nas.searcher import Searcher
from tnas_pipeline.nas.sparse_group_lasso import AcceleratedProximalSGL, SGLWeights
from tnas_pipeline.networks.architecture import Architecture
from tnas_pipeline.networks.reparam import LINEAR_BRANCHES

#: ``--relaxation`` of the mixed-path search (Sparse Supernet, Wu et al. AAAI 2021).
MIXED_PATH = RELAXATION = "sparse-group-lasso"

# Smoothing of ḡ, the running mean task gradient on α (about the last 20 steps).
GRAD_EMA = 0.95


class _KeptLatency:
    """``expected(α)``: the folded latency of what the exact zeros keep (the loop's read-out)."""

    def __init__(self, searcher: MixedPathSearcher) -> None:
        self.searcher = searcher

    def expected(self, _: Any) -> torch.Tensor:
        s = self.searcher
        return torch.tensor(s.costs.kept_ms(s.sparse_alpha(), s.supernet.kernel))


class MixedTrajectory:
    """The kept weights ``α`` of every edge and branch over the search, and their picture."""

    def __init__(self) -> None:
        self.points: list[dict[str, Any]] = []

    def add(self, iteration: int, lam: float, loss: float, kept_ms: float,
            alpha: torch.Tensor) -> None:
        self.points.append({"iteration": iteration, "lam": lam, "loss": loss,
                            "latency_ms": kept_ms, "alpha": alpha.tolist()})

    def state(self) -> list[dict[str, Any]]:
        return self.points

    def load(self, points: list[dict[str, Any]]) -> None:
        self.points = list(points)

    def to_json(self, budget_ms: float) -> dict[str, Any]:
        return {"budget_ms": budget_ms, "branches": list(LINEAR_BRANCHES), "points": self.points}

    def plot(self, path: str | Path, budget_ms: float, title: str = "") -> None:
        """One panel per branch (α of every edge over the search), and the kept latency."""
        # A Figure of its own, not pyplot: no global backend switch in a user's notebook, and no
        # figure left in pyplot's registry.
        from matplotlib.figure import Figure

        pts = self.points
        if not pts:
            return
        it = [p["iteration"] for p in pts]
        alpha = torch.tensor([p["alpha"] for p in pts])  # [points, cells, edges, branches]
        fig = Figure(figsize=(16, 4), layout="constrained")
        ax = fig.subplots(1, len(LINEAR_BRANCHES) + 1)
        for i, name in enumerate(LINEAR_BRANCHES):
            for n in range(alpha.shape[1]):
                for e in range(alpha.shape[2]):
                    ax[i].plot(it, alpha[:, n, e, i], lw=0.8, label=f"c{n}e{e}")
            ax[i].set_title(f"α of {name}, every edge")
            ax[i].set_xlabel("iteration")
            # The kept α span orders of magnitude as λ moves; a log axis, linear near zero so
            # that exact zeros show, keeps them all visible.
            ax[i].set_yscale("symlog", linthresh=1e-5)
        ax[0].legend(fontsize=6, ncol=2)
        a = ax[-1]
        a.plot(it, [p["latency_ms"] for p in pts], label="kept network (folded)")
        a.axhline(budget_ms, color="k", ls="--", lw=0.8, label="budget")
        a.set_title("latency of the kept branches (ms)")
        a.legend(fontsize=7)
        fig.suptitle(title)
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=90, format="png")


class MixedPathSearcher(Searcher):
    """Mixed-path search on a table of the mixed space (``profile --space mixed``)."""

    def _build_model(self) -> None:
        if self.space.single_path:
            raise UserError(f"--relaxation {RELAXATION} searches the mixed-path space; give it "
                            "that space's table (tnas-pipeline profile --space mixed)")
        self.supernet = MixedSupernet(self.space).to(self.cfg.device)
        self.arch = MixedArch(self.space).to(self.cfg.device)

    def _build_arch_step(self, lut: LatencyTable) -> None:
        cfg = self.cfg
        self.a_opt = AcceleratedProximalSGL(
            self.arch.parameters(), lr=cfg.sgl_lr, momentum=cfg.apg_momentum, nonnegative=True,
            lam=SGLWeights(l1=cfg.sgl_l1, edge=cfg.sgl_edge, cell=cfg.sgl_cell))
        # ḡ, the running mean |∂L/∂α| that gives λ its scale; kept in the optimiser's group so
        # that it is checkpointed and resumed with it.
        self.a_opt.param_groups[0]["grad_scale"] = 0.0
        self.costs = MixedCosts(lut, self.space)
        self.latency = _KeptLatency(self)
        # A ceiling: λ ≥ 0 scales the latency thresholds; under the budget it decays to zero and
        # the task loss may grow branches back.
        self.penalty = BudgetPenalty(cfg.budget_ms, "hinge", cfg.lam, cfg.sgl_lam_step)
        self.trajectory = MixedTrajectory()

    # -- weights --------------------------------------------------------------------------------
    def relaxed(self) -> torch.Tensor:
        return self.arch.alpha

    def frozen_weights(self) -> torch.Tensor:
        """What the weight step (and validation) runs the supernet at: the last proximal point,
        the exactly sparse ``α`` the search keeps. Between steps ``self.arch.alpha`` holds the
        accelerated step's momentum look-ahead ``prox + μ v`` (the point its next gradient is
        taken at), which keeps cut branches alive and scales the kept ones by the momentum;
        training the network there would fit it to a network the search does not keep."""
        return self.sparse_alpha()

    def sparse_alpha(self) -> torch.Tensor:
        """The last proximal point: the weights with their exact zeros."""
        return self.a_opt.proximal_point(self.arch.alpha)

    def expected(self, w: Any) -> dict[str, torch.Tensor]:
        return {"latency_ms": self.latency.expected(w)}

    # -- steps ----------------------------------------------------------------------------------
    def _arch_step(self) -> dict[str, float]:
        cfg = self.cfg
        lr_img, hr_img = (t.to(cfg.device) for t in self.a_sampler.sample(cfg.batch_size))
        alpha = self.arch.alpha
        ctx = self.net.no_sync() if self.dist.enabled else torch.enable_grad()
        with ctx:
            task = F.l1_loss(self.net(lr_img, alpha), hr_img)
            self.a_opt.zero_grad(set_to_none=True)
            task.backward()
        if self.dist.enabled and alpha.grad is not None:
            dist.all_reduce(alpha.grad)
            alpha.grad /= self.dist.world_size
        group = self.a_opt.param_groups[0]
        g = float(alpha.grad.abs().mean()) if alpha.grad is not None else 0.0
        group["grad_scale"] = g if group["grad_scale"] == 0.0 else (
            GRAD_EMA * group["grad_scale"] + (1.0 - GRAD_EMA) * g)
        # The folded cost of each edge: its group at a folded 1×1, its 3×3 leaf at the
        # difference to a folded 3×3; relative to a folded 3×3, in units of the mean task
        # gradient, scaled by λ (mixed_path_search's module docstring).
        leaf, edge = self.costs.prox_charges(self.penalty.lam * group["grad_scale"])
        group["l1_extra"] = leaf.to(alpha)
        group["edge_extra"] = float(edge)
        self.a_opt.step()
        kept = self.costs.kept_ms(self.sparse_alpha(), self.supernet.kernel)
        self.penalty.update(kept)
        return {"task": float(task.item()), "expected_ms": kept}

    def _record(self, loss: float, arch_info: dict[str, float] | None) -> None:
        sparse = self.sparse_alpha()
        self.trajectory.add(self.iteration, self.penalty.lam, loss,
                            self.costs.kept_ms(sparse, self.supernet.kernel), sparse)

    # -- derive, fit, inherit -------------------------------------------------------------------
    def derive_choice(self) -> MixedChoice:
        return kept_choice(self.sparse_alpha(), self.supernet.kernel)

    def _last_kept(self) -> tuple[torch.Tensor, torch.Tensor]:
        return last_kept(self.trajectory.points, tuple(self.arch.alpha.shape))

    def fit(self, choice: MixedChoice, lo: float, hi: float,
            budget_ms: float | None = None) -> Any:
        when, value = self._last_kept()
        return fit_mixed(choice, self.sparse_alpha(), self.costs, budget_ms or self.cfg.budget_ms,
                         lo, hi, when=when, value=value)

    def predict_choice(self, choice: MixedChoice) -> float:
        return self.costs.predict(choice)

    def derive_alpha(self) -> torch.Tensor:
        """The weights the derived network starts from: the last proximal point, and for a
        branch the fit added back, its last non-zero weight in the trajectory."""
        sparse = self.sparse_alpha().cpu()
        _, value = self._last_kept()
        return torch.where(sparse != 0, sparse, value)

    def inherit(self, choice: MixedChoice, arch: Architecture) -> dict[str, torch.Tensor]:
        return inherit_mixed_state(self.supernet, choice, self.derive_alpha(), arch)
