"""The loop the trainer and the searcher share: budgets, and interrupts that name the command
which continues the work."""

from pathlib import Path

import pytest

from tnas_pipeline.training import distributed as D
from tnas_pipeline.training.budgeted_loop import TrainingInterrupted, fraction, run_budgeted


class Owner:
    def __init__(self, iters=None, seconds=None, stop_at=None):
        self.dist = D.DistInfo(rank=0, world_size=1, local_rank=0)
        self.iteration, self.checkpointed_at, self.stop_requested = 0, -1, False
        self.iters, self.seconds, self.spent, self.stop_at = iters, seconds, 0.0, stop_at
        self.checkpoints = 0

    def budget(self):
        return self.iters, self.seconds

    def spent_seconds(self):
        return self.spent

    def add_seconds(self, dt):
        self.spent += dt

    def checkpoint(self):
        self.checkpoints += 1
        self.checkpointed_at = self.iteration


def test_an_iteration_budget_runs_exactly_its_steps():
    o = Owner(iters=7)
    seen = []
    run_budgeted(o, lambda: 0.5, lambda loss, bar: seen.append(o.iteration), desc="t",
                 progress=False, run=Path("r"), resume="train")
    assert o.iteration == 7 and seen == list(range(1, 8)) and fraction(o) == 1.0


@pytest.mark.parametrize("command", ["train", "search", "run"])
def test_an_interrupt_checkpoints_and_names_the_command_that_resumes(command):
    o = Owner(iters=100)

    def step():
        if o.iteration == 3:
            o.stop_requested = True
        return 0.1

    with pytest.raises(TrainingInterrupted) as info:
        run_budgeted(o, step, lambda loss, bar: None, desc="t", progress=False, run=Path("out"),
                     resume=command)
    assert o.iteration == 4 and o.checkpoints == 1
    assert f"tnas-pipeline {command} --resume -o out" in str(info.value)
