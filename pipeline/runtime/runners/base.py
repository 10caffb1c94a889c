"""The interface every runner implements (after Polygraphy's ``BaseRunner``)."""

from __future__ import annotations

import abc
from collections.abc import Mapping

import numpy as np


class Runner(abc.ABC):
    """Runs one model on host arrays; use as ``with runner: runner.infer(feed)``.

    Subclasses load their model in :meth:`activate` and free it in :meth:`deactivate`, so that
    constructing a runner is cheap and touches no GPU.
    """

    name: str = ""
    input_names: list[str]
    output_names: list[str]

    def __init__(self, name: str) -> None:
        self.name = name
        self.is_active = False
        self.input_names, self.output_names = [], []

    def __enter__(self) -> Runner:
        if self.is_active:
            raise RuntimeError(f"runner {self.name!r} is already active")
        self.activate()
        self.is_active = True
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self.deactivate()
        finally:
            self.is_active = False

    @abc.abstractmethod
    def activate(self) -> None:
        """Load the model; set ``input_names`` and ``output_names``."""

    @abc.abstractmethod
    def deactivate(self) -> None:
        """Free what :meth:`activate` loaded."""

    @abc.abstractmethod
    def infer(self, feed: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Run once; ``feed`` maps every input name to a host array. Returns host arrays."""

    def require_active(self) -> None:
        if not self.is_active:
            raise RuntimeError(f"runner {self.name!r} is not active; use it as `with runner:`")

    def check_feed(self, feed: Mapping[str, np.ndarray]) -> None:
        if set(feed) != set(self.input_names):
            raise ValueError(f"feed has {sorted(feed)}; {self.name}'s inputs are "
                             f"{self.input_names}")
