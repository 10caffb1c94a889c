"""Search methods by name (``--relaxation``): one typed registry for every relaxation of the
trilevel single-path supernet and for the mixed-path sparse-group-lasso search.

A method says which search space's latency table it searches, which class runs it, and whether
search-space evolution (NSE) can drive it; callers look the method up instead of comparing names.
It sits above the searchers (they never import it), so a configuration names its method and
:func:`tnas_pipeline.nas.run.run_search` looks it up before anything is written.
"""

from __future__ import annotations

from dataclasses import dataclass

from tnas_pipeline.nas.mixed_path_searcher import MIXED_PATH, MixedPathSearcher
from tnas_pipeline.nas.relaxations import RELAXATIONS
from tnas_pipeline.nas.searcher import Searcher
from tnas_pipeline.registry import Registry


@dataclass(frozen=True)
class SearchMethod:
    """How ``--relaxation NAME`` searches."""

    name: str
    space: str                      # the space (pipeline.search_space.SPACES) of its tables
    searcher: type                  # the class that runs it
    evolvable: bool                 # whether --evolve-rounds can drive it
    summary: str


SEARCH_METHODS: Registry[SearchMethod] = Registry("search method")
for _name in RELAXATIONS.names():
    SEARCH_METHODS.add(_name, SearchMethod(
        _name, "default", Searcher, evolvable=True,
        summary=f"trilevel single-path supernet, architecture weights by {_name}"))
SEARCH_METHODS.add(MIXED_PATH, SearchMethod(
    MIXED_PATH, "mixed", MixedPathSearcher, evolvable=False,
    summary="mixed-path supernet, sparse-group-lasso proximal search, folded branches"))
