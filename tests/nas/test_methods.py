"""One typed registry of search methods: every relaxation and the mixed-path search."""

import pytest

from tnas_pipeline.errors import UserError
from tnas_pipeline.latency.resolve import resolve_profile
from tnas_pipeline.nas.config import SearchConfig
from tnas_pipeline.nas.methods import MIXED_PATH, SEARCH_METHODS
from tnas_pipeline.nas.mixed_path_searcher import MixedPathSearcher
from tnas_pipeline.nas.relaxations import RELAXATIONS
from tnas_pipeline.nas.run import run_search
from tnas_pipeline.nas.searcher import Searcher


def test_every_relaxation_and_the_mixed_path_search_is_a_method():
    assert set(SEARCH_METHODS.names()) == {*RELAXATIONS.names(), MIXED_PATH}
    for name in RELAXATIONS.names():
        m = SEARCH_METHODS.get(name)
        assert m.searcher is Searcher and m.space == "default" and m.evolvable
    mixed = SEARCH_METHODS.get(MIXED_PATH)
    assert mixed.searcher is MixedPathSearcher and mixed.space == "mixed"
    assert not mixed.evolvable


def test_an_unknown_method_is_one_line_before_anything_is_written(tmp_path):
    cfg = SearchConfig(budget_ms=10, lut="x", relaxation="gumbel", iters=10)
    with pytest.raises(UserError, match="unknown search method 'gumbel'; known: "):
        run_search(cfg, resolve_profile("cpu"), tmp_path / "run")
    assert not (tmp_path / "run").exists()
