"""The search searches: planted-signal tasks, expected latency against enumeration, and the
derived latency landing on the budget (issue 16).

The planted tasks run the real :class:`Searcher` (supernet, relaxation, augmented-Lagrangian
penalty, radius schedule, freeze) on data whose answer is known: high-resolution targets made by a
fixed random "teacher" network from random low-resolution inputs, and a latency table whose costs
are planted. Every planted task must pick the right choice in at least 4 of 5 seeds.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import tnas_pipeline.nas.searcher as searcher_module
from tnas_pipeline.nas.config import SearchConfig
from tnas_pipeline.nas.latency_term import CostTables
from tnas_pipeline.nas.searcher import Searcher
from tnas_pipeline.nas.supernet import ArchParams
from tnas_pipeline.networks.architecture import Architecture
from tnas_pipeline.networks.builder import anchor
from tnas_pipeline.networks.ops import OPS
from tnas_pipeline.search_space import SearchSpace


@dataclass
class PlantedTable:
    """What the searcher reads of a latency table, with planted costs (exact: no model error)."""

    space: SearchSpace
    costs: CostTables
    sigma: float = 0.0
    output_size: tuple[int, int] = (32, 32)
    path: None = None

    def predict_ms(self, arch: Architecture) -> float:
        cells = [[(layer.op, layer.width) for layer in cell.ops] for cell in arch.cells]
        return self.costs.discrete(cells, arch.upsampler.kernel, self.space)

    def describe(self) -> str:
        return "planted costs"


class PlantedSampler:
    """Random LR patches and the teacher's HR targets (the global skip plus its residual)."""

    def __init__(self, teacher: nn.Module, seed: int, size: int = 12) -> None:
        self.teacher, self.size = teacher, size
        self.gen = torch.Generator().manual_seed(seed)

    def sample(self, batch: int) -> tuple[torch.Tensor, torch.Tensor]:
        lr = torch.rand(batch, 3, self.size, self.size, generator=self.gen)
        with torch.no_grad():
            hr = F.pixel_shuffle(anchor(lr, 2) + self.teacher(lr), 2)
        return lr, hr

    def state(self) -> dict:
        return {}

    def set_state(self, state: dict) -> None:
        pass


def teacher_network() -> nn.Module:
    """Three 3×3 convolutions with ReLUs (receptive field 7): a residual that needs spatial
    context twice over, which a 1×1 block cannot supply."""
    torch.manual_seed(1234)
    net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(),
                        nn.Conv2d(8, 8, 3, padding=1), nn.ReLU(),
                        nn.Conv2d(8, 12, 3, padding=1))
    with torch.no_grad():
        for p in net.parameters():
            p.mul_(1.5)
    return net


def planted_search(space: SearchSpace, costs: CostTables, budget: float, seed: int,
                   image_folder, tmp_path, monkeypatch, search_iters: int = 160) -> tuple:
    """Run the searcher on the planted task; the derived choice and its planted cost."""
    table = PlantedTable(space, costs)
    monkeypatch.setattr(searcher_module, "latency_costs", lambda lut, sp: costs)
    cfg = SearchConfig(budget_ms=budget, lut="planted", scale=2,
                       train_data=[str(image_folder)], val_data=[str(image_folder)],
                       iters=2 * search_iters, search_fraction=0.5, seed=seed, batch_size=8,
                       patch_size=16, arch_lr=3e-3, val_every=10**9, threads=1)
    s = Searcher(cfg, table, tmp_path / f"run-{seed}", progress=False)
    teacher = teacher_network()
    s.w_sampler, s.a_sampler = PlantedSampler(teacher, seed), PlantedSampler(teacher, seed + 99)
    choice = s.search()
    return choice, s.predict_choice(choice)


def flat_costs(space: SearchSpace, op_ms: dict[str, list[float]], fixed: float = 1.0,
               upsampler: float = 1.0) -> CostTables:
    return CostTables(fixed=fixed,
                      upsampler=torch.full((len(space.upsampler_kernels),), upsampler,
                                           dtype=torch.float64),
                      op=torch.tensor([op_ms[o] for o in space.ops], dtype=torch.float64))


def test_the_better_op_at_equal_cost_is_found(image_folder, tmp_path, monkeypatch):
    """resblock3x3 and resblock1x1 cost the same here; the teacher needs spatial context, so the
    search must pick the 3×3 block."""
    space = SearchSpace(ops=("resblock3x3", "resblock1x1"), widths=(8,), max_cells=1,
                        edges_per_cell=1, upsampler_kernels=(3,), channels=8)
    costs = flat_costs(space, {"resblock3x3": [1.0], "resblock1x1": [1.0]})
    picks = [planted_search(space, costs, 3.0 / 0.95, seed, image_folder, tmp_path,
                            monkeypatch)[0].cells[0][0][0] for seed in range(5)]
    assert picks.count("resblock3x3") >= 4, picks


def test_of_two_equal_ops_the_cheaper_is_found(image_folder, tmp_path, monkeypatch):
    """Two copies of one block, one planted at twice the cost: within the budget only the cheap
    one can be wide, so the search must pick it (and its wide width)."""
    monkeypatch.setitem(OPS._items, "resblock3x3_twin", OPS.get("resblock3x3"))
    space = SearchSpace(ops=("resblock3x3_twin", "resblock3x3"), widths=(2, 8), max_cells=1,
                        edges_per_cell=1, upsampler_kernels=(3,), channels=8)
    costs = flat_costs(space, {"resblock3x3_twin": [2.0, 8.0], "resblock3x3": [1.0, 4.0]})
    picks = [planted_search(space, costs, 6.0 / 0.95, seed, image_folder, tmp_path,
                            monkeypatch)[0].cells[0][0] for seed in range(5)]
    assert picks.count(("resblock3x3", 8)) >= 4, picks


def test_the_derived_latency_lands_on_the_budget(image_folder, tmp_path, monkeypatch):
    """A space of 3 cells × 2 edges × 2 ops × 3 widths with costs growing with width: the
    derived network's (planted, exact) cost lands in [0.85, 1.0] × budget, before any fit."""
    space = SearchSpace(ops=("resblock3x3", "resblock1x1"), widths=(4, 8, 16), max_cells=3,
                        edges_per_cell=2, upsampler_kernels=(1, 3), channels=8)
    costs = flat_costs(space, {"resblock3x3": [2.0, 3.0, 5.0], "resblock1x1": [1.0, 1.5, 2.5]},
                       fixed=2.0)
    costs.upsampler = torch.tensor([[0.5, 1.5]], dtype=torch.float64)  # one trunk
    budget = 20.0  # the smallest network costs 4.5, the largest 33.5
    for seed in range(2):
        _, cost = planted_search(space, costs, budget, seed, image_folder, tmp_path, monkeypatch,
                                 search_iters=240)
        assert 0.85 * budget <= cost <= budget, (seed, cost)


def test_expected_latency_equals_the_enumerated_mean():
    """For weights that are not one-hot, E[T] under the relaxed weights is the probability-
    weighted mean of every discrete network's cost (independent choices per level)."""
    space = SearchSpace(ops=("resblock3x3", "invres3x3"), widths=(4, 8), max_cells=2,
                        edges_per_cell=1, upsampler_kernels=(1, 3), channels=8)
    gen = torch.Generator().manual_seed(0)
    costs = CostTables(fixed=3.0, upsampler=torch.tensor([0.7, 2.1], dtype=torch.float64),
                       op=torch.rand(2, 2, generator=gen, dtype=torch.float64) * 10,
                       a=1.1, b=0.4)
    params = ArchParams(space)
    with torch.no_grad():
        for p in (params.upsampler, params.ops, params.widths):
            p.normal_(0, 1, generator=gen)
        params.depth.fill_(1.4)
    w = params.relaxed("softmax", 0.0)
    assert not torch.all((w.ops == 0) | (w.ops == 1))
    expected = float(costs.expected(w).detach())
    edges = list(itertools.product(range(len(space.ops)), range(len(space.widths))))
    total = 0.0
    for d in range(space.max_cells):
        for k, kernel in enumerate(space.upsampler_kernels):
            for chosen in itertools.product(edges, repeat=d + 1):
                prob = float(w.depth[d]) * float(w.upsampler[k])
                cells = []
                for n, (o, wi) in enumerate(chosen):
                    prob *= float(w.ops[n, 0, o]) * float(w.widths[n, 0, o, wi])
                    cells.append([(space.ops[o], space.widths[wi])])
                total += prob * costs.discrete(cells, kernel, space)
    assert expected == pytest.approx(total, rel=1e-6)  # float32 weights
