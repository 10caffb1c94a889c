"""Search methods by name (``--relaxation``): one typed registry for every relaxation of the
trilevel single-path supernet and for the mixed-path sparse-group-lasso search.

A method says which search space's latency table it searches, which class runs it, and whether
search-space evolution (NSE) can drive it; callers look the method up instead of comparing names.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from tnas_pipeline.registry import Registry
from tnas_pipeline.search.relaxations import RELAXATIONS

MIXED_PATH = "sparse-group-lasso"  # the mixed-path search (Sparse Supernet, Wu et al. AAAI 2021)


@dataclass(frozen=True)
class SearchMethod:
    """How ``--relaxation NAME`` searches."""

    name: str
    space: str                      # the space (pipeline.search_space.SPACES) of its tables
    searcher: Callable[[], type]    # the class that runs it (imported when first used)
    evolvable: bool                 # whether --evolve-rounds can drive it
    summary: str


def _single_path() -> type:
    from tnas_pipeline.search.searcher import Searcher

    return Searcher


def _mixed_path() -> type:
    from tnas_pipeline.search.mixed_path_searcher import MixedPathSearcher

    return MixedPathSearcher


SEARCH_METHODS: Registry[SearchMethod] = Registry("search method")
for _name in RELAXATIONS.names():
    SEARCH_METHODS.add(_name, SearchMethod(
        _name, "default", _single_path, evolvable=True,
        summary=f"trilevel single-path supernet, architecture weights by {_name}"))
SEARCH_METHODS.add(MIXED_PATH, SearchMethod(
    MIXED_PATH, "mixed", _mixed_path, evolvable=False,
    summary="mixed-path supernet, sparse-group-lasso proximal search, folded branches"))
