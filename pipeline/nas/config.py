"""The search configuration, saved in ``RUN/search/config.json`` so that ``--resume`` continues."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

from tnas_pipeline.errors import UserError
from tnas_pipeline.nas.latency_term import BudgetPenalty
from tnas_pipeline.training.config import check_budget


@dataclass
class SearchConfig:
    """What a search run does. The budget (``iters`` or ``minutes``) covers search *and*
    fine-tuning; ``search_fraction`` of it goes to the supernet."""

    budget_ms: float
    lut: str                               # path of the latency table
    scale: int = 2
    relaxation: str = "sparsestmax"
    penalty: str = "augmented"
    # Initial multiplier of the budget penalty. The penalty is scaled to the task gradient, so
    # the multiplier that balances the task's pull is of order one; starting there, instead of
    # at zero, keeps the dual variable from winding up while the latency first comes down.
    lam: float = 0.2
    # Its dual-ascent step and the augmented Lagrangian's quadratic weight μ. Both are in units
    # of the task gradient (the penalty is scaled to it), so λ = 1 pulls as hard as the task.
    lam_step: float = 0.05
    rho: float = 10.0
    # Where the search aims the expected latency (× budget); None: the middle of the window the
    # fit accepts, so the derived network needs no fit.
    aim: float | None = None
    # Start the depth where the expected latency meets the target (Searcher._start_at_target).
    start_at_target: bool = True
    # Backpropagate straight through sparsestmax's push (its exact Jacobian dies on a vertex).
    straight_through: bool = True
    # The radius stays at or under radius_hold while |E/target − 1| ≥ hold_tolerance, until
    # hold_until of the search; after that it follows the schedule to 1 (one-hot).
    radius_hold: float = 0.9
    # From this fraction of the search, on one-hot weights, the architecture freezes at the first
    # derived network the table predicts inside the fit's window; the rest of the search trains
    # exactly that network (so the fit has nothing to do, and the network fine-tuned is the one
    # the supernet trained last). None: never freeze.
    freeze_from: float | None = 0.8
    hold_tolerance: float = 0.05
    hold_until: float = 0.9
    param_weight: float = 0.0              # extra terms: weight × E[params] / 1e6 …
    mult_add_weight: float = 0.0           # … and weight × E[Mult-Adds] / 1e9
    train_data: list[str] = field(default_factory=list)
    val_data: list[str] = field(default_factory=list)
    iters: int | None = None
    minutes: float | None = None
    search_fraction: float = 0.4
    warmup_fraction: float = 0.15          # first part of the search: weights only
    radius_end_fraction: float = 0.8       # sparsestmax radius reaches 1 here (linear from 0)
    # … and at the network level (depth, upsampler) here: its choices are the coarsest (a cell is
    # a large share of the latency), so they settle first and the finer cell and kernel levels
    # trim the latency to the budget after them, as sequential decisions in SGAS (Li et al.,
    # CVPR 2020).
    network_end_fraction: float = 0.55
    batch_size: int = 8                    # search batches (per process); each step also
    patch_size: int = 48                   # draws one architecture batch
    lr: float = 2e-3                       # network weights (Adam, cosine)
    # Architecture logits (Adam, betas 0.5/0.999 as DARTS), cosine-annealed to 30 % over the
    # search. At 1e-3 the logits crossed their gaps too slowly to follow the budget's pull late
    # in the search (bench/search_landing.py); the freeze, not a tiny step, ends the chatter.
    arch_lr: float = 3e-3
    # The depth's step, in cells (annealed alike): 0.02 crosses the six cells in 250 steps.
    depth_lr: float = 0.02
    finetune_batch_size: int = 16
    finetune_patch_size: int = 72
    # Mixed-path search (--relaxation sparse-group-lasso): the accelerated proximal step on the
    # free branch weights, the sparse-group-lasso strengths (leaves, edges, cells) and the dual
    # step of the latency multiplier. λ is dimensionless (each branch is charged
    # λ · ḡ · T_branch / T̄: the running mean task gradient on α times its relative cost), so
    # λ ≈ 1 is where a branch of mean cost starts to lose. At 0.5 per step (λ in ms/budget
    # units) every branch was cut within 20 steps of the first bench run; 0.01 lets λ climb
    # over some hundred steps and the kept network follow it.
    sgl_lr: float = 0.05
    apg_momentum: float = 0.9
    sgl_l1: float = 1e-3
    sgl_edge: float = 1e-3
    sgl_cell: float = 1e-3
    sgl_lam_step: float = 0.01
    # The ops the supernet holds: None, every op of the table's space; else a subset of them.
    ops: list[str] | None = None
    # Search-space evolution (NSE, Ci et al. 2021): rounds over an op pool larger than one
    # supernet, each searching `evolve_active` ops and replacing the `evolve_drop` lowest ranked
    # (by their cell-level weight, or by ABS angle) with ops drawn from the pool's rest.
    evolve_rounds: int = 1
    evolve_active: int = 4
    evolve_drop: int = 2
    evolve_criterion: str = "weight"
    # Fit into [0.9, 1 − headroom] × budget; None: the window the table's model uncertainty
    # leaves (pipeline.search.budget.prediction_window).
    headroom: float | None = None
    check_on_device: bool = False          # time the fitted network here and refit by it
    val_every: int = 100
    seed: int = 0
    device: str = "cpu"
    threads: int | None = None

    def __post_init__(self) -> None:
        check_budget(self.iters, self.minutes, min_iters=2, why=" (search and fine-tuning)")
        if self.penalty not in BudgetPenalty.KINDS:
            raise UserError(f"unknown --penalty {self.penalty!r}; known: "
                            f"{', '.join(BudgetPenalty.KINDS)}")
        if not 0.0 < self.search_fraction < 1.0:
            raise UserError("--search-fraction must be between 0 and 1")
        if self.evolve_rounds < 1 or self.evolve_active < 2 or \
                not 1 <= self.evolve_drop < self.evolve_active:
            raise UserError("--evolve-rounds must be ≥ 1, and 1 ≤ --evolve-drop < "
                            "--evolve-active (at least 2 ops per round)")
        if self.evolve_criterion not in ("weight", "abs"):
            raise UserError(f"unknown --evolve-criterion {self.evolve_criterion!r}; use weight "
                            "or abs")
        if self.aim is not None and not 0.5 <= self.aim <= 1.0:
            raise UserError("--aim must be in [0.5, 1]: a fraction of the latency budget")
        if self.headroom is not None and not 0.0 <= self.headroom < 0.1:
            raise UserError("--headroom must be in [0, 0.1): the fit window is [0.9, 1 - headroom]")

    def fit_window(self, model_sigma: float) -> tuple[float, float]:
        """Where the fit puts the prediction (× budget): ``[0.9, 1 − headroom]`` when a headroom
        is fixed, else the window the table's model uncertainty leaves for the measurement to
        land in ``[0.9, 1.0]`` (:func:`tnas_pipeline.nas.budget.prediction_window`)."""
        from tnas_pipeline.nas.budget import prediction_window

        if self.headroom is not None:
            return 0.9, 1.0 - self.headroom
        return prediction_window(model_sigma)

    def target_fraction(self, model_sigma: float) -> float:
        """Where the search aims the expected latency (× budget): ``aim``, or the middle of
        :meth:`fit_window`."""
        if self.aim is not None:
            return self.aim
        lo, hi = self.fit_window(model_sigma)
        return (lo + hi) / 2.0

    @property
    def search_iters(self) -> int | None:
        return None if self.iters is None else max(1, round(self.iters * self.search_fraction))

    @property
    def search_minutes(self) -> float | None:
        return None if self.minutes is None else self.minutes * self.search_fraction

    @property
    def finetune_iters(self) -> int | None:
        return None if self.iters is None else max(1, self.iters - self.search_iters)

    @property
    def finetune_minutes(self) -> float | None:
        return None if self.minutes is None else self.minutes - self.search_minutes

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SearchConfig:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})
