"""Fitting a derived network to the budget, and parsing and checking budgets."""

import numpy as np
import pytest

from tests.nas.conftest import random_cells
from tnas_pipeline.errors import UserError
from tnas_pipeline.latency.resolve import resolve_profile
from tnas_pipeline.nas.budget import check_reachable, parse_latency_budget
from tnas_pipeline.nas.derive import Choice
from tnas_pipeline.nas.fit import fit_to_budget
from tnas_pipeline.nas.supernet import ArchParams


@pytest.fixture(scope="module")
def lut():
    return resolve_profile("cpu")


def model_of(lut):
    """The fit's ``predict``: the table's model of a choice, in ms."""
    return lambda c: lut.predict_ms(c.architecture(lut.space))


@pytest.mark.parametrize("text,ms", [("30ms", 30.0), ("30 ms", 30.0), ("0.03s", 30.0),
                                     (" 2.5ms ", 2.5), ("1500us", 1.5)])
def test_budget_accepted(text, ms):
    assert parse_latency_budget(text) == pytest.approx(ms)


@pytest.mark.parametrize("text,fragment", [("30", "no unit"), ("-5ms", "negative"),
                                           ("fast", "not a time"), ("0ms", "more than zero"),
                                           ("", "not a time")])
def test_budget_refused(text, fragment):
    with pytest.raises(UserError, match=fragment):
        parse_latency_budget(text)


def test_budget_checked_against_reachable_range(lut):
    lo, hi = lut.reachable_range()
    assert check_reachable(100.0, lut) == (lo, hi)
    with pytest.raises(UserError, match="below the fastest"):
        check_reachable(lo * 0.5, lut)
    with pytest.raises(UserError, match="above"):
        check_reachable(hi * 1.5, lut)


# Budgets as multiples of the fastest network the table predicts, so that a re-profiled table
# (whose fastest network moves by a few ms) keeps every window reachable.
@pytest.mark.parametrize("factor", [1.3, 2.5, 5.0, 10.0, 20.0])
@pytest.mark.parametrize("seed", range(3))
def test_fit_lands_in_the_window(lut, factor, seed):
    space = lut.space
    budget = factor * lut.reachable_range()[0]
    rng = np.random.default_rng(seed)
    start = Choice(int(rng.integers(1, space.max_cells + 1)),
                   tuple(tuple(c) for c in random_cells(space, rng)), 3)
    params = ArchParams(space)
    res = fit_to_budget(start, params, model_of(lut), space, budget, lo=0.9, hi=0.97)
    assert res.in_window, res.reason
    assert 0.9 * budget <= res.predicted_ms <= 0.97 * budget
    assert res.predicted_ms == pytest.approx(lut.predict_ms(res.choice.architecture(space)))


def test_fit_keeps_a_network_already_in_the_window(lut):
    space = lut.space
    start = Choice(2, tuple((("invres3x3", 32),) * 2 for _ in range(space.max_cells)), 1)
    pred = lut.predict_ms(start.architecture(space))
    res = fit_to_budget(start, ArchParams(space), model_of(lut), space, pred / 0.95)
    assert res.in_window and res.moves == [] and res.choice == start


def test_fit_removes_what_the_search_valued_least(lut):
    space = lut.space
    params = ArchParams(space)
    # The search strongly preferred cell 0's ops to be wide; it did not care about cell 1's.
    params.widths.data[0, :, :, -1] = 5.0
    params.ops.data[0, :, 0] = 5.0
    wide = tuple((("resblock3x3", 64),) * 2 for _ in range(space.max_cells))
    start = Choice(2, wide, 3)
    budget = 0.85 * lut.predict_ms(start.architecture(space))
    res = fit_to_budget(start, params, model_of(lut), space, budget)
    assert res.in_window
    assert res.choice.cells[0] == wide[0]  # the valued cell is untouched


def test_fit_says_why_when_impossible(lut):
    space = lut.space
    start = Choice(1, tuple((("invres3x3", 16),) * 2 for _ in range(space.max_cells)), 1)
    res = fit_to_budget(start, ArchParams(space), model_of(lut), space,
                        0.5 * lut.reachable_range()[0])
    assert not res.in_window and "no sequence" in res.reason


@pytest.mark.parametrize(("sigma", "window"), [(0.0, (0.9, 1.0)), (0.02, (0.9 / 0.98, 1 / 1.02)),
                                               (0.2, (0.94, 0.96))])
def test_the_prediction_window_keeps_the_model_uncertainty_inside_the_budget(sigma, window):
    from tnas_pipeline.nas.budget import prediction_window

    lo, hi = prediction_window(sigma)
    assert (lo, hi) == pytest.approx(window)
    if sigma < 0.05:  # one σ either side of a prediction in the window stays in [0.9, 1.0]
        assert lo * (1 - sigma) == pytest.approx(0.9) and hi * (1 + sigma) == pytest.approx(1.0)
