"""The one-phase search: first-order bilevel supernet search, derive, fit, inherit, fine-tune.

Each iteration (as first-order DARTS, Liu et al. 2019, with the architecture update of Trilevel
NAS, Wu et al. 2021):

1. a weight step: L1 loss of the supernet on a batch from the *weights* half of the training
   images, with the relaxed architecture weights held fixed;
2. after a warm-up, an architecture step: L1 loss on a batch from the *architecture* half plus
   the budget penalty on the LUT-expected latency (and optional parameter / Mult-Add terms), with
   the network weights held fixed; then the penalty's multiplier takes a dual-ascent step.

The penalty is an augmented Lagrangian aimed at the middle of the window the fit accepts, scaled
to the task gradient (:mod:`tnas_pipeline.nas.latency_term`), and its gradient goes straight
through sparsestmax, so it stays alive on one-hot weights. The sparsestmax radius grows linearly
from 0 to 1 between the warm-up and ``radius_end_fraction`` of the search, but is held below 1
while the expected latency is more than 5 % off its target, so the last part trains the one-hot
network that is derived, and that network is on budget. The derived network is fitted to the budget
against the LUT (a trim, when the search landed), inherits the supernet's weights and is fine-tuned
by the ordinary trainer into the same run directory. Checkpoints are atomic; ``--resume`` continues
either phase.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel

from tnas_pipeline.data.patches import PatchSampler
from tnas_pipeline.errors import UserError
from tnas_pipeline.io_utils import atomic_path, write_json_atomic
from tnas_pipeline.latency.lut import LatencyTable
from tnas_pipeline.nas.config import SearchConfig
from tnas_pipeline.nas.derive import derive, inherit_state
from tnas_pipeline.nas.fit import fit_to_budget
from tnas_pipeline.nas.latency_term import (
    BudgetPenalty,
    CostTables,
    latency_costs,
    mult_add_costs,
    param_costs,
)
from tnas_pipeline.nas.supernet import ArchParams, RelaxedWeights, Supernet
from tnas_pipeline.nas.trajectory import Trajectory
from tnas_pipeline.networks.architecture import Architecture
from tnas_pipeline.search_space import SearchSpace
from tnas_pipeline.training import distributed as D
from tnas_pipeline.training.budgeted_loop import fraction, run_budgeted
from tnas_pipeline.training.schedule import cosine_lr
from tnas_pipeline.training.trainer import validate


class _FrozenSupernet(torch.nn.Module):
    """The supernet at fixed relaxed weights, as a plain ``x → y`` module for validation."""

    def __init__(self, supernet: Supernet, weights: RelaxedWeights) -> None:
        super().__init__()
        self.supernet, self.weights = supernet, weights

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.supernet(x, self.weights)


def _detached(w: RelaxedWeights) -> RelaxedWeights:
    return w.map(lambda t: t.detach())


class SearchDir:
    """``RUN/search/``: the search's config, checkpoint, trajectories and result."""

    def __init__(self, run: str | Path) -> None:
        self.path = Path(run) / "search"

    config = property(lambda self: self.path / "config.json")
    checkpoint = property(lambda self: self.path / "checkpoint.pt")
    trajectory = property(lambda self: self.path / "trajectories.json")
    plot = property(lambda self: self.path / "trajectories.png")
    result = property(lambda self: self.path / "result.json")
    lut_copy = property(lambda self: self.path / "lut.json")


class Searcher:
    """The supernet phase of a search run (see the module docstring)."""

    def __init__(self, cfg: SearchConfig, lut: LatencyTable, run: str | Path,
                 progress: bool = True, resume_command: str = "search") -> None:
        self.cfg, self.lut, self.progress = cfg, lut, progress
        self.resume_command = resume_command  # what an interrupt tells the user to run
        self.dir = SearchDir(run)
        self.run_path = Path(run)
        self.space: SearchSpace = lut.space.with_scale(cfg.scale)
        if cfg.ops:
            self.space = self.space.with_ops(cfg.ops)
        self.dist = D.init_distributed(cfg.device)
        self.near_target = False  # |E/target − 1| < hold_tolerance at the last architecture step
        self.frozen_at: int | None = None  # the iteration the architecture froze at
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        torch.manual_seed(cfg.seed)
        self._build_model()
        folders = [Path(p) for p in cfg.train_data]
        seed = cfg.seed * 1000 + self.dist.rank
        self.w_sampler = PatchSampler(folders, cfg.scale, cfg.patch_size, seed, part=(0, 2))
        self.a_sampler = PatchSampler(folders, cfg.scale, cfg.patch_size, seed + 500, part=(1, 2))
        self.w_opt = torch.optim.Adam(self.supernet.parameters(), lr=cfg.lr)
        self.net: torch.nn.Module = (
            DistributedDataParallel(self.supernet, find_unused_parameters=True)
            if self.dist.enabled else self.supernet)
        self._build_arch_step(lut)
        self.iteration, self.seconds = 0, 0.0
        self.history: list[dict[str, Any]] = []
        self.checkpointed_at = -1
        self.stop_requested = False

    # -- what a relaxation brings (overridden by the mixed-path search) ---------------------------
    def _build_model(self) -> None:
        if not self.space.single_path:
            ops = ", ".join(self.space.ops)
            raise UserError(f"the latency table is for a mixed-path space ({ops}); search it "
                            "with --relaxation sparse-group-lasso")
        self.supernet = Supernet(self.space).to(self.cfg.device)
        self.arch = ArchParams(self.space).to(self.cfg.device)

    def _build_arch_step(self, lut: LatencyTable) -> None:
        cfg = self.cfg
        depth = [self.arch.depth]
        logits = [p for p in self.arch.parameters() if p is not self.arch.depth]
        self.a_opt = torch.optim.Adam(
            [{"params": logits, "lr": cfg.arch_lr, "base_lr": cfg.arch_lr},
             {"params": depth, "lr": cfg.depth_lr, "base_lr": cfg.depth_lr}],
            betas=(0.5, 0.999))
        self.latency: CostTables = latency_costs(lut, self.space)
        self.params_cost = param_costs(self.space)
        self.madds_cost = mult_add_costs(self.space, lut.output_size)
        self.target_ms = cfg.budget_ms * cfg.target_fraction(lut.sigma)
        self.penalty = BudgetPenalty(self.target_ms, cfg.penalty, cfg.lam, cfg.lam_step,
                                     cfg.rho)
        self.trajectory = Trajectory(self.space)
        if cfg.start_at_target:
            self._start_at_target()

    def _start_at_target(self) -> None:
        """Start the depth where the expected latency under the initial (uniform) cell and
        kernel weights meets the target. A search started far above its budget spent its first
        hundred steps making every choice cheaper at once (the penalty's gradient, whatever the
        quality), and the architecture it settled on was the quickest way down, not the best:
        in the arena it scored below the fit of untouched logits (archlr0). Started at the
        target, the penalty begins near zero and the task leads from the first step."""
        n = self.space.max_cells
        best: tuple[float, float] | None = None
        with torch.no_grad():
            for i in range(20 * (n - 1) + 1):
                d = 1.0 + i / 20.0
                self.arch.depth.fill_(d)
                e = float(self.latency.expected(self.arch.relaxed(self.cfg.relaxation, 0.0)))
                if best is None or abs(e - self.target_ms) < best[0]:
                    best = (abs(e - self.target_ms), d)
            self.arch.depth.fill_(best[1])

    def frozen_weights(self) -> Any:
        """The architecture weights of this step, detached (what a weight step trains)."""
        return _detached(self.relaxed())

    def derive_choice(self) -> Any:
        with torch.no_grad():
            w = self.relaxed()
        return derive(self.arch, w, self.space)

    def fit(self, choice: Any, lo: float, hi: float, budget_ms: float | None = None) -> Any:
        """The derived choice fitted to ``[lo, hi] × budget`` (a :class:`FitResult`); the
        on-device check passes a corrected budget."""
        return fit_to_budget(choice, self.arch, self.predict_choice, self.space,
                             budget_ms or self.cfg.budget_ms, lo=lo, hi=hi)

    def predict_choice(self, choice: Any) -> float:
        """The table's model prediction (ms) of a discrete choice."""
        return self.lut.predict_ms(choice.architecture(self.space))

    def inherit(self, choice: Any, arch: Architecture) -> dict[str, torch.Tensor]:
        return inherit_state(self.supernet, arch)

    # -- schedule -------------------------------------------------------------------------------
    def budget(self) -> tuple[int | None, float | None]:
        minutes = self.cfg.search_minutes
        return self.cfg.search_iters, None if minutes is None else minutes * 60.0

    def spent_seconds(self) -> float:
        return self.seconds

    def add_seconds(self, dt: float) -> None:
        self.seconds += dt

    def fraction(self) -> float:
        return fraction(self)

    def schedule_radius(self, end: float | None = None) -> float:
        """The radius schedule: 0 until the warm-up ends, then linear to 1 at ``end`` (default
        the radius end fraction)."""
        start = self.cfg.warmup_fraction
        end = self.cfg.radius_end_fraction if end is None else end
        return float(min(1.0, max(0.0, (self.fraction() - start) / max(end - start, 1e-9))))

    def network_radius(self) -> float:
        """The network level's radius: the schedule ending at ``network_end_fraction``, held
        as :meth:`radius` is."""
        return self._held(self.schedule_radius(self.cfg.network_end_fraction))

    def _held(self, r: float) -> float:
        if self.frozen_at is not None:
            return 1.0
        if not self.near_target and self.fraction() < self.cfg.hold_until:
            r = min(r, self.cfg.radius_hold)
        return r

    def radius(self) -> float:
        """Sparsestmax radius: the schedule, held at ``radius_hold`` while the expected latency
        misses its target by ``hold_tolerance`` or more (until ``hold_until`` of the search), so
        the weights stay soft, and the search can still trade choices, until it is on budget."""
        return self._held(self.schedule_radius())

    def arch_lr_factor(self) -> float:
        """The architecture step sizes' factor, cosine-annealed from 1 to 0.3 between the
        warm-up and the end: late steps flip fewer near-tied choices."""
        start = self.cfg.warmup_fraction
        t = min(1.0, max(0.0, (self.fraction() - start) / max(1.0 - start, 1e-9)))
        return cosine_lr(t, 1.0, 0.3)

    def relaxed(self) -> RelaxedWeights:
        return self.arch.relaxed(self.cfg.relaxation, self.radius(), self.cfg.straight_through,
                                 self.network_radius())

    # -- steps ----------------------------------------------------------------------------------
    def _weight_step(self) -> float:
        lr_img, hr_img = (t.to(self.cfg.device) for t in self.w_sampler.sample(self.cfg.batch_size))
        for group in self.w_opt.param_groups:
            group["lr"] = cosine_lr(self.fraction(), self.cfg.lr, self.cfg.lr * 0.1)
        with torch.no_grad():
            w = self.frozen_weights()
        loss = F.l1_loss(self.net(lr_img, w), hr_img)
        self.w_opt.zero_grad(set_to_none=True)
        loss.backward()
        self.w_opt.step()
        return float(loss.item())

    def expected(self, w: RelaxedWeights) -> dict[str, torch.Tensor]:
        return {"latency_ms": self.latency.expected(w),
                "params_m": self.params_cost.expected(w) / 1e6,
                "mult_adds_g": self.madds_cost.expected(w) / 1e9}

    def _arch_step(self) -> dict[str, float]:
        """Task and constraint gradients on the logits, taken apart and combined with the
        penalty scaled to the task (:meth:`BudgetPenalty.combine`), then one Adam step and one
        dual step."""
        lr_img, hr_img = (t.to(self.cfg.device) for t in self.a_sampler.sample(self.cfg.batch_size))
        params = list(self.arch.parameters())
        w = self.relaxed()
        exp = self.expected(w)
        ctx = self.net.no_sync() if self.dist.enabled else torch.enable_grad()
        with ctx:
            task = F.l1_loss(self.net(lr_img, w), hr_img)
            extra = (self.cfg.param_weight * exp["params_m"]
                     + self.cfg.mult_add_weight * exp["mult_adds_g"])
            g_task = torch.autograd.grad(task + extra, params, retain_graph=True,
                                         allow_unused=True)
        excess = self.penalty.excess(exp["latency_ms"])
        g_con = torch.autograd.grad(excess, params, allow_unused=True)
        # Architecture logits live outside DDP: average their gradients over the ranks (zeros
        # where a rank's forward did not use a logit, so every rank reduces the same tensors).
        g_task = [D.all_mean(self.dist, torch.zeros_like(p) if g is None else g)
                  for p, g in zip(params, g_task, strict=True)]
        grads = self.penalty.combine(list(g_task), list(g_con), float(excess.detach()))
        for p, g in zip(params, grads, strict=True):
            p.grad = g
        for group in self.a_opt.param_groups:
            group["lr"] = group["base_lr"] * self.arch_lr_factor()
        self.a_opt.step()
        with torch.no_grad():  # a projected step: the depth stays a number of cells it can be
            self.arch.depth.clamp_(1.0, float(self.space.max_cells))
        expected_ms = float(exp["latency_ms"].detach())
        self.penalty.update(expected_ms)
        self.near_target = abs(float(excess.detach())) < self.cfg.hold_tolerance
        return {"task": float(task.item()), "expected_ms": expected_ms}

    def _maybe_freeze(self) -> None:
        """Freeze the architecture at the first one-hot derived network, from ``freeze_from``
        of the search on, that the table predicts inside the fit's window."""
        cfg = self.cfg
        if cfg.freeze_from is None or self.fraction() < cfg.freeze_from or self.radius() < 1.0:
            return
        choice = self.derive_choice()
        lo, hi = cfg.fit_window(self.lut.sigma)
        pred = self.predict_choice(choice)
        if lo * cfg.budget_ms <= pred <= hi * cfg.budget_ms:
            self.frozen_at = self.iteration + 1

    # -- records --------------------------------------------------------------------------------
    def validate(self) -> dict[str, Any]:
        """Scores of the supernet at the current relaxed weights (the trainer's validation)."""
        return validate(_FrozenSupernet(self.supernet, self.frozen_weights()), self.cfg)

    def checkpoint(self) -> None:
        self.checkpointed_at = self.iteration
        states = D.gather_objects(self.dist, [self.w_sampler.state(), self.a_sampler.state()])
        if self.dist.is_main:
            self.dir.path.mkdir(parents=True, exist_ok=True)
            with atomic_path(self.dir.checkpoint) as tmp:
                torch.save({
                    "supernet": self.supernet.state_dict(), "arch": self.arch.state_dict(),
                    "w_opt": self.w_opt.state_dict(), "a_opt": self.a_opt.state_dict(),
                    "iteration": self.iteration, "seconds": self.seconds,
                    "sampler_states": states, "penalty": self.penalty.state(),
                    "near_target": self.near_target, "frozen_at": self.frozen_at,
                    "trajectory": self.trajectory.state(), "history": self.history,
                }, tmp)
            write_json_atomic(self.dir.trajectory, self.trajectory.to_json(self.cfg.budget_ms))
        D.barrier(self.dist)

    def restore(self) -> None:
        try:
            ck = torch.load(self.dir.checkpoint, map_location=self.cfg.device, weights_only=True)
        except FileNotFoundError:
            raise UserError(f"{self.dir.checkpoint}: no search checkpoint to resume from") from None
        except Exception as exc:  # unpickling errors, truncated files
            raise UserError(f"{self.dir.checkpoint}: corrupt checkpoint ({type(exc).__name__}); "
                            "start a new run instead of --resume") from None
        self.supernet.load_state_dict(ck["supernet"])
        self.arch.load_state_dict(ck["arch"])
        self.w_opt.load_state_dict(ck["w_opt"])
        self.a_opt.load_state_dict(ck["a_opt"])
        self.iteration, self.seconds = int(ck["iteration"]), float(ck["seconds"])
        self.checkpointed_at = self.iteration
        self.penalty.load(ck["penalty"])
        self.near_target = bool(ck.get("near_target", False))
        self.frozen_at = ck.get("frozen_at")
        self.trajectory.load(ck["trajectory"])
        self.history = list(ck["history"])
        states = ck["sampler_states"]
        if len(states) == self.dist.world_size:
            self.w_sampler.set_state(states[self.dist.rank][0])
            self.a_sampler.set_state(states[self.dist.rank][1])

    # -- loop -----------------------------------------------------------------------------------
    def search(self) -> Any:
        """Run the supernet phase to the end of its budget; return the derived choice."""
        cfg, main = self.cfg, self.dist.is_main
        record_every = max(1, (cfg.search_iters or 2000) // 200)
        shown: dict[str, Any] = {"val_psnr": None, "arch": None}

        def step() -> float:
            loss = self._weight_step()
            shown["arch"] = None
            if self.fraction() >= cfg.warmup_fraction and self.frozen_at is None:
                shown["arch"] = self._arch_step()
                self._maybe_freeze()
            return loss

        def after_step(loss: float, bar) -> None:
            if self.iteration % record_every == 0 or self.iteration == 1:
                self._record(loss, shown["arch"])
            if self.iteration % cfg.val_every == 0:
                shown["val_psnr"] = self._validate_and_checkpoint(loss) or shown["val_psnr"]
            if self.iteration % 5 == 0 and main:
                with torch.no_grad():
                    pred = float(self.latency.expected(self.relaxed()))
                post = {"pred_ms": f"{pred:.1f}", "lam": f"{self.penalty.lam:.2f}",
                        "r": f"{self.radius():.2f}", "loss": f"{loss:.4f}"}
                if shown["val_psnr"] is not None:
                    post["val_psnr"] = f"{shown['val_psnr']:.2f}"
                bar.set_postfix(post)

        self.supernet.train()
        run_budgeted(self, step, after_step, desc=f"search {cfg.budget_ms:g} ms",
                     progress=self.progress, run=self.run_path, resume=self.resume_command)
        self._record(float("nan"), None)
        if self.checkpointed_at != self.iteration:
            self._validate_and_checkpoint(float("nan"))
        return self.derive_choice()

    def _record(self, loss: float, arch_info: dict[str, float] | None) -> None:
        with torch.no_grad():
            w = self.relaxed()
            exp = {k: float(v) for k, v in self.expected(w).items()}
        self.trajectory.add(self.iteration, self.radius(), self.penalty.lam, loss, exp, w)

    def _validate_and_checkpoint(self, loss: float) -> float | None:
        val = self.validate() if self.dist.is_main else None
        psnr = None
        if val is not None:
            psnr = next(iter(val.values()))["psnr_y"]
            with torch.no_grad():
                pred = float(self.latency.expected(self.relaxed()))
            self.history.append({"iteration": self.iteration, "seconds": round(self.seconds, 2),
                                 "loss": loss, "expected_ms": pred, "lam": self.penalty.lam,
                                 "radius": self.radius(), "val": val})
        self.checkpoint()
        return psnr
